"""Tenants (ClearML companies) and their admin users, as the console knows them."""

from django.db import models
from django.db.models.functions import Lower

MAX_TENANT_NAME = 100


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
    company_id = models.CharField(max_length=64, blank=True, default="")
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
    name = models.CharField(max_length=200)
    email = models.CharField(max_length=254)
    internal = models.BooleanField(default=True)
    user_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["email"], name="tenant_admin_email_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"
