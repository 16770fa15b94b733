"""`manage.py apply SPEC [--yes] [--prune] [--credentials-out FILE]`: make the apiserver match SPEC.

The SPEC's plan is recorded as a changeset and applied through the change pipeline. Idempotent (a
second apply makes no changing call) and resumable (after a failure part-way, or a killed run,
apply again finishes without creating anything twice). New credentials are printed the moment
they exist and, with --credentials-out, appended to FILE (mode 0600); they are never stored.
"""

import sys

from django.core.management.base import BaseCommand, CommandError

from changes.engine import ApprovalMissing, waiting_message
from changes.spec.credentials_out import (
    CredentialsOutError,
    CredentialsPrinter,
    check_credentials_file,
    open_credentials_file,
)
from changes.spec.earlier_runs import admins_without_credentials, unfinished_credentials
from changes.spec.plan import plan_lines
from changes.spec.recorded import client_factory
from changes.spec.run import spec_apply, spec_store_server
from console.audit import cli_actor
from console.validation import InvalidInput
from tenants.provisioning.engine import DEFAULT_CONCURRENCY

from ._spec_command import (
    bad_input,
    make_plan,
    read_spec,
    snippet_lines,
    warning_lines,
)

# CONSOLE_APPROVALS: the plan is risky or bulk and waits for a second admin (nothing applied).
WAITS_FOR_APPROVAL = 4


class Command(BaseCommand):
    help = "Make the apiserver match SPEC; print what was created and new credentials once."

    def add_arguments(self, parser):
        parser.add_argument("spec", metavar="SPEC", help="the SPEC file (YAML)")
        parser.add_argument("--yes", action="store_true", help="apply without asking")
        parser.add_argument(
            "--prune",
            action="store_true",
            help="also remove what the SPEC's sections no longer list (kept otherwise)",
        )
        parser.add_argument(
            "--credentials-out",
            metavar="FILE",
            help="append new credentials to FILE as they are created (mode 0600; refused if "
            "FILE exists)",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=DEFAULT_CONCURRENCY,
            help=f"tenants applied at the same time (default {DEFAULT_CONCURRENCY})",
        )

    def handle(self, *args, spec: str, yes: bool, prune: bool, concurrency: int, **options):
        concurrency = max(1, concurrency)
        if options.get("credentials_out"):
            try:
                check_credentials_file(options["credentials_out"])
            except CredentialsOutError as exc:
                raise CommandError(str(exc), returncode=2) from None
        model = read_spec(spec)
        for line in warning_lines(model):
            self.stderr.write(line)
        plan = make_plan(model, concurrency=concurrency, resolve_secrets=True, prune=prune)
        known = [tp.console.pk for tp in plan.tenants if tp.console is not None]
        for line in unfinished_credentials(known):
            self.stdout.write(line)
        snippets_change = plan.snippets is not None and not plan.snippets.empty
        pending = [t for t in plan.tenants if t.steps or t.console_changes or t.console is None]
        removals = [r for r in getattr(plan, "removals", []) or [] if r.applied]
        if not pending and not snippets_change and not removals:
            for line in admins_without_credentials(known):
                self.stdout.write(line)
            self.stdout.write(f"Nothing to do: the apiserver and the console already match {spec}.")
            self._print_kept(plan)
            return
        if not yes:
            self._confirm(plan, spec)
        printer = self._printer(options.get("credentials_out"))
        try:
            self._apply(plan, model, spec, prune, concurrency, printer)
        finally:
            printer.close()

    def _confirm(self, plan, spec: str) -> None:
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

    def _printer(self, path: str | None) -> CredentialsPrinter:
        try:
            file = open_credentials_file(path) if path else None
        except CredentialsOutError as exc:
            raise CommandError(str(exc), returncode=2) from None
        return CredentialsPrinter(self.stdout, file)

    def _apply(self, plan, model, spec, prune, concurrency, printer) -> None:
        actor = cli_actor()
        counts = plan.counts()
        self.stdout.write(
            f"Applying {plan.call_count} call(s): {counts['create']} tenant(s) to create, "
            f"{counts['update']} to update ({concurrency} at a time)."
        )
        stored: list[str] = []

        def store_server(changeset) -> None:
            stored.extend(self._store_server_sections(model, spec, actor, prune, changeset))

        try:
            applied = spec_apply(
                plan,
                actor=actor,
                face="spec",
                client_factory=client_factory,
                concurrency=concurrency,
                prune=prune,
                on_credentials=printer,
                store_server=store_server,
            )
        except ApprovalMissing as exc:  # an approved plan that changed since: approve it again
            raise CommandError(str(exc), returncode=WAITS_FOR_APPROVAL) from None
        result, changeset = applied.result, applied.changeset
        if applied.held:
            raise CommandError(
                f"{waiting_message(changeset)} Then run `manage.py apply {spec}` again: it "
                "applies the approved plan while the SPEC still plans exactly these steps.",
                returncode=WAITS_FOR_APPROVAL,
            )
        for outcome in result.outcomes:
            if outcome.ok:
                for line in outcome.created:
                    self.stdout.write(f"created: {outcome.tenant_name}: {line}")
        for name in result.stored:
            self.stdout.write(f"stored in the console: {name}")
        if stored:
            self.stdout.write("Kept in the console: " + ", ".join(stored) + ".")
            for line in snippet_lines(plan):
                self.stdout.write(line)
        self._print_kept(plan)
        if result.failures:
            ok = len(result.outcomes) - len(result.failures)
            raise CommandError(
                f"{len(result.failures)} tenant(s) failed, {ok} done:\n{applied.error}\n"
                f"Fix the cause and run `manage.py apply {spec}` again: it resumes without "
                f"creating anything twice (changeset {changeset.pk}).",
                returncode=1,
            )
        self.stdout.write(
            f"Done: {len(result.outcomes)} tenant(s) applied (changeset {changeset.pk})."
        )

    def _store_server_sections(self, model, spec, actor, prune, changeset) -> list[str]:
        try:
            return spec_store_server(model, actor=actor, prune=prune, changeset=changeset)
        except InvalidInput as exc:
            raise bad_input(exc, spec) from None

    def _print_kept(self, plan) -> None:
        kept = [r for r in getattr(plan, "removals", []) or [] if not r.applied]
        if kept:
            self.stdout.write("Kept (not in the SPEC; apply with --prune to remove):")
            for removal in kept:
                self.stdout.write(f"  {removal.target}: {removal.detail}")
