"""The audit log's one table: append-only entries chained by SHA-256 hashes.

Entries are written only by `console.audit.service` (which serialises writers and computes the
chain). The model and its manager refuse every edit and delete; on PostgreSQL a trigger refuses
them in the database too (migration 0002).
"""

from django.db import models
from django.db.models import F
from django.db.models.functions import Upper

GENESIS_HASH = "0" * 64


class AuditLogIsAppendOnly(Exception):
    """Raised on any attempt to change or delete an audit entry."""

    def __init__(self, what: str = "changed"):
        super().__init__(f"audit entries cannot be {what}: the audit log is append-only")


class AuditEntryQuerySet(models.QuerySet):
    """A queryset that reads freely but refuses every bulk write."""

    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("updated")

    def _update(self, values):
        raise AuditLogIsAppendOnly("updated")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditLogIsAppendOnly("updated")

    def update_or_create(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("updated")

    def delete(self):
        raise AuditLogIsAppendOnly("deleted")

    delete.alters_data = True
    delete.queryset_only = True

    def _raw_delete(self, using):
        raise AuditLogIsAppendOnly("deleted")

    def bulk_create(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("bulk-created (write through console.audit.audit_record)")

    def create(self, **kwargs):
        raise AuditLogIsAppendOnly("created directly (write through console.audit.audit_record)")

    def get_or_create(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("created directly (write through console.audit.audit_record)")


class AuditEntry(models.Model):
    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        REFUSED = "refused", "Refused"
        PENDING = "pending", "Pending"

    # Position in the hash chain: 1, 2, 3, ... without gaps. Pages and links use it.
    seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField()
    # Shared by every entry written while handling one request (or one command run).
    request_id = models.CharField(max_length=64, blank=True, default="")
    # A copy of the actor's name, never a foreign key: entries outlive users.
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=50, blank=True, default="")
    target_id = models.CharField(max_length=255, blank=True, default="")
    target_repr = models.TextField(blank=True, default="")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    error = models.TextField(blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    changed_fields = models.JSONField(default=list, blank=True)
    # One dict per apiserver call: endpoint, status, result_msg, trx, duration_ms, error, act_as,
    # impersonate_as.
    calls = models.JSONField(default=list, blank=True)
    # The changeset (change pipeline) this entry belongs to, and for an outcome the sequence
    # number of the "pending" entry written before its call.
    changeset = models.CharField(max_length=32, blank=True, default="")
    outcome_of = models.BigIntegerField(null=True, blank=True)
    # Lower-cased text the free-text filter searches (actor, action, target, error, calls).
    search_text = models.TextField(blank=True, default="")
    # Unique: two entries can never claim the same predecessor, so the chain cannot fork even
    # if the writers' lock were bypassed (a constraint, not unique=True, to avoid a LIKE index).
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["created_at", "seq"], name="audit_created_seq_idx"),
            models.Index(fields=["actor", "seq"], name="audit_actor_seq_idx"),
            models.Index(fields=["action", "seq"], name="audit_action_seq_idx"),
            models.Index(fields=["outcome", "seq"], name="audit_outcome_seq_idx"),
            models.Index(fields=["target_id", "seq"], name="audit_target_id_seq_idx"),
            models.Index(fields=["target_type", "seq"], name="audit_target_type_seq_idx"),
            models.Index(Upper("target_repr"), F("seq"), name="audit_target_repr_seq_idx"),
            models.Index(fields=["request_id", "seq"], name="audit_request_seq_idx"),
            models.Index(fields=["changeset", "seq"], name="audit_changeset_seq_idx"),
            models.Index(fields=["outcome_of"], name="audit_outcome_of_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome__in=["success", "failure", "refused", "pending"]),
                name="audit_outcome_valid",
            ),
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="audit_seq_positive"),
            models.UniqueConstraint(fields=["prev_hash"], name="audit_prev_hash_unique"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("changed")
        if not getattr(self, "_written_by_service", False):
            raise AuditLogIsAppendOnly(
                "created directly (write through console.audit.audit_record)"
            )
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    save.alters_data = True

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("deleted")

    delete.alters_data = True

    @property
    def outcome_badge(self) -> str:
        """The CSS class of the outcome's badge."""
        return {
            "success": "badge-ok",
            "failure": "badge-bad",
            "refused": "badge-warn",
            "pending": "badge-info",
        }.get(self.outcome, "")

    # What the tables show, computed in Python: a Django template filter (`join`,
    # `truncatechars`) costs several times a plain attribute, and a table shows 50 or more
    # entries (the Audit page, a changeset's page, each object's recent changes).

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome, self.outcome)

    @property
    def changed_text(self) -> str:
        """The changed fields, comma-separated, cut to 90 characters as `truncatechars:90`."""
        text = ", ".join(str(name) for name in self.changed_fields or [])
        return text if len(text) <= CHANGED_TEXT_MAX else text[: CHANGED_TEXT_MAX - 1] + "…"


CHANGED_TEXT_MAX = 90
OUTCOME_LABELS = dict(AuditEntry.Outcome.choices)
