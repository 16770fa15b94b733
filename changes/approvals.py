"""Four-eyes approvals (CONSOLE_APPROVALS): a second admin approves or rejects a changeset that
waits for approval. The changes page and the JSON API call the two functions here.

    changeset_approve(changeset, *, actor, role, content_hash) -> Changeset
    changeset_reject(changeset, *, actor, role, content_hash=None, reason="") -> Changeset

`actor` is who decides (`console.audit.actor_for_request`), `role` their role
(`console.roles.request_role`), `content_hash` the changeset's hash as the person saw it (the
page's hidden field, the API's `hash`).

Both raise **ApprovalRefused** (`status`, `message`; `str()` is the message) and change nothing:

- 403 `NotAllowed`: the person is not an admin, or asked for the change (nobody approves or
  rejects their own request);
- 409 `NotDecidable`: the changeset does not wait for approval (planned, approved already,
  rejected, applied, ...);
- 409 `HashMismatch`: `content_hash` is not the changeset's hash now, or its steps no longer
  have that hash: it changed since it was shown.

An approval records who, when and the hash approved (`approved_by`, `approved_at`,
`approved_hash`) and sets the changeset `approved`; it does not apply it: `changes.apply.
changeset_apply` does (the page does both in one press). Every apply checks
`approved_hash == content_hash` (`changes.engine.approval_gate`), so a changeset changed after its
approval is not applied and waits for a new approval. A rejection records who and when
(`rejected_by`, `rejected_at`), sets it `rejected` for good (nothing of it is applied; ask again
for a new changeset) and keeps the reason as a note. Both are audited — `change.approve`,
`change.reject` — with the changeset's id in the entry's target and its `changeset` column; the
request itself was audited as `change.request` when the change was held.
"""

from django.db import transaction
from django.utils import timezone

from console.audit import audit_record, current_changeset
from console.roles import Role

from .engine import stored_hash, who_approves
from .models import Changeset

MAX_REASON = 500


class ApprovalRefused(Exception):
    """An approval or rejection that is refused; nothing was changed. `status` is the HTTP
    status a face answers with (403 or 409)."""

    status = 409

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class NotAllowed(ApprovalRefused):
    """403: not an admin, or the person who asked for the change."""

    status = 403


class NotDecidable(ApprovalRefused):
    """409: the changeset does not wait for approval."""


class HashMismatch(ApprovalRefused):
    """409: the changeset is not the one that was shown (its hash differs)."""


def waiting_for_approval(changeset: Changeset | None) -> str:
    """What a form says instead of "Saved" when its change was held ("" when it was not)."""
    if changeset is None or changeset.status != Changeset.Status.AWAITING_APPROVAL:
        return ""
    return (
        f"Waiting for approval: nothing is changed until {who_approves(changeset)} approves "
        f"changeset {changeset.pk} on its page (/changes/{changeset.pk}/)."
    )


def may_decide(changeset: Changeset, *, actor: str, role: Role | None) -> bool:
    """Whether this person may approve or reject the changeset now (the page shows the buttons)."""
    return (
        changeset.status == Changeset.Status.AWAITING_APPROVAL
        and role is not None
        and role >= Role.ADMIN
        and bool(actor)
        and actor != changeset.requested_by
    )


def _check(changeset: Changeset, *, actor: str, role: Role | None, content_hash, verb: str):
    if role is None or role < Role.ADMIN:
        raise NotAllowed(f"Only an admin can {verb} a changeset.")
    if not actor or actor == changeset.requested_by:
        raise NotAllowed(
            f"You asked for changeset {changeset.pk}, so you cannot {verb} it: "
            f"{who_approves(changeset)} does."
        )
    if changeset.status != Changeset.Status.AWAITING_APPROVAL:
        raise NotDecidable(
            f"Changeset {changeset.pk} is {changeset.get_status_display().lower()}: only a "
            f"changeset that waits for approval can be {verb}d."
        )
    if content_hash is not None:
        shown = str(content_hash).strip().lower()
        if shown != changeset.content_hash or stored_hash(changeset) != changeset.content_hash:
            raise HashMismatch(
                f"Changeset {changeset.pk} changed since you saw it (hash {shown[:12] or '—'}… "
                f"shown, {changeset.content_hash[:12]}… now): review it again before you "
                f"{verb} it."
            )


def _locked(changeset: Changeset) -> Changeset:
    return Changeset.objects.select_for_update().get(pk=changeset.pk)


def _audit(changeset: Changeset, *, actor: str, action: str, after: dict) -> None:
    with current_changeset(changeset.audit_key):
        audit_record(
            actor=actor,
            action=action,
            target_type="changeset",
            target_id=str(changeset.pk),
            target_repr=changeset.summary,
            before={"status": Changeset.Status.AWAITING_APPROVAL},
            after={
                "status": changeset.status,
                "requested_by": changeset.requested_by,
                "content_hash": changeset.content_hash,
                **after,
            },
        )


def _copy(source: Changeset, target: Changeset, fields: list[str]) -> Changeset:
    for name in fields:
        setattr(target, name, getattr(source, name))
    return target


def changeset_approve(
    changeset: Changeset, *, actor: str, role: Role | None, content_hash: str
) -> Changeset:
    """Approve the changeset as shown with `content_hash`. Raises ApprovalRefused (see the
    module docstring). Returns the changeset, now `approved` (not applied yet)."""
    fields = ["status", "approved_by", "approved_at", "approved_hash", "updated_at"]
    with transaction.atomic():
        locked = _locked(changeset)
        _check(locked, actor=actor, role=role, content_hash=content_hash or "", verb="approve")
        locked.status = Changeset.Status.APPROVED
        locked.approved_by = actor[:150]
        locked.approved_at = timezone.now()
        locked.approved_hash = locked.content_hash
        locked.save(update_fields=fields)
        _audit(locked, actor=actor, action="change.approve", after={"approved_by": actor})
    return _copy(locked, changeset, fields)


def changeset_reject(
    changeset: Changeset,
    *,
    actor: str,
    role: Role | None,
    content_hash: str | None = None,
    reason: str = "",
) -> Changeset:
    """Reject the changeset; with `content_hash`, only as shown with it. Raises ApprovalRefused
    (see the module docstring). Returns the changeset, now `rejected` for good."""
    fields = ["status", "rejected_by", "rejected_at", "notes", "updated_at"]
    reason = " ".join(str(reason or "").split())[:MAX_REASON]
    with transaction.atomic():
        locked = _locked(changeset)
        _check(locked, actor=actor, role=role, content_hash=content_hash, verb="reject")
        locked.status = Changeset.Status.REJECTED
        locked.rejected_by = actor[:150]
        locked.rejected_at = timezone.now()
        if reason:
            locked.notes = [*(locked.notes or []), f"Rejected by {actor}: {reason}"]
        locked.save(update_fields=fields)
        _audit(
            locked,
            actor=actor,
            action="change.reject",
            after={"rejected_by": actor, "reason": reason},
        )
    return _copy(locked, changeset, fields)
