"""An identity provider the console configures: one row per provider key
(docs/identity-providers.md).

`settings` holds the non-secret values in the SPEC's nested shape (so a row is a SPEC entry
without its secrets). `secrets` holds each secret field's value by field key: either `env:NAME`
(only a name: the value is read from the environment when a snippet is exported) or the literal.

Secret storage, decided: the console has no key management of its own and adds no crypto
dependency, so a literal is stored as typed, in this separate column that no page, form, audit
entry, log line or exported SPEC ever shows. Anyone who can read the console's database (or a
backup of it) can read such a literal; `env:NAME` avoids that and is what the pages recommend.
A literal is needed for one thing the environment cannot do: pushing a tenant's provider
configuration to the apiserver from the browser (sso.save_provider_configuration).
"""

from django.db import models

from .catalog import PROVIDERS

# The longest value of one setting (a URL, a client id, a claim name, a list item); the forms,
# the SPEC checker (spec.py) and the templates' maxlength use it.
MAX_SETTING_VALUE = 4096


class IdentityProvider(models.Model):
    provider = models.CharField(
        max_length=32,
        unique=True,
        choices=[(p.key, p.label) for p in PROVIDERS.values()],
    )
    settings = models.JSONField(default=dict, blank=True)
    secrets = models.JSONField(default=dict, blank=True)
    allow_http = models.BooleanField(default=False)
    # SAML only: the IdP metadata XML to mount through apiserver.additionalConfigs (Helm).
    metadata_xml = models.TextField(blank=True, default="")
    # Indexes of the provider-side checklist steps the admin ticked.
    checklist = models.JSONField(default=list, blank=True)
    # Optimistic locking: every edit form carries the version it was rendered with.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(provider__in=list(PROVIDERS)),
                name="idp_provider_known",
            ),
        ]

    def __str__(self) -> str:
        return self.definition.label

    def __repr__(self) -> str:  # never the secrets
        return f"<IdentityProvider {self.provider} v{self.version}>"

    @property
    def definition(self):
        return PROVIDERS[self.provider]
