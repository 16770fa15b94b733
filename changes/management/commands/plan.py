"""`manage.py plan SPEC`: every apiserver call `apply SPEC` would make, in order, and every
snippet change. Makes read calls only."""

from django.core.management.base import BaseCommand

from changes.spec.plan import plan_lines
from tenants.provisioning.engine import DEFAULT_CONCURRENCY

from ._spec_command import make_plan, read_spec, snippet_lines, warning_lines


class Command(BaseCommand):
    help = "Show every apiserver call `apply SPEC` would make and every snippet change."

    def add_arguments(self, parser):
        parser.add_argument("spec", metavar="SPEC", help="the SPEC file (YAML)")
        parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)

    def handle(self, *args, spec: str, concurrency: int, **options):
        model = read_spec(spec)
        for line in warning_lines(model):
            self.stderr.write(line)
        plan = make_plan(model, concurrency=max(1, concurrency), resolve_secrets=False)
        for line in plan_lines(plan):
            self.stdout.write(line)
        self.stdout.write("")
        for line in snippet_lines(plan):
            self.stdout.write(line)
