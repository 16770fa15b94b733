"""Sign-in routing: the email domains and whitelisted emails that send a new user to a tenant.

Uniqueness is enforced by the database: a normalised domain or email belongs to one tenant at
most, so two admins racing cannot both win (ClearML's routing is unstable otherwise).

A tenant's domains, its whitelisted admins and its whitelisted users are each a list in the order
the admin gave them: `position` orders the rows of one list (gaps are fine, a removal leaves one;
an entry added from a page goes at the end).
"""

from django.db import models
from django.db.models.functions import Lower, Trim

from console.identifiers import MAX_DOMAIN_LENGTH, MAX_EMAIL_LENGTH
from tenants.models import Tenant


class LoginDomain(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="login_domains")
    # normalised: lower case, IDNA
    domain = models.CharField(max_length=MAX_DOMAIN_LENGTH, unique=True)
    # The domain's place in the tenant's list of domains.
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant_id", "position", "id"]
        indexes = [models.Index(fields=["tenant", "position"], name="login_domain_position_idx")]
        constraints = [
            # The service stores normalised values; the database refuses anything else.
            models.CheckConstraint(
                condition=models.Q(domain=Lower(Trim("domain"))) & ~models.Q(domain=""),
                name="login_domain_normalised",
            ),
        ]

    def __str__(self) -> str:
        return self.domain


class WhitelistEntry(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="whitelist")
    # normalised: lower case, IDNA domain
    email = models.CharField(max_length=MAX_EMAIL_LENGTH, unique=True)
    is_admin = models.BooleanField(default=False)
    # The email's place in its list: the tenant's whitelisted admins, or its whitelisted users.
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant_id", "is_admin", "position", "id"]
        verbose_name_plural = "whitelist entries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower(Trim("email"))) & models.Q(email__contains="@"),
                name="whitelist_email_normalised",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "is_admin"], name="whitelist_tenant_role_idx"),
            models.Index(fields=["tenant", "is_admin", "position"], name="whitelist_position_idx"),
        ]

    def __str__(self) -> str:
        return self.email


class RoutingPushJob(models.Model):
    """One push of a tenant's routing to the apiserver, made of ordered batches.

    A job runs batch by batch (in one process for `apply`, one step per poll for the browser) and
    can be resumed after a failure part-way: applied batches are never sent again.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FAILED = "failed", "Failed part-way"
        DONE = "done", "Done"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="routing_pushes")
    actor = models.CharField(max_length=150)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    act_as = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")
    resumes = models.PositiveIntegerField(default=0)
    # A short lease so two pollers (two tabs, two workers) never send batches at the same time.
    lease_until = models.DateTimeField(null=True, blank=True)
    # The changeset this push is (its audit key; empty for a job that sent nothing): its steps
    # are the batches, and every batch's audit entries carry it.
    changeset = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # At most one unfinished push per tenant: a second push resumes the first.
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(status__in=["running", "failed"]),
                name="routing_push_one_open_job_per_tenant",
            ),
        ]

    def __str__(self) -> str:
        return f"push #{self.pk} of {self.tenant_id} ({self.status})"


class RoutingPushBatch(models.Model):
    """One apiserver call of a push job and what became of it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Not sent yet"
        SENDING = "sending", "Sending"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"
        REPLANNED = "replanned", "Failed, re-planned on resume"

    job = models.ForeignKey(RoutingPushJob, on_delete=models.CASCADE, related_name="batches")
    seq = models.PositiveIntegerField()
    endpoint = models.CharField(max_length=100)
    body = models.JSONField(default=dict)
    description = models.CharField(max_length=300, blank=True, default="")
    item_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True, default="")
    # True when the call may have reached the server before failing (timeout, dropped answer).
    outcome_unknown = models.BooleanField(default=False)
    # The audit entry written ("pending") before the call; the outcome entry links to it.
    pending_seq = models.BigIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["job", "seq"], name="routing_push_batch_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} #{self.seq} ({self.status})"


class RoutingImport(models.Model):
    """A checked bulk import of whitelist emails, waiting for the admin to save it.

    Only an import whose every line is valid is stored; `entries` holds `[email, is_admin, line]`
    with the email already normalised.
    """

    class Status(models.TextChoices):
        CHECKED = "checked", "Checked"
        SAVED = "saved", "Saved"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="routing_imports")
    actor = models.CharField(max_length=150)
    source = models.CharField(max_length=255, blank=True, default="")
    role_mode = models.CharField(max_length=10)
    entries = models.JSONField(default=list)
    summary = models.JSONField(default=dict)
    warnings = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CHECKED)
    created_at = models.DateTimeField(auto_now_add=True)
    saved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"import #{self.pk} of {self.tenant_id} ({self.status})"


# Identity providers and multi-tenant login live in their own modules (issue 7).
from .multitenant.models import MultiTenantLogin, TenantSSOConfig  # noqa: E402, F401
from .providers.models import IdentityProvider  # noqa: E402, F401
