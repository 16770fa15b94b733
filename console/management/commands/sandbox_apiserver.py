"""`manage.py sandbox_apiserver`: a stand-in ClearML apiserver on loopback (the README)."""

from django.core.management.base import BaseCommand, CommandError

from sandbox import cli


class Command(BaseCommand):
    help = (
        "Run a stand-in ClearML apiserver on loopback, for trying the console without a "
        "ClearML server and for tests. Ctrl-C stops it."
    )
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        cli.add_arguments(parser)

    def handle(self, *args, **options):
        def write(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        try:
            cli.run(options, write, log_calls=options["verbosity"] >= 2)
        except cli.UsageError as exc:
            raise CommandError(str(exc), returncode=2) from None
        except cli.StartError as exc:
            raise CommandError(str(exc), returncode=1) from None
