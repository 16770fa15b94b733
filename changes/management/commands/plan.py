"""`manage.py plan SPEC [--json] [--prune]`: every apiserver call `apply SPEC` would make, in
order, and every snippet change. Makes read calls only. The plan is recorded as a changeset
(status "planned"; the JSON API's POST /api/v1/plans takes the same path, changes.spec.recorded):
its id and content hash are printed, and `--json` prints it whole."""

import json

from django.core.management.base import BaseCommand, CommandError

from changes.spec.plan import PlanError, plan_lines
from changes.spec.recorded import plan_json, spec_plan
from console.audit import cli_actor
from console.validation import InvalidInput
from tenants.provisioning.engine import DEFAULT_CONCURRENCY

from ._spec_command import bad_input, read_spec, snippet_lines, warning_lines


class Command(BaseCommand):
    help = "Show every apiserver call `apply SPEC` would make and every snippet change."

    def add_arguments(self, parser):
        parser.add_argument("spec", metavar="SPEC", help="the SPEC file (YAML)")
        parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help='print {"id", "hash", "steps": [...]} instead of text',
        )
        parser.add_argument(
            "--refresh",
            action="store_true",
            help="read the apiserver now, even when the snapshot is fresh",
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="plan the removal of what the SPEC's sections no longer list",
        )

    def handle(self, *args, spec: str, concurrency: int, as_json: bool, prune: bool, **options):
        model = read_spec(spec)
        for line in warning_lines(model):
            self.stderr.write(line)
        try:
            planned = spec_plan(
                model,
                actor=cli_actor(),
                face="spec",
                prune=prune,
                concurrency=max(1, concurrency),
                refresh=bool(options.get("refresh")),
            )
        except InvalidInput as exc:
            raise bad_input(exc, spec) from None
        except PlanError as exc:
            raise CommandError(f"plan: {exc}", returncode=1) from None
        plan, changeset = planned.plan, planned.changeset
        if as_json:
            out = plan_json(changeset)
            self.stdout.write(json.dumps(out, indent=2, ensure_ascii=False, default=str))
            return
        for line in plan_lines(plan):
            self.stdout.write(line)
        self.stdout.write("")
        for line in snippet_lines(plan):
            self.stdout.write(line)
        self.stdout.write("")
        if plan.as_of is not None:
            self.stdout.write(
                f"Server state as of {plan.as_of:%Y-%m-%d %H:%M:%S} UTC (the last refresh; "
                "--refresh reads the server now). apply reads the server before it sends."
            )
        self.stdout.write(
            f"Recorded as changeset {changeset.pk} (hash {changeset.content_hash}); "
            f"see /changes/{changeset.pk}/."
        )
