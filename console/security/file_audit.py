"""Auditing files end to end: parse every input (audit_files), then apply the rules."""

from collections.abc import Iterable

from .audit_files import AuditInputError, AuditInputErrors, parse_inputs, read_path
from .audit_rules import findings_for
from .findings import AuditReport, FileSummary


def audit_inputs(inputs: Iterable[tuple[str, bytes]], *, partial: bool = False) -> AuditReport:
    parsed = parse_inputs(inputs)
    summaries = [
        FileSummary(
            name=p.name,
            kind=p.kind,
            settings=len(p.occurrences) + sum(len(s.entries) for s in p.secrets),
        )
        for p in parsed
    ]
    return AuditReport(
        files=summaries, findings=findings_for(parsed, partial=partial), partial=partial
    )


def audit_paths(paths: Iterable[str], *, partial: bool = False) -> AuditReport:
    inputs, errors = [], []
    for path in paths:
        try:
            inputs.append((path, read_path(path)))
        except AuditInputError as exc:
            errors.append(exc)
    if errors:
        raise AuditInputErrors(errors)
    return audit_inputs(inputs, partial=partial)
