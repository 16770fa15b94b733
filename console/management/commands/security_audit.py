"""`manage.py security_audit FILE…`: report insecure ClearML secret settings in deployment files.

Reads Helm values files, Kubernetes Secret manifests, compose files, env files (Docker --env-file,
compose .env, shell exports) and HOCON config files (secure.conf). Never prints a secret value:
a finding shows the first 8 hex characters of the value's SHA-256.

Exit codes: 0 no high-severity finding (medium, low and info findings are printed but do not
fail the run); 3 at least one high-severity finding; 2 bad input (a missing, unreadable, binary,
too large or unrecognised file: the message names the file and the line); 1 the audit log could
not be written.
"""

import json
import textwrap

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from console.audit import cli_actor
from console.security.audit_files import (
    MAX_FILE_BYTES,
    AuditInputErrors,
    input_errors,
    read_path,
)
from console.security.findings import AuditInputError, AuditReport
from console.security.services import record_audit_failure, secrets_audit

EXIT_HIGH = 3


class Command(BaseCommand):
    help = (
        "Audit Helm values, compose, env or secure.conf files for public default secrets, short "
        "keys and secrets, disabled file server authentication and inline secrets. "
        "Exit 3 when a high-severity problem is found."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--format", choices=("table", "json"), default="table", dest="fmt")
        parser.add_argument(
            "--partial",
            action="store_true",
            help="the files are only part of the deployment: do not report settings they leave "
            "out (by default a missing secret means the public default applies)",
        )

    def handle(self, *args, files, fmt, partial, **options):
        actor = cli_actor()
        inputs, errors = [], []
        for path in files:
            try:
                inputs.append((path, read_path(path)))
            except AuditInputError as exc:
                errors.append(exc)
        if errors:
            # Tell about every bad file at once, the unreadable and the unparsable ones.
            errors += input_errors(inputs)
            record_audit_failure(actor=actor, names=files, error=_combined(errors))
            raise CommandError(_error_text(errors), returncode=2)
        try:
            report = secrets_audit(actor=actor, inputs=inputs, partial=partial)
        except AuditInputError as exc:
            raise CommandError(_error_text(getattr(exc, "errors", [exc])), returncode=2) from None
        except DatabaseError as exc:
            raise CommandError(
                f"cannot write the audit log ({type(exc).__name__}); run `manage.py migrate`",
                returncode=1,
            ) from None
        if fmt == "json":
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self.stdout.write(format_table(report))
        if report.has_high:
            raise SystemExit(EXIT_HIGH)


def _combined(errors: list[AuditInputError]) -> AuditInputError:
    return errors[0] if len(errors) == 1 else AuditInputErrors(errors)


def _error_text(errors: list[AuditInputError]) -> str:
    lines = [str(e) for e in errors]
    if any("MiB" in e.message for e in errors):
        lines.append(f"(files larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB are not read)")
    return "\n".join(lines)


def format_table(report: AuditReport) -> str:
    """Findings grouped by severity, each with its place, fingerprint, message and fix."""
    out = []
    for f in report.files:
        out.append(f"{f.name}: {f.kind}, {f.settings} secret setting(s) found")
    out.append("")
    for finding in report.sorted_findings():
        head = f"{finding.severity.upper():<7} {finding.file}: {finding.place}"
        if finding.fingerprint:
            head += f"  [sha256 {finding.fingerprint}]"
        out.append(head)
        for text in (finding.message, f"Fix: {finding.fix}"):
            out.extend(
                textwrap.wrap(text, 96, initial_indent="        ", subsequent_indent="        ")
            )
    counts = report.counts()
    if not report.findings:
        out.append("No findings.")
    out.append(
        "Findings: " + ", ".join(f"{counts[s]} {s}" for s in ("high", "medium", "low", "info"))
    )
    if report.has_high:
        out.append("Exit code 3: fix the high-severity findings first.")
    if report.partial:
        out.append("(--partial: settings missing from these files were not reported)")
    return "\n".join(out) + "\n"
