"""Benchmark: bulk import of whitelist emails for one tenant — check, save, push (issue 5).

    .venv/bin/python bench/routing_import.py [--emails 10000] [--database-url URL]

Uses a fresh SQLite database in a temporary directory unless `--database-url` names a scratch
database (its tables are created, and the data it writes is left there), and a sandbox apiserver
on a free loopback port. Prints the time of each step; the issue asks for check + save of
10,000 emails in under 2 seconds, and the push to go in batches the sandbox accepts.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--latency-ms", type=int, default=0, help="sandbox latency per call")
    return parser.parse_args()


def setup_django(database_url: str) -> None:
    tmp = tempfile.mkdtemp(prefix="bench-routing-")
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{tmp}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    os.environ.setdefault("CONSOLE_ADMIN_PASSWORD_BCRYPT", "$2b$04$" + "x" * 53)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def csv_text(count: int, run: str) -> str:
    lines = ["email,is_admin"]
    for i in range(count):
        # A realistic mix: many domains, one admin in fifty, some upper case and spaces.
        email = f" User{i:06d}.{run}@Dept{i % 97}.Example.COM "
        lines.append(f"{email},{'true' if i % 50 == 0 else 'false'}")
    return "\n".join(lines) + "\n"


def main() -> int:
    args = parse_args()
    setup_django(args.database_url)

    from django.conf import settings
    from django.db import connection, reset_queries

    from console.apiserver import client_from_settings
    from sandbox import SandboxServer
    from sso.models import WhitelistEntry
    from sso.routing.csv_import import import_check, import_draft, import_save
    from sso.routing.push import push_batch_size, routing_push
    from tenants.models import Tenant, TenantAdmin

    run = str(int(time.time()))
    server = SandboxServer(latency_ms=args.latency_ms).start()
    try:
        settings.CLEARML_API_URL = server.url
        settings.CLEARML_API_KEY = server.key
        settings.CLEARML_API_SECRET = server.secret
        client = client_from_settings()
        company = client.call("system.create_company", {"name": f"Bench {run}"})["id"]
        user = client.call(
            "auth.create_user",
            {"name": "Admin", "company": company, "email": f"admin-{run}@bench.example"},
        )["id"]
        tenant = Tenant.objects.create(name=f"Bench {run}", company_id=company)
        TenantAdmin.objects.create(
            tenant=tenant, name="Admin", email=f"admin-{run}@bench.example", user_id=user
        )
        # Another tenant with entries, so the conflict check has something to look through.
        other = Tenant.objects.create(name=f"Other {run}")
        WhitelistEntry.objects.bulk_create(
            WhitelistEntry(tenant=other, email=f"o{i}.{run}@other.example") for i in range(5000)
        )
        text = csv_text(args.emails, run)

        settings.DEBUG = True  # count queries
        reset_queries()
        started = time.perf_counter()
        check = import_check(tenant=tenant, text=text, role_mode="column")
        assert check.ok, check.errors[:3]
        draft = import_draft(
            tenant=tenant, check=check, actor="bench", source="bench.csv", role_mode="column"
        )
        checked = time.perf_counter()
        check_queries = len(connection.queries)
        reset_queries()
        change = import_save(draft=draft, actor="bench")
        saved = time.perf_counter()
        save_queries = len(connection.queries)
        settings.DEBUG = False
        assert len(change.whitelist_added) == args.emails

        calls_before = len(server.calls)
        result = routing_push(tenant=tenant, actor="bench", client=client)
        pushed = time.perf_counter()
        sent = server.requests[calls_before:]
        on_server = len(server.login_settings(company)["whitelist"])
    finally:
        server.close()

    batches = [len(r["body"].get("emails", [])) for r in sent if "whitelist" in r["endpoint"]]
    vendor = connection.vendor
    print(f"database: {vendor}; emails: {args.emails:,}; CSV: {len(text) / 1024:.0f} KiB")
    print(
        f"check (parse, normalise, conflicts, draft): {checked - started:.3f} s, "
        f"{check_queries} queries"
    )
    print(f"save (one transaction, bulk insert, audit): {saved - checked:.3f} s, {save_queries} q.")
    print(f"check + save: {saved - started:.3f} s (target < 2 s)")
    print(
        f"push: {pushed - saved:.3f} s, {len(result.applied)} calls in batches of at most "
        f"{push_batch_size()} ({', '.join(map(str, batches))}); {on_server:,} on the server"
    )
    return 0 if saved - started < 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
