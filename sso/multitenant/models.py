"""Multi-tenant login mode: the server switches (one row) and each tenant's SSO configuration.

A tenant's `client_secret` is stored like an identity provider's (see sso/providers/models.py):
`env:NAME` or the literal, in its own column that no page, audit entry or export shows.
"""

from django.db import models

from tenants.models import Tenant

# Length limits, defined once here; sso/multitenant/spec.py and the tenant SSO form use them.
MAX_EXTERNAL_TENANT = (
    100  # the external tenant id (it is part of the login link <webapp>/login/<id>)
)
MAX_IDP_GROUP_NAME = 200  # an IdP or ClearML group name in group_mapping / admin_groups


class MultiTenantLogin(models.Model):
    """The server switches of sso_multi_tenant_login.md. A single row (pk 1) once saved."""

    enabled = models.BooleanField(default=False)  # services.login.sso.tenant_login
    allow_settings_providers = models.BooleanField(default=False)
    only_password_login = models.BooleanField(default=True)  # WEBSERVER__onlyPasswordLogin
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "multi-tenant login settings"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="mtl_single_row")]

    def __str__(self) -> str:
        return "on" if self.enabled else "off"


class TenantSSOConfig(models.Model):
    """One tenant's external tenant id, group mapping, admin groups and provider configuration."""

    class PushStatus(models.TextChoices):
        NEVER = "never", "Not pushed yet"
        PENDING = "pending", "Changed since the last push"
        OK = "ok", "Pushed"
        FAILED = "failed", "Push failed"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="sso_config")
    external_tenant = models.CharField(max_length=MAX_EXTERNAL_TENANT, unique=True)
    group_mapping = models.JSONField(default=dict, blank=True)
    admin_groups = models.JSONField(default=list, blank=True)
    provider = models.CharField(max_length=32, blank=True, default="")
    # sso.save_provider_configuration's configuration, without client_secret.
    configuration = models.JSONField(default=dict, blank=True)
    client_secret = models.TextField(blank=True, default="")
    allow_http = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    push_status = models.CharField(
        max_length=16, choices=PushStatus.choices, default=PushStatus.NEVER
    )
    # A keyed hash of the last bodies pushed successfully: `apply` sends nothing when unchanged.
    pushed_fingerprint = models.CharField(max_length=128, blank=True, default="")
    pushed_at = models.DateTimeField(null=True, blank=True)
    push_error = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant__name"]
        verbose_name = "tenant SSO configuration"

    def __str__(self) -> str:
        return f"{self.tenant} ↔ {self.external_tenant}"

    def __repr__(self) -> str:  # never the secret
        return f"<TenantSSOConfig {self.tenant_id} {self.external_tenant}>"

    @property
    def has_provider(self) -> bool:
        return bool(self.configuration)

    def as_sso_data(self) -> dict:
        """The row as a `tenants[].sso` SPEC section, secret included (for validation/push)."""
        data: dict = {"tenant": self.external_tenant}
        if self.group_mapping:
            data["group_mapping"] = dict(self.group_mapping)
        if self.admin_groups:
            data["admin_groups"] = list(self.admin_groups)
        if self.configuration:
            data["provider"] = self.provider or "keycloak"
            data["configuration"] = dict(self.configuration)
            if self.client_secret:
                data["configuration"]["client_secret"] = self.client_secret
        if self.allow_http:
            data["allow_http"] = True
        return data
