"""Sign-in routing: the email domains and whitelisted emails that send a new user to a tenant.

Uniqueness is enforced by the database: a normalised domain or email belongs to one tenant at
most, so two admins racing cannot both win (ClearML's routing is unstable otherwise).
"""

from django.db import models

from tenants.models import Tenant


class LoginDomain(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="login_domains")
    domain = models.CharField(max_length=253, unique=True)  # normalised: lower case, IDNA
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class WhitelistEntry(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="whitelist")
    email = models.CharField(max_length=254, unique=True)  # normalised: lower case, IDNA domain
    is_admin = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email"]
        verbose_name_plural = "whitelist entries"

    def __str__(self) -> str:
        return self.email
