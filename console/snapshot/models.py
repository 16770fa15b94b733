"""The snapshot tables: one row per thing read from the apiserver, and one row per read."""

from django.db import models


class ServerSnapshot(models.Model):
    """One thing the apiserver answered: `kind` says which read, `key` which object.

    Kinds: `companies` (key ""; `system.get_companies`), `routing` (key: company id;
    `login.get_settings` as the tenant's first admin), `tenant_sso` (key: company id; what the
    console last pushed, since the docs name no read call), `users` (key: company id).
    """

    kind = models.CharField(max_length=32)
    key = models.CharField(max_length=64, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    fetched_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="server_snapshot_kind_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key or '-'} @ {self.fetched_at:%Y-%m-%d %H:%M:%S}"


class ServerRead(models.Model):
    """The latest refresh of the snapshot (one row): when, whether it reached the server."""

    name = models.CharField(max_length=32, unique=True, default="apiserver")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")
    calls = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {'ok' if self.ok else 'failed'} at {self.finished_at}"
