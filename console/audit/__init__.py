"""The audit log every change in the console writes to.

    from console.audit import audit_record, actor_for_request, cli_actor, audit_for_target

The names are loaded on first use, so importing this package does not import models while
Django is still loading apps.
"""

from importlib import import_module

_EXPORTS = {
    "audit_record": "console.audit.service",
    "actor_for_request": "console.audit.service",
    "actor_for_user": "console.audit.service",
    "cli_actor": "console.audit.service",
    "current_changeset": "console.audit.service",
    "audit_for_target": "console.audit.queries",
    "AuditEntry": "console.audit.models",
    "AuditLogIsAppendOnly": "console.audit.models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
