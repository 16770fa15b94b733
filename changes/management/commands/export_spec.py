"""`manage.py export_spec`: the console's current desired state as a SPEC (YAML on stdout)."""

from django.core.management.base import BaseCommand

from changes.spec.export import export_spec_text


class Command(BaseCommand):
    help = "Print the console's current desired state as a SPEC."

    def handle(self, *args, **options):
        self.stdout.write(export_spec_text(), ending="")
