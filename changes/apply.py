"""Applying a stored changeset (the Apply button of /changes/<id>/, an approval, later the API).

Two kinds of changeset are applied here:

- **recorded calls** (`tenant.*`, `spec`): the calls the changeset journaled are sent, or resumed
  after a failure (`changes.tenants.changeset_apply`);
- **held changes** (CONSOLE_APPROVALS): a risky change that waited for approval is made now by
  its kind's applier in `APPLIERS`, which runs the change again from the changeset's `desired`
  (`changes.engine.local_change_replay` keeps it only when it makes exactly the approved steps).

Every apply passes `changes.engine.approval_gate` first: a changeset that waits for approval or
was rejected is refused with a message saying who may approve, and one that changed after its
approval (`approved_hash` is not its content hash any more) loses the approval.
"""

from collections.abc import Callable

from tenants.models import ProvisioningStep

from . import audit_sinks, credentials, groups, identity, offboarding, routing, tenants, vaults
from .engine import ApprovalMissing, ReplayFailed, approval_gate, who_approves
from .models import Changeset

APPLICABLE = (Changeset.Status.PLANNED, Changeset.Status.APPROVED, Changeset.Status.FAILED)

# Changeset kind -> the function that applies a held (approved) changeset of that kind:
# applier(changeset, *, actor, face) -> list of tenant results (empty for a console-only change).
APPLIERS: dict[str, Callable[..., list]] = {
    "routing.remove": routing.routing_remove_approved,
    offboarding.ROUTING_KIND: offboarding.routing_clear_approved,
    offboarding.REVOKE_KIND: offboarding.revoke_approved,
    "tenant.delete": tenants.tenant_mark_deleted_approved,
    "tenant.discard": tenants.tenant_discard_approved,
    "idp.update": identity.idp_update_approved,
    "idp.delete": identity.idp_delete_approved,
    "tenant_sso.delete": identity.tenant_sso_delete_approved,
    "multi_tenant_login.update": identity.mtl_update_approved,
    "group.delete": groups.group_delete_approved,
    credentials.REVOKE: credentials.revoke_applier,
    vaults.DELETE: vaults.delete_applier,
    "audit_sink.delete": audit_sinks.audit_sink_remove_approved,
}


class NotApplicable(Exception):
    """The changeset cannot be applied in its state, or has nothing left to send."""


def _recorded_calls(changeset: Changeset) -> bool:
    return changeset.kind.startswith(("tenant.", "spec"))


def can_apply(changeset: Changeset) -> bool:
    """Whether the page offers Apply (an approved SPEC plan is applied by `manage.py apply`)."""
    return changeset.status in APPLICABLE and applies_here(changeset)


def applies_here(changeset: Changeset) -> bool:
    """Whether this module can apply the changeset in a state that allows it (so an approval on
    the page can apply it at once)."""
    if changeset.kind in APPLIERS:
        return True
    if changeset.kind == "spec" and (
        changeset.status == Changeset.Status.AWAITING_APPROVAL or changeset.approved_hash
    ):
        return not _spec_waits_for_cli(changeset)
    return _recorded_calls(changeset)


def _spec_waits_for_cli(changeset: Changeset) -> bool:
    """An approved SPEC plan that was held: its calls were never journaled, and only `manage.py
    apply` (which reads the SPEC and its secrets) can send them."""
    return not ProvisioningStep.objects.filter(changeset=changeset.audit_key).exists()


def spec_apply_hint(changeset: Changeset) -> str:
    """Where an approved SPEC plan is applied: the API for a plan recorded with its SPEC
    (`manage.py plan`, POST /api/v1/plans), else `manage.py apply` of the same SPEC again."""
    if isinstance(changeset.desired, dict) and "spec" in changeset.desired:
        return (
            f"Apply it with POST /api/v1/changes/{changeset.pk}/apply: it applies this plan while "
            "the SPEC still plans exactly these steps."
        )
    return (
        f"Apply it with `manage.py apply {changeset.source or 'SPEC'}`: it applies this plan "
        "while the SPEC still plans exactly these steps."
    )


def changeset_apply_refusal(changeset: Changeset) -> None:
    """Raise NotApplicable saying why the changeset cannot be applied in its state."""
    if changeset.status == Changeset.Status.AWAITING_APPROVAL:
        raise NotApplicable(
            f"Changeset {changeset.pk} waits for approval: {who_approves(changeset)} approves "
            "it on this page first."
        )
    if changeset.kind == "spec" and changeset.status == Changeset.Status.APPROVED:
        raise NotApplicable(f"Changeset {changeset.pk} is approved. {spec_apply_hint(changeset)}")
    raise NotApplicable(
        f"Changeset {changeset.pk} is {changeset.get_status_display().lower()}; "
        "only a planned, approved or failed changeset of tenant calls, or an approved "
        "change that waited for approval, can be applied here."
    )


def changeset_apply(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """Send what the changeset still has to send (its first apply, or a resume), or make an
    approved held change. Raises NotApplicable (its state, or an approval missing: the message
    says who may approve) and what the tenant apply raises (TenantBusy, TenantChanged, ...)."""
    if changeset.status == Changeset.Status.AWAITING_APPROVAL or not can_apply(changeset):
        changeset_apply_refusal(changeset)
    try:
        approval_gate(changeset, actor=actor)
        applier = APPLIERS.get(changeset.kind)
        if applier is not None:
            return applier(changeset, actor=actor, face=face)
        return tenants.changeset_apply(changeset, actor=actor, face=face)
    except (ApprovalMissing, ReplayFailed) as exc:
        raise NotApplicable(str(exc)) from None
