"""The security features' writes to the audit log: generating secrets and auditing files.

Neither entry holds a secret value: `secrets.generate` records which settings were generated,
`secrets.audit` the file names and the number of findings per severity.
"""

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.db import DatabaseError, transaction

from console.audit import audit_record

from .file_audit import audit_inputs
from .findings import AuditInputError, AuditReport
from .generate import ServerSecrets, SupervisorUser, generate_server_secrets

T = TypeVar("T")
log = logging.getLogger(__name__)


def secrets_generate(
    *,
    actor: str,
    formats: Iterable[str],
    show: Callable[[ServerSecrets], T],
    supervisor: SupervisorUser | None = None,
    platform_management: bool = False,
) -> T:
    """Generate a fresh set, make what is shown with `show(generated)`, then record it.

    When `show` raises (e.g. ValueError for a bad Secret name), nothing is recorded: the entry
    says values were handed out only when they were. The entry names the settings and formats,
    never a value.
    """
    generated = generate_server_secrets(
        supervisor=supervisor, platform_management=platform_management
    )
    shown = show(generated)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="secrets.generate",
            target_type="server_secrets",
            target_repr=f"{len(generated.setting_names())} server settings",
            after={
                "settings": generated.setting_names(),
                "formats": list(formats),
                "supervisor": generated.supervisor is not None,
                "platform_management": platform_management,
            },
        )
    return shown


def secrets_audit(
    *, actor: str, inputs: list[tuple[str, bytes]], partial: bool = False
) -> AuditReport:
    """Audit the files; record their names and the counts (or why they could not be read)."""
    names = [name for name, _ in inputs]
    try:
        report = audit_inputs(inputs, partial=partial)
    except AuditInputError as exc:
        record_audit_failure(actor=actor, names=names, error=exc)
        raise
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="secrets.audit",
            target_type="deployment_files",
            target_repr=", ".join(names)[:1000],
            after={
                "files": [{"name": f.name, "kind": f.kind} for f in report.files],
                "counts": report.counts(),
                "partial": partial,
            },
        )
    return report


def record_audit_failure(*, actor: str, names: list[str], error: AuditInputError) -> None:
    """Record files that could not be audited. Best effort: the admin's problem is the input,
    which they must hear about (exit 2) even when the audit log cannot be written."""
    try:
        with transaction.atomic():
            audit_record(
                actor=actor,
                action="secrets.audit",
                target_type="deployment_files",
                target_repr=", ".join(names)[:1000],
                after={"files": [{"name": n} for n in names]},
                outcome="failure",
                error=str(error),
            )
    except DatabaseError as exc:
        log.warning("could not record the failed audit of %s: %s", names, type(exc).__name__)
