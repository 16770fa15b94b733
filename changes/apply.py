"""Applying a stored changeset (the Apply button of /changes/<id>/, later the API)."""

from .models import Changeset
from .tenants import changeset_apply as apply_tenant_changeset

APPLICABLE = (Changeset.Status.PLANNED, Changeset.Status.APPROVED, Changeset.Status.FAILED)


class NotApplicable(Exception):
    """The changeset cannot be applied in its state, or has nothing left to send."""


def can_apply(changeset: Changeset) -> bool:
    return changeset.status in APPLICABLE and changeset.kind.startswith(("tenant.", "spec"))


def changeset_apply(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """Send what the changeset still has to send (its first apply, or a resume)."""
    if not can_apply(changeset):
        raise NotApplicable(
            f"Changeset {changeset.pk} is {changeset.get_status_display().lower()}; "
            "only a planned, approved or failed changeset of tenant calls can be applied here."
        )
    return apply_tenant_changeset(changeset, actor=actor, face=face)
