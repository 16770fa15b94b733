"""Cross-tenant groups, built-in group feature lists and organization settings.

These are server configuration (CLEARML__… variables, see tenants/groups/settings.py), not
apiserver calls: the console keeps the desired values and exports snippets. The models live in
the `tenants` app (imported from tenants/models.py).
"""

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

MAX_GROUP_NAME = 100
MAX_DISPLAY_NAME = 200
BUILTIN_GROUPS = ("users", "admins", "queue_admins")
# letters and digits joined by single underscores, starting with a letter (see validation.py).
GROUP_NAME_REGEX = r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$"


class CrossTenantGroup(models.Model):
    """A group defined in the server configuration: `services.auth.default_groups.<name>`."""

    # The <GroupName> of the variable names; the server lower-cases it.
    name = models.CharField(max_length=MAX_GROUP_NAME)
    display_name = models.CharField(max_length=MAX_DISPLAY_NAME, blank=True, default="")
    # The group's `id`: generated once when the group is made, and kept (renames keep it).
    group_id = models.UUIDField(default=uuid.uuid4, unique=True)
    features = models.JSONField(default=list, blank=True)
    assignable = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="group_name_unique_ignoring_case"),
            models.CheckConstraint(
                condition=Q(name__regex=GROUP_NAME_REGEX), name="group_name_valid_variable_path"
            ),
            models.CheckConstraint(
                condition=~Q(name__iexact="users")
                & ~Q(name__iexact="admins")
                & ~Q(name__iexact="queue_admins"),
                name="group_name_not_builtin",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def shown_name(self) -> str:
        """The `name` property exported to the server: the display name, or the group name."""
        return self.display_name or self.name


class BuiltinGroupFeatures(models.Model):
    """The `features` list of a built-in group. No row (or features None): not configured, the
    server's default applies and nothing is exported; `[]` is a real, exported empty list."""

    name = models.CharField(max_length=20, unique=True, choices=[(n, n) for n in BUILTIN_GROUPS])
    features = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(name__in=BUILTIN_GROUPS), name="builtin_group_name_known"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class OrganizationSettings(models.Model):
    """Server-wide settings, one row (pk 1).

    `features`: organization-wide features (`services.organization.features.<name>: true`).
    `unique_company_names`: `apiserver.company.unique_names`; None means not exported.
    `ui_features_per_role`: {role: {ui feature: bool}} for
    `services.auth.ui_features_per_role.<role>.<feature>`.
    `builtin_version` guards the built-in groups form, `version` this row's own form.
    """

    features = models.JSONField(default=list, blank=True)
    unique_company_names = models.BooleanField(null=True, blank=True)
    ui_features_per_role = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    builtin_version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="organization_settings_single_row"),
        ]

    def __str__(self) -> str:
        return "Organization settings"

    @classmethod
    def load(cls) -> "OrganizationSettings":
        row, _ = cls.objects.get_or_create(pk=1)
        return row
