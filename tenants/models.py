"""Tenants (ClearML companies) and their admin users, as the console knows them."""

from django.db import models
from django.db.models.functions import Lower

from console.identifiers import MAX_COMPANY_ID, MAX_EMAIL_LENGTH

# Length limits, defined once here and imported by the validation layer, the forms and templates.
# The apiserver accepts longer names (256 characters); the console keeps to these.
MAX_TENANT_NAME = 100
MAX_ADMIN_NAME = 200


class Tenant(models.Model):
    class Origin(models.TextChoices):
        CONSOLE = "console", "Created in the console"
        IMPORTED = "imported", "Imported from the apiserver"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        PROVISIONING = "provisioning", "Provisioning"
        FAILED = "failed", "Failed part-way"
        ACTIVE = "active", "Active"
        DELETED = "deleted", "Deleted"

    name = models.CharField(max_length=MAX_TENANT_NAME)
    company_id = models.CharField(max_length=MAX_COMPANY_ID, blank=True, default="")
    allowed_users = models.PositiveIntegerField(null=True, blank=True)
    features = models.JSONField(default=list, blank=True)
    exclude_features = models.JSONField(default=list, blank=True)
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.CONSOLE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    # Optimistic locking: every edit form carries the version it was rendered with.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # While a provisioning run holds the tenant (status "provisioning"), nobody else may run its
    # steps; a run that died leaves the lease to expire so the tenant can be resumed.
    lease_until = models.DateTimeField(null=True, blank=True)
    # Who holds the lease ("host:pid"): a lease whose process is gone on this host is taken back
    # at once instead of waiting for it to expire.
    lease_owner = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                condition=models.Q(deleted_at__isnull=True),
                name="tenant_name_unique_ignoring_case",
            ),
            models.UniqueConstraint(
                fields=["company_id"],
                condition=~models.Q(company_id=""),
                name="tenant_company_id_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(allowed_users__isnull=True) | models.Q(allowed_users__gt=0),
                name="tenant_allowed_users_positive",
            ),
        ]
        indexes = [models.Index(Lower("name"), name="tenant_name_lower_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def first_admin(self) -> "TenantAdmin | None":
        return self.admins.exclude(user_id="").order_by("id").first()


class TenantAdmin(models.Model):
    """An admin user of a tenant. `user_id` is the ClearML user id once created."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="admins")
    name = models.CharField(max_length=MAX_ADMIN_NAME)
    email = models.CharField(max_length=MAX_EMAIL_LENGTH)
    internal = models.BooleanField(default=True)
    user_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the tenant is deleted by runbook, so the email may be given to a new tenant.
    released = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"],
                condition=models.Q(released=False),
                name="tenant_admin_email_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class ProvisioningStep(models.Model):
    """One apiserver call of a tenant's provisioning run, recorded before and after it is sent.

    Bodies may hold placeholders (`{{company_id}}`, `{{user_id:<email>}}`) that are filled in from
    the results of earlier steps when the step runs. A step left "sent" or "unknown" is checked
    with a read call before it is sent again, so nothing is created twice.
    """

    class Kind(models.TextChoices):
        COMPANY_CREATE = "company.create", "Create the company"
        USER_CREATE = "user.create", "Create an admin user"
        CREDENTIALS_CREATE = "credentials.create", "Create credentials"
        # Offboarding (changes/offboarding.py): auth.revoke_credentials of a key the console issued.
        CREDENTIALS_REVOKE = "credentials.revoke", "Revoke credentials"
        CALL = "call", "Apiserver call"

    class Status(models.TextChoices):
        PENDING = "pending", "Not sent yet"
        SENT = "sent", "Sent, no answer recorded"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Answer lost"
        SUPERSEDED = "superseded", "Replaced by a later run"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="steps")
    run = models.PositiveIntegerField(default=1)
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=32, choices=Kind.choices)
    admin = models.ForeignKey(
        TenantAdmin, null=True, blank=True, on_delete=models.SET_NULL, related_name="steps"
    )
    endpoint = models.CharField(max_length=100)
    body = models.JSONField(default=dict, blank=True)
    act_as = models.CharField(max_length=300, blank=True, default="")
    impersonate_as = models.CharField(max_length=300, blank=True, default="")
    description = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Ids the server returned (company id, user id, access key): never a secret.
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The audit entry written (outcome "pending") before the call; its outcome entry links to it.
    pending_seq = models.BigIntegerField(null=True, blank=True)
    # The changeset (change pipeline) that recorded this step.
    changeset = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["tenant_id", "run", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "run", "position"], name="provisioning_step_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}#{self.run}.{self.position} {self.endpoint} ({self.status})"


class IssuedCredential(models.Model):
    """An access key the console created and showed once. The secret is never stored.

    Kept so that after a lost `auth.create_credentials` answer the console can tell the keys it
    showed from the one nobody saw and revoke only the latter, and so that offboarding revokes
    the keys the console handed out (`revoked_at`, set once `auth.revoke_credentials` is done).
    """

    admin = models.ForeignKey(TenantAdmin, on_delete=models.CASCADE, related_name="credentials")
    access_key = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.access_key


# Groups & features (tenants/groups/): cross-tenant groups, built-in groups, organization settings.
from tenants.groups.models import (  # noqa: E402, F401
    BuiltinGroupFeatures,
    CrossTenantGroup,
    OrganizationSettings,
)
