"""Role checks of the policy (console/policy.py) that need the change pipeline's models.

Applying a changeset with a risky step (a removal, a deletion, an identity-provider change…)
needs an admin, unless an admin approved it (the approval flow of changes/).
"""

from changes.models import Changeset
from console.policy import register_check
from console.roles import Role


def risky_changeset_needs_admin(request, view_kwargs: dict) -> Role | None:
    changeset = Changeset.objects.filter(pk=view_kwargs.get("pk")).first()
    if changeset is None or changeset.status == Changeset.Status.APPROVED:
        return None
    if changeset.steps.filter(risky=True).exists():
        return Role.ADMIN
    return None


register_check("changes:apply", risky_changeset_needs_admin)
register_check("changes:retry", risky_changeset_needs_admin)
