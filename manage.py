#!/usr/bin/env python
"""Django's command-line utility for the ClearML Tenant Console."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SANDBOX_ENV = ROOT / "var" / "sandbox.env"


def use_sandbox_of_make_run() -> None:
    """With no apiserver configured (environment or .env), use the sandbox `make run` started:
    it writes its address and key to var/sandbox.env (0600) while it runs."""
    if os.environ.get("CLEARML_API_URL") or not SANDBOX_ENV.is_file():
        return
    dotenv = ROOT / ".env"
    if dotenv.is_file() and any(
        line.strip().startswith("CLEARML_API_URL=") for line in dotenv.read_text().splitlines()
    ):
        return
    for line in SANDBOX_ENV.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.startswith(("CLEARML_API_", "CLEARML_METERING_")):
            os.environ.setdefault(name, value)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    if len(sys.argv) > 1 and sys.argv[1] not in ("runserver", "sandbox_apiserver", "test"):
        use_sandbox_of_make_run()
    from django.core.management import execute_from_command_line

    if len(sys.argv) > 1 and sys.argv[1] == "runserver":
        # Before the autoreloader forks, so parent and child share one password.
        from console.admin_password import ensure_admin_password

        ensure_admin_password()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
