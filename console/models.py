from console.accounts.models import ApiToken, UserSession  # noqa: F401
from console.audit.archive_models import AuditArchive  # noqa: F401
from console.audit.models import AuditEntry  # noqa: F401
from console.audit.sinks.models import AuditSink  # noqa: F401
from console.snapshot.models import ServerRead, ServerSnapshot  # noqa: F401
