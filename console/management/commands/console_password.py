"""`manage.py console_password [--prompt]`: an admin password and its bcrypt hash."""

import getpass

from django.core.management.base import BaseCommand, CommandError

from console.admin_password import hash_password, new_password

MIN_LENGTH = 12


class Command(BaseCommand):
    help = "Print a new random admin password and its bcrypt hash (or hash one typed at a prompt)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--prompt", action="store_true", help="hash a password typed at the prompt"
        )

    def handle(self, *args, prompt=False, **options):
        if prompt:
            try:
                password = getpass.getpass("Password: ")
                again = getpass.getpass("Again: ")
            except (EOFError, KeyboardInterrupt):
                raise CommandError("no password was typed", returncode=2) from None
            if password != again:
                raise CommandError("the two passwords differ", returncode=2)
            if len(password) < MIN_LENGTH:
                raise CommandError(
                    f"password: must be at least {MIN_LENGTH} characters", returncode=2
                )
            self.stdout.write(f"CONSOLE_ADMIN_PASSWORD_BCRYPT='{hash_password(password)}'")
            return
        password = new_password()
        self.stdout.write(f"Password: {password}")
        self.stdout.write(f"CONSOLE_ADMIN_PASSWORD_BCRYPT='{hash_password(password)}'")
