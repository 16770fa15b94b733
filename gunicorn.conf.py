"""gunicorn settings for the console; the start hook prints the admin password once."""

import gc
import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    # In the master, before workers fork, so every worker accepts the same password.
    from console.admin_password import ensure_admin_password

    ensure_admin_password()


def post_worker_init(worker):
    # The application is loaded (and its URLconf, which imports every view): move those
    # long-lived objects out of the garbage collector's sight, so the full collections a page
    # building thousands of rows triggers do not walk them again each time. This halved the
    # Tenants page at 10,000 tenants (bench/scale_pages.py).
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the views
    gc.freeze()
