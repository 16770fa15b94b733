"""Archive checkpoints: which entries retention moved out of the table, signed (archive.py)."""

from django.db import models


class AuditArchive(models.Model):
    """One archived segment of the audit log: entries first_seq..last_seq were moved to `file`
    and deleted from the table. `signature` is an HMAC over the manifest (archive.py), so the
    live chain's new start is provably a sanctioned archive, not entries deleted by hand."""

    first_seq = models.BigIntegerField(unique=True)
    last_seq = models.BigIntegerField(unique=True)
    first_prev_hash = models.CharField(max_length=64)
    last_hash = models.CharField(max_length=64)
    entry_count = models.IntegerField()
    file_name = models.CharField(max_length=200)
    file_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    manifest = models.JSONField()
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["first_seq"]

    def __str__(self) -> str:
        return f"archive #{self.first_seq}-#{self.last_seq}"
