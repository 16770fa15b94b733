"""Sinks: where the audit log is streamed, and how far each got."""

from django.db import models


class AuditSink(models.Model):
    """A receiver of the audit log. Its configuration changes only through the change pipeline
    (changes/audit_sinks.py, audited); its delivery state is written by delivery.py alone."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "HTTPS webhook"
        SYSLOG = "syslog", "Syslog (RFC 5424 over TCP/TLS)"
        JSONL = "jsonl", "JSON-lines file"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # https://… for a webhook, tcp://host:port or tls://host:port for syslog, a file path for jsonl.
    url = models.CharField(max_length=1000)
    # `env:NAME` (console/secret_ref.py): the webhook's signing secret; never the value itself.
    secret_ref = models.CharField(max_length=200, blank=True, default="")
    ca_file = models.CharField(max_length=1000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True, default="")

    # The cursor: the highest seq the receiver acknowledged. Delivery sends seq > this, in order.
    last_delivered_seq = models.BigIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    failures = models.IntegerField(default=0)  # in a row; sets the backoff
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # SQLite's lease (PostgreSQL locks the row instead): "host:pid" of the delivering process.
    lease_owner = models.CharField(max_length=200, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["webhook", "syslog", "jsonl"]),
                name="audit_sink_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(last_delivered_seq__gte=0), name="audit_sink_cursor_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"
