"""Changesets: every change the console makes, planned as ordered steps, then applied and audited.

A changeset is what a face (a form, the SPEC commands, later the JSON API) asked for: the steps
it takes, each with its target, the value before and after, the apiserver call it makes (secret
values masked) and whether it is risky. Its `content_hash` covers the steps, so an approval or
an apply can tell that the plan it was shown is still the plan it runs.
"""

from django.db import models


class Changeset(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        APPLYING = "applying", "Applying"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"

    class Face(models.TextChoices):
        FORM = "form", "Form"
        SPEC = "spec", "SPEC"
        API = "api", "JSON API"
        COMMAND = "command", "Command"

    # What kind of change (the handler that plans and applies it), e.g. "spec", "tenant.update".
    kind = models.CharField(max_length=50)
    face = models.CharField(max_length=10, choices=Face.choices, default=Face.FORM)
    summary = models.CharField(max_length=300)
    requested_by = models.CharField(max_length=150)
    approved_by = models.CharField(max_length=150, blank=True, default="")
    approved_at = models.DateTimeField(null=True, blank=True)
    # The content hash the approver saw: a changeset whose hash differs is no longer approved.
    approved_hash = models.CharField(max_length=64, blank=True, default="")
    rejected_by = models.CharField(max_length=150, blank=True, default="")
    rejected_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNED)
    content_hash = models.CharField(max_length=64)
    prune = models.BooleanField(default=False)
    # The SPEC file or form a changeset came from (a name, never its content).
    source = models.CharField(max_length=300, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    # The face's input, without secrets (a SPEC's parsed document, a form's fields): what a later
    # apply or approval re-plans from.
    desired = models.JSONField(null=True, blank=True)
    # What the plan decided to leave alone: removals held back without prune, notes.
    notes = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "id"], name="changeset_status_idx"),
            models.Index(fields=["requested_by", "id"], name="changeset_requester_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    status__in=[
                        "planned",
                        "awaiting_approval",
                        "approved",
                        "rejected",
                        "applying",
                        "applied",
                        "failed",
                    ]
                ),
                name="changeset_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"changeset {self.pk}: {self.summary}"

    @property
    def audit_key(self) -> str:
        """The value audit entries of this changeset carry in their `changeset` column."""
        return str(self.pk)

    @property
    def status_badge(self) -> str:
        return {
            "applied": "badge-ok",
            "failed": "badge-bad",
            "rejected": "badge-bad",
            "awaiting_approval": "badge-warn",
            "applying": "badge-info",
        }.get(self.status, "")


class ChangeStep(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Answer lost"
        SKIPPED = "skipped", "Not reached"
        KEPT = "kept", "Kept (removal needs prune)"

    changeset = models.ForeignKey(Changeset, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=50)
    target = models.CharField(max_length=300)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    # The apiserver call: {"endpoint", "body", "act_as"?, "impersonate_as"?}; null for a step
    # that changes only what the console keeps (server configuration, console records).
    call = models.JSONField(null=True, blank=True)
    risky = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    error = models.TextField(blank=True, default="")
    # Where the step is journaled while it runs, e.g. {"tenant": 3, "position": 2}.
    ref = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["changeset_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["changeset", "position"], name="change_step_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.changeset_id}.{self.position} {self.kind} {self.target}"

    @property
    def description(self) -> str:
        """A call step's one-line description, when that is all its `after` says."""
        if isinstance(self.after, dict) and set(self.after) == {"description"}:
            return str(self.after["description"])
        return ""

    @property
    def status_badge(self) -> str:
        return {
            "done": "badge-ok",
            "failed": "badge-bad",
            "unknown": "badge-warn",
            "kept": "badge-info",
        }.get(self.status, "")


class PeriodicJobState(models.Model):
    """When a periodic job (console.periodic) is next due, shared by every worker.

    A worker takes a due job with one conditional UPDATE (`next_run_at <= now` → now + interval):
    of several workers on one database exactly one matches, on SQLite and PostgreSQL alike.
    """

    name = models.CharField(max_length=100, primary_key=True)
    next_run_at = models.DateTimeField()
    runs = models.PositiveIntegerField(default=0)
    last_claimed_by = models.CharField(max_length=200, blank=True, default="")
    last_claimed_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"{self.name} (next {self.next_run_at:%Y-%m-%d %H:%M:%S})"


class BackgroundApply(models.Model):
    """A changeset applied by the worker (changes/background.py): its task, who runs it, and how
    it ended, so the page shows progress, an error and Retry, and a run killed with its worker is
    found and resumed."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    changeset = models.OneToOneField(Changeset, on_delete=models.CASCADE, related_name="background")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.CharField(max_length=150)
    task_id = models.CharField(max_length=64, blank=True, default="")
    # "host:pid" of the worker running it (a lease that dies with the process, as the engine's).
    worker = models.CharField(max_length=200, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    queued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Before a recorded SPEC's first call the run reads each tenant's state on the server to
    # check the plan still holds (a second or more for hundreds): how far that check is.
    checked = models.PositiveIntegerField(default=0)
    to_check = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"background apply of changeset {self.changeset_id}: {self.status}"
