"""`manage.py apply SPEC [--yes]`: make the apiserver match SPEC.

Idempotent (a second apply makes no changing call) and resumable (after a failure part-way,
apply again finishes without creating anything twice). New credentials are printed once on
stdout and never stored or logged.
"""

import sys

from django.core.management.base import BaseCommand, CommandError

from changes.spec.apply import apply_plan
from changes.spec.plan import plan_lines
from changes.spec.server_config import store_server_sections
from console.audit import cli_actor
from console.validation import InvalidInput
from tenants.provisioning.engine import DEFAULT_CONCURRENCY

from ._spec_command import (
    bad_input,
    client_factory,
    make_plan,
    read_spec,
    snippet_lines,
    warning_lines,
)


class Command(BaseCommand):
    help = "Make the apiserver match SPEC; print what was created and new credentials once."

    def add_arguments(self, parser):
        parser.add_argument("spec", metavar="SPEC", help="the SPEC file (YAML)")
        parser.add_argument("--yes", action="store_true", help="apply without asking")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=DEFAULT_CONCURRENCY,
            help=f"tenants applied at the same time (default {DEFAULT_CONCURRENCY})",
        )

    def handle(self, *args, spec: str, yes: bool, concurrency: int, **options):
        model = read_spec(spec)
        for line in warning_lines(model):
            self.stderr.write(line)
        plan = make_plan(model, concurrency=max(1, concurrency), resolve_secrets=True)
        snippets_change = plan.snippets is not None and not plan.snippets.empty
        pending = [t for t in plan.tenants if t.steps or t.console_changes or t.console is None]
        if not pending and not snippets_change:
            self.stdout.write(f"Nothing to do: the apiserver and the console already match {spec}.")
            return
        if not yes:
            if not sys.stdin.isatty():
                raise CommandError(
                    "apply needs confirmation and stdin is not a terminal: review "
                    f"`manage.py plan {spec}`, then run `manage.py apply {spec} --yes`",
                    returncode=2,
                )
            for line in plan_lines(plan) + [""] + snippet_lines(plan):
                self.stdout.write(line)
            answer = input(f"Apply {plan.call_count} call(s)? Type 'yes' to go on: ")
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("nothing applied", returncode=2)
        counts = plan.counts()
        self.stdout.write(
            f"Applying {plan.call_count} call(s): {counts['create']} tenant(s) to create, "
            f"{counts['update']} to update ({max(1, concurrency)} at a time)."
        )
        actor = cli_actor()
        result = apply_plan(
            plan, actor=actor, client_factory=client_factory, concurrency=max(1, concurrency)
        )
        for outcome in result.outcomes:
            if outcome.ok:
                for line in outcome.created:
                    self.stdout.write(f"created: {outcome.tenant_name}: {line}")
        for name in result.stored:
            self.stdout.write(f"stored in the console: {name}")
        # Printed before anything else can fail: these secrets exist nowhere else.
        issued = [(o.tenant_name, c) for o in result.outcomes for c in o.credentials]
        if issued:
            self.stdout.write("")
            self.stdout.write("New credentials (shown once; the console does not keep secrets):")
            for tenant_name, cred in issued:
                self.stdout.write(
                    f"  {tenant_name} / {cred.email}: access_key={cred.access_key} "
                    f"secret_key={cred.secret_key}"
                )
        if snippets_change:
            try:
                stored = store_server_sections(model, actor=actor)
            except InvalidInput as exc:
                raise bad_input(exc, spec) from None
            self.stdout.write("Kept in the console: " + ", ".join(stored) + ".")
            for line in snippet_lines(plan):
                self.stdout.write(line)
        if result.failures:
            lines = [o.failure_line() for o in result.failures]
            ok = len(result.outcomes) - len(result.failures)
            raise CommandError(
                f"{len(result.failures)} tenant(s) failed, {ok} done:\n"
                + "\n".join(lines)
                + f"\nFix the cause and run `manage.py apply {spec}` again: it resumes without "
                "creating anything twice.",
                returncode=1,
            )
        self.stdout.write(f"Done: {len(result.outcomes)} tenant(s) applied.")
