"""API tokens (stored as a hash) and the sessions people can see and end."""

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only a SHA-256 of the token is kept; the token itself
    is printed once when it is created."""

    class Role(models.TextChoices):
        VIEWER = "viewer", "Viewer"
        OPERATOR = "operator", "Operator"
        ADMIN = "admin", "Admin"

    name = models.CharField(max_length=100, unique=True)
    role = models.CharField(max_length=10, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    # The token's first characters, to recognise it in a list without keeping it.
    prefix = models.CharField(max_length=12)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"token:{self.name}"


class UserSession(models.Model):
    """A signed-in session of a person: who, since when, from where; ended by deleting it (and
    its Django session)."""

    session_key = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    # How they signed in: "local" (break-glass admin) or "oidc".
    method = models.CharField(max_length=10, default="local")
    role = models.CharField(max_length=10, blank=True, default="")
    signed_in_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    client_address = models.CharField(max_length=64, blank=True, default="")
    user_agent = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-signed_in_at"]

    def __str__(self) -> str:
        return f"{self.user} since {self.signed_in_at:%Y-%m-%d %H:%M}"
