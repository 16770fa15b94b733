"""The change engine: the one place where a plan becomes a stored changeset and gets applied.

- `changeset_record` stores a plan (its steps, its content hash, who asked for it).
- `applying` marks a changeset as being applied and tags every audit entry written meanwhile
  with its id (the audit log's `changeset` column), so the changeset page lists its outcomes.
- `local_change` runs a change that touches only what the console keeps: the domain service's
  write, its audit entries and the changeset are one transaction, and a change that changes
  nothing leaves nothing behind (no changeset, no audit entry).
- `steps_sync_from_journal` copies the outcome of provisioning steps (the journal the apiserver
  calls are run from, with their retries and resume) onto the changeset's steps.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from console.audit import current_changeset
from console.audit.models import AuditEntry
from console.audit.service import current_request_id
from tenants.models import ProvisioningStep

from .models import Changeset, ChangeStep
from .plan import ChangePlan, PlannedStep, content_hash

T = TypeVar("T")

JOURNAL_STATUS = {
    ProvisioningStep.Status.DONE: ChangeStep.Status.DONE,
    ProvisioningStep.Status.FAILED: ChangeStep.Status.FAILED,
    ProvisioningStep.Status.UNKNOWN: ChangeStep.Status.UNKNOWN,
    ProvisioningStep.Status.SENT: ChangeStep.Status.UNKNOWN,
    ProvisioningStep.Status.PENDING: ChangeStep.Status.PLANNED,
    ProvisioningStep.Status.SUPERSEDED: ChangeStep.Status.SKIPPED,
}


def _step_row(changeset: Changeset, position: int, step: PlannedStep) -> ChangeStep:
    return ChangeStep(
        changeset=changeset,
        position=position,
        kind=step.kind[:50],
        target=step.target[:300],
        before=step.before,
        after=step.after,
        call=step.call,
        risky=bool(step.risky),
        status=step.status,
        ref=step.ref,
    )


def changeset_open(
    *, kind: str, summary: str, actor: str, face: str, source: str = "", desired=None
) -> Changeset:
    """A new changeset without steps yet (call inside the transaction that records them)."""
    return Changeset.objects.create(
        kind=kind[:50],
        face=face,
        summary=summary[:300],
        requested_by=actor[:150],
        status=Changeset.Status.PLANNED,
        content_hash="",
        source=source[:300],
        request_id=current_request_id()[:64],
        desired=desired,
    )


def changeset_set_steps(changeset: Changeset, plan: ChangePlan) -> Changeset:
    """Store the plan's steps (and notes, prune, hash) on an open changeset."""
    ChangeStep.objects.bulk_create(
        [_step_row(changeset, i, s) for i, s in enumerate(plan.steps, start=1)]
    )
    changeset.content_hash = plan.content_hash()
    changeset.prune = plan.prune
    changeset.notes = plan.notes
    changeset.save(update_fields=["content_hash", "prune", "notes", "updated_at"])
    return changeset


def changeset_record(plan: ChangePlan, *, actor: str, face: str) -> Changeset:
    """Store the plan as a changeset with its steps (inside the caller's transaction, if any)."""
    with transaction.atomic():
        changeset = changeset_open(
            kind=plan.kind,
            summary=plan.summary,
            actor=actor,
            face=face,
            source=plan.source,
            desired=plan.desired,
        )
        changeset_set_steps(changeset, plan)
    return changeset


@contextmanager
def applying(changeset: Changeset) -> Iterator[Changeset]:
    """Apply inside this block: audit entries written in it carry the changeset's id."""
    Changeset.objects.filter(pk=changeset.pk).update(
        status=Changeset.Status.APPLYING, updated_at=timezone.now()
    )
    changeset.status = Changeset.Status.APPLYING
    with current_changeset(changeset.audit_key):
        yield changeset


def changeset_finish_from_steps(changeset: Changeset, *, error: str = "") -> Changeset:
    """Applied when every step is done (or kept back), failed otherwise."""
    open_steps = changeset.steps.exclude(
        status__in=[ChangeStep.Status.DONE, ChangeStep.Status.KEPT]
    ).exists()
    return changeset_finish(changeset, ok=not open_steps and not error, error=error)


def changeset_finish(changeset: Changeset, *, ok: bool, error: str = "") -> Changeset:
    """Mark the changeset applied or failed (a failed one can be applied again: it resumes)."""
    now = timezone.now()
    changeset.status = Changeset.Status.APPLIED if ok else Changeset.Status.FAILED
    changeset.error = "" if ok else error[:10_000]
    changeset.applied_at = now if ok else changeset.applied_at
    Changeset.objects.filter(pk=changeset.pk).update(
        status=changeset.status,
        error=changeset.error,
        applied_at=changeset.applied_at,
        updated_at=now,
    )
    return changeset


def steps_mark(changeset: Changeset, *, status: str, error: str = "", positions=None) -> None:
    """Set the status of the changeset's planned steps (all of them, or those `positions`)."""
    rows = ChangeStep.objects.filter(changeset=changeset, status=ChangeStep.Status.PLANNED)
    if positions is not None:
        rows = rows.filter(position__in=list(positions))
    rows.update(status=status, error=error[:10_000], finished_at=timezone.now())


class _NothingChanged(Exception):
    """Raised inside local_change's transaction to undo a change that changed nothing."""


def _step_from_entry(entry: AuditEntry) -> PlannedStep:
    target = f"{entry.target_type}:{entry.target_repr or entry.target_id}"
    step = PlannedStep(kind=entry.action, target=target)
    # Already masked by the audit service; kept as written there.
    step.before, step.after = entry.before, entry.after
    step.status = ChangeStep.Status.DONE if entry.outcome == "success" else entry.outcome
    return step


def _is_change(entry: AuditEntry) -> bool:
    if entry.outcome != AuditEntry.Outcome.SUCCESS:
        return True
    if entry.before is None or entry.after is None:
        return True  # something was created or removed
    return bool(entry.changed_fields)


def local_change(
    *,
    kind: str,
    summary: str,
    actor: str,
    face: str,
    write: Callable[[], T],
    desired=None,
) -> tuple[Changeset | None, T]:
    """Run a domain service that changes only what the console keeps, as one changeset.

    The service writes its rows and its audit entries; they, the changeset and its steps (one per
    audit entry the service wrote) commit together. When the service changed nothing, all of it
    is rolled back: no changeset, no audit entry. Exceptions of the service (bad input, a stale
    version) propagate with nothing written.
    """
    result: list = []
    try:
        with transaction.atomic():
            changeset = Changeset.objects.create(
                kind=kind[:50],
                face=face,
                summary=summary[:300],
                requested_by=actor[:150],
                status=Changeset.Status.APPLYING,
                content_hash="",
                request_id=current_request_id()[:64],
                desired=desired,
            )
            with current_changeset(changeset.audit_key):
                result.append(write())
            entries = list(AuditEntry.objects.filter(changeset=changeset.audit_key).order_by("seq"))
            if not any(_is_change(e) for e in entries):
                raise _NothingChanged
            steps = [_step_from_entry(e) for e in entries]
            ChangeStep.objects.bulk_create(
                [_step_row(changeset, i, s) for i, s in enumerate(steps, start=1)]
            )
            now = timezone.now()
            changeset.content_hash = content_hash([s.as_dict() for s in steps], prune=False)
            changeset.status = Changeset.Status.APPLIED
            changeset.applied_at = now
            changeset.save(update_fields=["content_hash", "status", "applied_at", "updated_at"])
    except _NothingChanged:
        return None, result[0]
    return changeset, result[0]


def steps_sync_from_journal(changeset: Changeset) -> None:
    """Copy the provisioning journal's step outcomes onto the changeset's call steps.

    One UPDATE per distinct (status, error): after a clean run that is one statement."""
    journal = {
        (tenant, run, position): (status, error)
        for tenant, run, position, status, error in ProvisioningStep.objects.filter(
            changeset=changeset.audit_key
        ).values_list("tenant_id", "run", "position", "status", "error")
    }
    if not journal:
        return
    groups: dict[tuple[str, str], list[int]] = {}
    for pk, ref, status, error in changeset.steps.values_list("pk", "ref", "status", "error"):
        ref = ref or {}
        row = journal.get((ref.get("tenant"), ref.get("run"), ref.get("position")))
        if row is None:
            continue
        wanted = (JOURNAL_STATUS.get(row[0], ChangeStep.Status.PLANNED), row[1][:10_000])
        if wanted != (status, error):
            groups.setdefault(wanted, []).append(pk)
    now = timezone.now()
    for (status, error), pks in groups.items():
        ChangeStep.objects.filter(pk__in=pks).update(status=status, error=error, finished_at=now)
