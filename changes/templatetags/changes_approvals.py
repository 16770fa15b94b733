"""Template tags of the change pipeline: `{% awaiting_approval_count as n %}` (the dashboard's
count of changesets that wait for a second admin, CONSOLE_APPROVALS)."""

from django import template

from changes.models import Changeset
from console.prepared import Prepared, counted

register = template.Library()


@register.simple_tag
def awaiting_approval_count() -> int:
    return (_AWAITING.fetch() or [0])[0]


_AWAITING = Prepared(
    lambda: counted(Changeset.objects.filter(status=Changeset.Status.AWAITING_APPROVAL))
)
