"""The change engine: the one place where a plan becomes a stored changeset and gets applied.

- `changeset_record` stores a plan (its steps, its content hash, who asked for it).
- `applying` marks a changeset as being applied and tags every audit entry written meanwhile
  with its id (the audit log's `changeset` column), so the changeset page lists its outcomes.
- `local_change` runs a change that touches only what the console keeps: the domain service's
  write, its audit entries and the changeset are one transaction, and a change that changes
  nothing leaves nothing behind (no changeset, no audit entry).
- `steps_sync_from_journal` copies the outcome of provisioning steps (the journal the apiserver
  calls are run from, with their retries and resume) onto the changeset's steps.

Approvals (CONSOLE_APPROVALS; docs/architecture.md, "Approvals"): a risky or bulk change is not
applied but held — `local_change` runs the service in a savepoint to learn its exact steps, rolls
the write back and keeps the changeset `awaiting_approval` with those steps and its `desired`;
`hold_recorded` does the same for a recorded plan. `approval_gate` is the check every apply
passes (a held, rejected or changed-since-approval changeset is refused), and
`local_change_replay` applies an approved console-only change by running its service again from
`desired`, keeping the result only when it writes exactly the steps that were approved.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from console.audit import audit_record, current_changeset
from console.audit.models import AuditEntry
from console.audit.service import current_request_id
from console.prepared import Prepared
from console.validation import InvalidInput
from tenants.groups.services import Stale
from tenants.models import ProvisioningStep
from tenants.provisioning.engine import TenantBusy
from tenants.services import NotAllowed, TenantChanged

from .models import Changeset, ChangeStep
from .plan import ChangePlan, PlannedStep, approval_reason, approvals_on, content_hash

T = TypeVar("T")
# What a domain service raises when it refuses a change (a held change re-run once approved).
SERVICE_REFUSALS = (InvalidInput, NotAllowed, TenantChanged, Stale)

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


class _Held(Exception):
    """Raised inside local_change's savepoint to undo a change that must wait for approval."""

    def __init__(self, steps: list[PlannedStep], reason: str):
        super().__init__(reason)
        self.steps, self.reason = steps, reason


class _Differs(Exception):
    """Raised inside local_change_replay's savepoint when the service now writes other steps."""


class ApprovalMissing(TenantBusy):
    """The changeset waits for approval, was rejected, or changed after it was approved: nothing
    is applied. A TenantBusy, so every face that already says "not now" for a busy tenant shows
    this message too; its text says why and who may approve."""


class ReplayFailed(Exception):
    """An approved console-only change could not be applied (its service refused, or it would
    now write other steps than the approved ones); the changeset is marked failed with this
    message and nothing of it was kept."""


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


def _last_seq(changeset: Changeset) -> int:
    rows = AuditEntry.objects.filter(changeset=changeset.audit_key).order_by("-seq")
    return rows.values_list("seq", flat=True).first() or 0


def _written_steps(
    changeset: Changeset, result, steps: Callable | None, *, after_seq: int = 0
) -> list[PlannedStep]:
    """The steps of what the service just wrote under the changeset (its audit entries after
    `after_seq`): one per audit entry, or `steps(result)` when the face names its steps itself.
    Raises _NothingChanged."""
    entries = _ENTRIES_AFTER.fetch(changeset=changeset.audit_key, after=after_seq)
    if not any(_is_change(e) for e in entries):
        raise _NothingChanged
    if steps is not None:
        made = list(steps(result))
        for step in made:
            step.status = ChangeStep.Status.DONE
        return made
    return [_step_from_entry(e) for e in entries]


_ENTRIES_AFTER = Prepared(
    lambda changeset, after: AuditEntry.objects.filter(changeset=changeset, seq__gt=after).order_by(
        "seq"
    )
)


def _store_steps(changeset: Changeset, steps: list[PlannedStep]) -> None:
    ChangeStep.objects.bulk_create(
        [_step_row(changeset, i, s) for i, s in enumerate(steps, start=1)]
    )


def _reason_to_hold(kind: str, made: list[PlannedStep]) -> str:
    """Why the steps a service just wrote must wait for approval ("" when approvals are off or
    they need none)."""
    if not approvals_on():
        return ""
    done = [s.status for s in made]
    for step in made:
        step.status = ChangeStep.Status.PLANNED
    reason = approval_reason(kind, made)
    for step, status in zip(made, done, strict=True):
        step.status = status
    return reason


def local_change(
    *,
    kind: str,
    summary: str,
    actor: str,
    face: str,
    write: Callable[[], T],
    desired=None,
    steps: Callable[[T], list[PlannedStep]] | None = None,
) -> tuple[Changeset | None, T]:
    """Run a domain service that changes only what the console keeps, as one changeset.

    The service writes its rows and its audit entries; they, the changeset and its steps (one per
    audit entry the service wrote, or `steps(result)`) commit together. When the service changed
    nothing, all of it is rolled back: no changeset, no audit entry. Exceptions of the service
    (bad input, a stale version) propagate with nothing written.

    With CONSOLE_APPROVALS on, a change that needs approval (`plan.approval_reason`: a risky kind
    or step, more than BULK_STEPS steps) is held: its write is rolled back and the changeset is
    kept `awaiting_approval` with the steps it would make and `desired`, which an applier of
    `changes.apply` runs again once approved. The result is then the service's return value of
    that rolled-back run (for the face's message only; nothing of it was kept).
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
            try:
                # A savepoint only where a held change must be undone and its changeset kept;
                # any other exception leaves the outer block too, which undoes everything.
                with transaction.atomic(savepoint=approvals_on()):
                    with current_changeset(changeset.audit_key):
                        result.append(write())
                    made = _written_steps(changeset, result[0], steps)
                    reason = _reason_to_hold(kind, made)
                    if reason:
                        raise _Held(made, reason)
            except _Held as held:
                plan = ChangePlan(kind=kind, summary=summary, steps=held.steps)
                return changeset_hold(changeset, plan, reason=held.reason), result[0]
            _store_steps(changeset, made)
            now = timezone.now()
            changeset.content_hash = content_hash([s.as_dict() for s in made], prune=False)
            changeset.status = Changeset.Status.APPLIED
            changeset.applied_at = now
            changeset.save(update_fields=["content_hash", "status", "applied_at", "updated_at"])
    except _NothingChanged:
        return None, result[0]
    return changeset, result[0]


# -- approvals -----------------------------------------------------------------------------------
def who_approves(changeset: Changeset) -> str:
    """Who may approve the changeset, as the faces say it."""
    return f"an admin other than {changeset.requested_by or 'its requester'}"


def waiting_message(changeset: Changeset) -> str:
    return (
        f"Changeset {changeset.pk} waits for approval: nothing of it is applied until "
        f"{who_approves(changeset)} approves it on its page (/changes/{changeset.pk}/)."
    )


def stored_hash(changeset: Changeset) -> str:
    """The content hash of the changeset's stored steps, computed again from the rows."""
    rows = changeset.steps.order_by("position").values(
        "kind", "target", "call", "risky", "before", "after"
    )
    return content_hash([dict(r) for r in rows], prune=changeset.prune)


def _request_audit(changeset: Changeset, reason: str) -> None:
    with current_changeset(changeset.audit_key):
        audit_record(
            actor=changeset.requested_by,
            action="change.request",
            target_type="changeset",
            target_id=str(changeset.pk),
            target_repr=changeset.summary,
            after={
                "kind": changeset.kind,
                "status": changeset.status,
                "content_hash": changeset.content_hash,
                "reason": reason,
            },
        )


def _waiting(changeset: Changeset, reason: str) -> None:
    changeset.status = Changeset.Status.AWAITING_APPROVAL
    changeset.notes = [*(changeset.notes or []), f"Waits for approval: {reason}."]
    changeset.save(update_fields=["status", "notes", "updated_at"])
    _request_audit(changeset, reason)


def changeset_hold(changeset: Changeset, plan: ChangePlan, *, reason: str) -> Changeset:
    """Keep an open changeset `awaiting_approval` with the plan's steps (nothing applied), and
    audit the request (`change.request`). The same change asked for again by the same person
    while it waits is the waiting changeset (the new one is dropped)."""
    for step in plan.steps:
        if step.status != ChangeStep.Status.KEPT:
            step.status = ChangeStep.Status.PLANNED
    digest = plan.content_hash()
    same = (
        Changeset.objects.filter(
            kind=changeset.kind,
            requested_by=changeset.requested_by,
            status=Changeset.Status.AWAITING_APPROVAL,
            content_hash=digest,
        )
        .exclude(pk=changeset.pk)
        .order_by("-id")
        .first()
    )
    if same is not None and same.desired == changeset.desired:
        changeset.delete()
        return same
    changeset.steps.all().delete()
    changeset_set_steps(changeset, plan)
    _waiting(changeset, reason)
    return changeset


def hold_recorded(changeset: Changeset) -> bool:
    """With CONSOLE_APPROVALS on, set a recorded (planned) changeset that needs approval
    `awaiting_approval`. True when it now waits."""
    if not approvals_on():
        return False
    reason = approval_reason(changeset.kind, changeset.steps.all())
    if not reason:
        return False
    _waiting(changeset, reason)
    return True


def _void_approval(changeset: Changeset, actor: str) -> None:
    """The changeset changed after its approval: the approval no longer holds."""
    approved_by = changeset.approved_by
    changeset.status = Changeset.Status.AWAITING_APPROVAL
    changeset.notes = [
        *(changeset.notes or []),
        f"The approval by {approved_by} no longer holds: the changeset changed after it.",
    ]
    changeset.approved_by, changeset.approved_at, changeset.approved_hash = "", None, ""
    changeset.save(
        update_fields=[
            "status",
            "notes",
            "approved_by",
            "approved_at",
            "approved_hash",
            "updated_at",
        ]
    )
    with current_changeset(changeset.audit_key):
        audit_record(
            actor=actor,
            action="change.approval_void",
            target_type="changeset",
            target_id=str(changeset.pk),
            target_repr=changeset.summary,
            before={"status": "approved", "approved_by": approved_by},
            after={"status": changeset.status, "content_hash": changeset.content_hash},
        )


def approval_gate(changeset: Changeset, *, actor: str) -> None:
    """The approval check every apply passes. Raises ApprovalMissing when the changeset waits
    for approval or was rejected; when it changed after its approval (its stored hash, or the
    hash of its steps now, is not the approved one: the approval is voided); and, with
    CONSOLE_APPROVALS on, when a changeset recorded without a hold needs approval (it is set
    waiting)."""
    status = changeset.status
    if status == Changeset.Status.AWAITING_APPROVAL:
        raise ApprovalMissing(waiting_message(changeset))
    if status == Changeset.Status.REJECTED:
        raise ApprovalMissing(
            f"Changeset {changeset.pk} was rejected by {changeset.rejected_by}: nothing of it is "
            "applied. Ask for the change again if it is still wanted."
        )
    if changeset.approved_hash:
        if changeset.approved_hash == changeset.content_hash == stored_hash(changeset):
            return
        approved_by = changeset.approved_by
        _void_approval(changeset, actor)
        raise ApprovalMissing(
            f"Changeset {changeset.pk} changed after {approved_by} approved it, so that approval "
            f"no longer holds: {who_approves(changeset)} approves it again on its page."
        )
    if hold_recorded(changeset):
        raise ApprovalMissing(waiting_message(changeset))


def desired_object(model, what: str, **lookup):
    """The row an applier re-runs a held change on, from its `desired`; ReplayFailed naming it
    when it is gone."""
    row = model.objects.filter(**lookup).first()
    if row is None:
        raise ReplayFailed(f"{what} no longer exists")
    return row


def local_change_replay(
    changeset: Changeset,
    *,
    actor: str,
    write: Callable[[], T],
    steps: Callable[[T], list[PlannedStep]] | None = None,
) -> T:
    """Apply an approved console-only change that was held: run its service again (the applier
    builds `write` from the changeset's `desired`) under the changeset. Kept only when it writes
    exactly the approved steps (same content hash); otherwise, or when the service refuses (a
    stale version, bad input), nothing of it is kept, the changeset is marked failed and
    ReplayFailed says why. Raises ApprovalMissing (approval_gate)."""
    approval_gate(changeset, actor=actor)
    with transaction.atomic():
        locked = Changeset.objects.select_for_update().get(pk=changeset.pk)
        if locked.status not in (Changeset.Status.APPROVED, Changeset.Status.FAILED) or (
            locked.approved_hash != changeset.approved_hash
        ):
            raise ApprovalMissing(
                f"Changeset {changeset.pk} is {locked.get_status_display().lower()} now; "
                "reload its page."
            )
        error = ""
        earlier = _last_seq(locked)  # the request and the approval
        try:
            with transaction.atomic():
                with current_changeset(locked.audit_key):
                    result = write()
                made = _written_steps(locked, result, steps, after_seq=earlier)
                if content_hash([s.as_dict() for s in made], prune=False) != locked.approved_hash:
                    raise _Differs
                locked.steps.all().delete()
                _store_steps(locked, made)
        except _NothingChanged:
            error = "it would change nothing now: what it changes is already so"
        except _Differs:
            error = (
                "it would now make other changes than the approved ones (the console changed "
                "since); ask for the change again"
            )
        except ReplayFailed as exc:
            error = str(exc)
        except SERVICE_REFUSALS as exc:  # bad input now, a stale version, a state that forbids it
            error = str(exc) or type(exc).__name__
        changeset_finish(locked, ok=not error, error=f"Not applied: {error}." if error else "")
    changeset.status, changeset.error = locked.status, locked.error
    changeset.applied_at = locked.applied_at
    if error:
        raise ReplayFailed(f"Changeset {changeset.pk} was not applied: {error}.")
    return result


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
