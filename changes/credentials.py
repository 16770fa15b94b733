"""Changing one tenant user's API key from the credentials inventory, each as a changeset.

- **revoke** (`credentials.revoke`, a risky kind): `auth.revoke_credentials {access_key}`
  impersonating the key's user. A key marked as an App Gateway's or an agent's
  (console/snapshot/credentials.py) needs the access key typed again (`confirm`).
- **relabel** (`credentials.relabel`): `auth.edit_credentials {access_key, label}` impersonating
  the key's user.
- **rotate** (`credentials.rotate`): `auth.create_credentials {label}` impersonating the key's
  user; the new secret is handed back once (never stored). The old key's revocation is recorded
  at the same time as a second, *planned* `credentials.revoke` changeset; it is applied only
  when an admin confirms the new key is deployed (the rotate page's button, or Apply on the
  changeset's page).

What a key belongs to comes from the snapshot (the last refresh); the server has the last word:
a revocation or relabel the server answers with 0 (not that user's key any more) fails with a
message to refresh. After a change the snapshot row of the tenant is amended at once.
"""

from dataclasses import dataclass, field

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from console.apiserver import ApiClient, ApiError, client_from_settings
from console.snapshot import credentials as inventory
from tenants.models import IssuedCredential, TenantAdmin

from .engine import (
    ReplayFailed,
    approval_gate,
    changeset_finish,
    changeset_hold,
    changeset_open,
    changeset_set_steps,
)
from .models import Changeset
from .plan import ChangePlan, PlannedStep, approval_reason, approvals_on
from .remote_steps import send_steps

REVOKE, RELABEL, ROTATE = "credentials.revoke", "credentials.relabel", "credentials.rotate"
TARGET = "credentials"
MAX_LABEL = 256


class CredentialRefused(Exception):
    """The change cannot be asked for: an unknown key, a missing confirmation, a bad label."""


@dataclass
class CredentialChange:
    changeset: Changeset
    row: inventory.CredentialRow
    error: str = ""
    # rotate only: the new key pair, shown once; and the planned revocation of the old key
    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    revocation: Changeset | None = None

    @property
    def held(self) -> bool:
        return self.changeset.status == Changeset.Status.AWAITING_APPROVAL


def key_row(access_key: str) -> inventory.CredentialRow:
    """The key as the last refresh read it; CredentialRefused when no tenant lists it."""
    row = inventory.find_key(access_key)
    if row is None:
        raise CredentialRefused(
            f"Access key {access_key.strip()[:60]!r}: no tenant user holds it in the last "
            "refresh; check the key, or refresh the server state and try again."
        )
    return row


def needs_typed_confirmation(row: inventory.CredentialRow) -> bool:
    return bool(row.marked)


def _target(row: inventory.CredentialRow) -> str:
    return f"{row.tenant}/{row.email or row.user_id}/{row.access_key}"


def _step(kind: str, row, endpoint: str, body: dict, *, before=None, after=None) -> PlannedStep:
    return PlannedStep(
        kind=kind,
        target=_target(row),
        before=before,
        after=after,
        call={"endpoint": endpoint, "body": body, "impersonate_as": row.user_id},
    )


def revoke_plan(row: inventory.CredentialRow, *, rotation: int | None = None) -> ChangePlan:
    desired = {"access_key": row.access_key, "company_id": row.company_id}
    if rotation is not None:
        desired["rotation"] = rotation
    what = f"{row.marked} key " if row.marked else "key "
    return ChangePlan(
        kind=REVOKE,
        summary=f"Revoke the {what}{row.access_key} of {row.email or row.user_id} ({row.tenant})",
        steps=[
            _step(
                REVOKE,
                row,
                "auth.revoke_credentials",
                {"access_key": row.access_key},
                before={"access_key": row.access_key, "label": row.label, "marked": row.marked},
                after=None,
            )
        ],
        desired=desired,
    )


def _record(plan: ChangePlan, *, actor: str, face: str) -> Changeset:
    with transaction.atomic():
        changeset = changeset_open(
            kind=plan.kind, summary=plan.summary, actor=actor, face=face, desired=plan.desired
        )
        changeset_set_steps(changeset, plan)
    return changeset


def _check_confirmation(row: inventory.CredentialRow, confirm: str) -> None:
    if needs_typed_confirmation(row) and confirm.strip() != row.access_key:
        raise CredentialRefused(
            f"Access key {row.access_key} is labelled {row.label!r}, so it looks like an "
            f"{row.marked}'s key: type the access key again to confirm its revocation."
        )


def credential_revoke(
    *, access_key: str, actor: str, face: str = "form", confirm: str = "", client=None
) -> CredentialChange:
    """Revoke one key as a changeset (held for approval when CONSOLE_APPROVALS is on)."""
    row = key_row(access_key)
    _check_confirmation(row, confirm)
    plan = revoke_plan(row)
    reason = approval_reason(plan.kind, plan.steps) if approvals_on() else ""
    if reason:
        with transaction.atomic():
            changeset = changeset_open(
                kind=plan.kind, summary=plan.summary, actor=actor, face=face, desired=plan.desired
            )
            held = changeset_hold(changeset, plan, reason=reason)
        return CredentialChange(changeset=held, row=row)
    return _apply_revoke(_record(plan, actor=actor, face=face), row, actor=actor, client=client)


def _apply_revoke(changeset: Changeset, row, *, actor: str, client=None) -> CredentialChange:
    sent = send_steps(
        changeset, actor=actor, target_type=TARGET, client=client, answer_after=_counted("revoked")
    )
    change = CredentialChange(changeset=changeset, row=row)
    if sent.ok and _zero(sent, "revoked"):
        change.error = _not_theirs(changeset, row)
    elif sent.ok:
        inventory.credential_amend(row.company_id, remove=row.access_key)
        IssuedCredential.objects.filter(access_key=row.access_key, revoked_at__isnull=True).update(
            revoked_at=changeset.applied_at
        )
    else:
        change.error = changeset.error
    return change


def _counted(name: str):
    return lambda step, data: {name: data.get(name)}


def _zero(sent, name: str) -> bool:
    return any(isinstance(a, dict) and a.get(name) == 0 for a in sent.answers.values())


def _not_theirs(changeset: Changeset, row) -> str:
    message = (
        f"The server did not change key {row.access_key}: {row.email or row.user_id} no longer "
        "holds it. Refresh the server state and look it up again."
    )
    changeset_finish(changeset, ok=False, error=message)
    return message


def credential_relabel(
    *, access_key: str, label: str, actor: str, face: str = "form", client=None
) -> CredentialChange:
    row = key_row(access_key)
    label = label.strip()
    if len(label) > MAX_LABEL or any(ord(ch) < 32 for ch in label):
        raise CredentialRefused(
            f"Label {label[:60]!r}: use at most {MAX_LABEL} characters on one line."
        )
    if label == row.label:
        raise CredentialRefused(f"Label {label!r}: key {row.access_key} has it already.")
    plan = ChangePlan(
        kind=RELABEL,
        summary=f"Relabel key {row.access_key} of {row.email or row.user_id} ({row.tenant})",
        steps=[
            _step(
                RELABEL,
                row,
                "auth.edit_credentials",
                {"access_key": row.access_key, "label": label},
                before={"label": row.label},
                after={"label": label},
            )
        ],
        desired={"access_key": row.access_key, "label": label, "company_id": row.company_id},
    )
    changeset = _record(plan, actor=actor, face=face)
    sent = send_steps(
        changeset, actor=actor, target_type=TARGET, client=client, answer_after=_counted("updated")
    )
    change = CredentialChange(changeset=changeset, row=row)
    if sent.ok and _zero(sent, "updated"):
        change.error = _not_theirs(changeset, row)
    elif sent.ok:
        inventory.credential_amend(row.company_id, access_key=row.access_key, label=label)
    else:
        change.error = changeset.error
    return change


@sensitive_variables("data", "secret")
def credential_rotate(
    *, access_key: str, actor: str, face: str = "form", client: ApiClient | None = None
) -> CredentialChange:
    """Create the replacement key now (its secret is returned once) and record the old key's
    revocation as a planned changeset that waits for the admin's confirmation."""
    row = key_row(access_key)
    label = row.label or f"replaces {row.access_key}"
    plan = ChangePlan(
        kind=ROTATE,
        summary=f"Rotate key {row.access_key} of {row.email or row.user_id} ({row.tenant})",
        steps=[
            _step(
                "credentials.create",
                row,
                "auth.create_credentials",
                {"label": label},
                after={"replaces": row.access_key, "label": label},
            )
        ],
        desired={"access_key": row.access_key, "company_id": row.company_id},
    )
    changeset = _record(plan, actor=actor, face=face)
    client = client or client_from_settings()
    keys_before = _keys_of(client, row)
    sent = send_steps(
        changeset,
        actor=actor,
        target_type=TARGET,
        client=client,
        answer_after=lambda step, data: {
            "access_key": (data.get("credentials") or {}).get("access_key")
        },
    )
    change = CredentialChange(changeset=changeset, row=row)
    if not sent.ok:
        change.error = changeset.error
        if any(e.outcome_unknown for e in sent.errors.values()):
            _revoke_unseen(client, row, keys_before)
        return change
    data = (next(iter(sent.answers.values())) or {}).get("credentials") or {}
    change.access_key, secret = str(data.get("access_key") or ""), str(data.get("secret_key") or "")
    change.secret_key = secret
    _remember_new_key(row, change.access_key, label)
    change.revocation = _record(revoke_plan(row, rotation=changeset.pk), actor=actor, face=face)
    return change


def _keys_of(client: ApiClient, row) -> set[str]:
    try:
        data = client.call("auth.get_credentials", {}, impersonate_as=row.user_id)
    except ApiError:
        return set()
    return {str(c.get("access_key")) for c in data.get("credentials") or [] if isinstance(c, dict)}


def _revoke_unseen(client: ApiClient, row, keys_before: set[str]) -> None:
    """A lost answer to the create call: a key nobody saw is revoked (the admin rotates again)."""
    if not keys_before:
        return
    for key in _keys_of(client, row) - keys_before:
        try:
            client.call("auth.revoke_credentials", {"access_key": key}, impersonate_as=row.user_id)
        except ApiError:
            pass  # the next inventory lists it; it can be revoked from there


def _remember_new_key(row, access_key: str, label: str) -> None:
    """The snapshot lists the new key at once; a tenant admin's key is kept as issued (so that
    offboarding revokes it too)."""
    inventory.credential_amend(
        row.company_id,
        add={
            "access_key": access_key,
            "label": label,
            "user_id": row.user_id,
            "user": row.user,
            "email": row.email,
            "role": row.role,
        },
    )
    admin = TenantAdmin.objects.filter(tenant_id=row.tenant_id, user_id=row.user_id).first()
    if admin is not None:
        IssuedCredential.objects.get_or_create(admin=admin, access_key=access_key)


def rotation_finish(
    *, changeset: Changeset, actor: str, confirm: str = "", client=None
) -> CredentialChange:
    """The admin confirmed the new key is deployed: apply the planned revocation of the old
    key (its typed confirmation when it is marked; approval when CONSOLE_APPROVALS is on)."""
    access_key = str((changeset.desired or {}).get("access_key") or "")
    row = key_row(access_key)
    _check_confirmation(row, confirm)
    return revoke_approved_or_planned(changeset, actor=actor, client=client, row=row)


def revoke_approved_or_planned(
    changeset: Changeset, *, actor: str, client=None, row=None
) -> CredentialChange:
    approval_gate(changeset, actor=actor)
    if row is None:
        row = key_row(str((changeset.desired or {}).get("access_key") or ""))
    return _apply_revoke(changeset, row, actor=actor, client=client)


def revoke_applier(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """changes.apply's applier of `credentials.revoke` (an approved or planned revocation)."""
    change = revoke_approved_or_planned(changeset, actor=actor)
    if change.error:
        raise ReplayFailed(change.error)
    return []
