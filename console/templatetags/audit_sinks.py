"""`{% lagging_audit_sinks as lagging %}`: the sinks that lag more than 5 minutes (dashboard)."""

from django import template

from console.audit.sinks.status import lagging_sinks

register = template.Library()


@register.simple_tag
def lagging_audit_sinks() -> list:
    return lagging_sinks()
