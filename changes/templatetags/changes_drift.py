"""{% drift_count as n %}: the differences the last comparison found (the dashboard's link)."""

from django import template

from changes.drift import drift_count as count

register = template.Library()


@register.simple_tag
def drift_count() -> int:
    return count()
