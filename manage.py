#!/usr/bin/env python
"""Django's command-line utility for the ClearML Tenant Console."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    from django.core.management import execute_from_command_line

    if len(sys.argv) > 1 and sys.argv[1] == "runserver":
        # Before the autoreloader forks, so parent and child share one password.
        from console.admin_password import ensure_admin_password

        ensure_admin_password()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
