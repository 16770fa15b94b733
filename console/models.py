from console.audit.models import AuditEntry  # noqa: F401
