"""Creating, changing and deleting identity providers, each with its audit entry.

The form and the SPEC both arrive here as a checked `ProviderEntry` (spec.py). Secret values go to
the audit service only in its before/after with their names listed as secret fields, so the entry
records "set"/"changed"/"unchanged" and never the value.
"""

import xml.etree.ElementTree as ET  # noqa: S405 - admin-supplied metadata, size-capped, no DTDs

from django.db import transaction

from console.audit import audit_record
from console.validation import FieldError, InvalidInput

from .models import IdentityProvider
from .spec import ProviderEntry

MAX_METADATA_BYTES = 1024 * 1024
TARGET_TYPE = "identity_provider"


def split_entry(entry: ProviderEntry) -> tuple[dict, dict]:
    """(settings in the SPEC's nested shape without secrets, {secret field key: value})."""
    spec = entry.as_spec()
    spec.pop("provider", None)
    spec.pop("allow_http", None)
    secrets = {}
    for f in entry.provider.secret_fields:
        if f.key in entry.values:
            secrets[f.key] = entry.values[f.key]
            spec.pop(f.key, None)  # secret fields are top-level keys in every provider
    return spec, secrets


def stored_entry_data(idp: IdentityProvider) -> dict:
    """The row as a SPEC entry, secrets included: what validation and export read."""
    data = {"provider": idp.provider, **idp.settings, **idp.secrets}
    if idp.allow_http:
        data["allow_http"] = True
    return data


def check_metadata_xml(text: str, path: str = "metadata_xml") -> str:
    """An IdP metadata document: well-formed XML whose root is an (Entities)EntityDescriptor."""
    text = (text or "").strip()
    if not text:
        return ""
    if len(text.encode("utf-8")) > MAX_METADATA_BYTES:
        raise InvalidInput(FieldError(path, "is larger than 1 MiB; that is not IdP metadata"))
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise InvalidInput(FieldError(path, "must not contain a DOCTYPE or entity declarations"))
    try:
        root = ET.fromstring(text)  # noqa: S314 - DTDs refused above
    except ET.ParseError as exc:
        raise InvalidInput(FieldError(path, f"is not well-formed XML ({exc})")) from None
    tag = root.tag.rsplit("}", 1)[-1]
    if tag not in ("EntityDescriptor", "EntitiesDescriptor"):
        raise InvalidInput(
            FieldError(path, f"the root element is <{tag}>, not a SAML <EntityDescriptor>")
        )
    return text


def _audit_view(idp: IdentityProvider | None) -> dict | None:
    if idp is None:
        return None
    return {
        "provider": idp.provider,
        "settings": idp.settings,
        "write_only": dict(idp.secrets),  # each value masked by the audit service
        "allow_http": idp.allow_http,
        "metadata_xml": "(set)" if idp.metadata_xml else "",
    }


def _secret_names(idp: IdentityProvider) -> list[str]:
    return [f"write_only.{f.key}" for f in idp.definition.secret_fields]


@transaction.atomic
def idp_create(*, actor: str, entry: ProviderEntry, metadata_xml: str = "") -> IdentityProvider:
    key = entry.provider.key
    if IdentityProvider.objects.filter(provider=key).exists():
        raise InvalidInput(
            FieldError("provider", f"{entry.provider.label} is already configured; edit it instead")
        )
    settings, secrets = split_entry(entry)
    idp = IdentityProvider.objects.create(
        provider=key,
        settings=settings,
        secrets=secrets,
        allow_http=entry.allow_http,
        metadata_xml=check_metadata_xml(metadata_xml) if entry.provider.uses_metadata_file else "",
    )
    audit_record(
        actor=actor,
        action="idp.create",
        target_type=TARGET_TYPE,
        target_id=key,
        target_repr=entry.provider.label,
        after=_audit_view(idp),
        secret_fields=_secret_names(idp),
    )
    return idp


@transaction.atomic
def idp_update(
    *,
    actor: str,
    idp: IdentityProvider,
    entry: ProviderEntry,
    version: int,
    metadata_xml: str | None = None,
) -> IdentityProvider:
    """Replace the provider's settings; secrets not in `entry` are removed (the form keeps a set
    secret by passing it through unless the admin typed a new one)."""
    locked = IdentityProvider.objects.select_for_update().get(pk=idp.pk)
    if locked.version != version:
        raise InvalidInput(
            FieldError(
                "version",
                "someone changed this provider since you opened the page; reload it and make "
                "your change again",
            )
        )
    if entry.provider.key != locked.provider:
        raise InvalidInput(FieldError("provider", "the provider of a row cannot change"))
    before = _audit_view(locked)
    settings, secrets = split_entry(entry)
    locked.settings = settings
    locked.secrets = secrets
    locked.allow_http = entry.allow_http
    if metadata_xml is not None and entry.provider.uses_metadata_file:
        locked.metadata_xml = check_metadata_xml(metadata_xml)
    locked.version += 1
    locked.save()
    audit_record(
        actor=actor,
        action="idp.update",
        target_type=TARGET_TYPE,
        target_id=locked.provider,
        target_repr=entry.provider.label,
        before=before,
        after=_audit_view(locked),
        secret_fields=_secret_names(locked),
    )
    return locked


@transaction.atomic
def idp_delete(*, actor: str, idp: IdentityProvider) -> None:
    locked = IdentityProvider.objects.select_for_update().get(pk=idp.pk)
    before = _audit_view(locked)
    audit_record(
        actor=actor,
        action="idp.delete",
        target_type=TARGET_TYPE,
        target_id=locked.provider,
        target_repr=locked.definition.label,
        before=before,
        secret_fields=_secret_names(locked),
    )
    locked.delete()


@transaction.atomic
def idp_set_checklist(*, actor: str, idp: IdentityProvider, done: list[int]) -> IdentityProvider:
    steps = len(idp.definition.steps)
    clean = sorted({i for i in done if 0 <= i < steps})
    locked = IdentityProvider.objects.select_for_update().get(pk=idp.pk)
    before = {"checklist": locked.checklist}
    locked.checklist = clean
    locked.save(update_fields=["checklist", "updated_at"])
    audit_record(
        actor=actor,
        action="idp.checklist",
        target_type=TARGET_TYPE,
        target_id=locked.provider,
        target_repr=locked.definition.label,
        before=before,
        after={"checklist": clean},
    )
    return locked


def record_export(*, actor: str, providers: list[str], fmt: str) -> None:
    """A download that carried secret values: who, which providers, which format."""
    audit_record(
        actor=actor,
        action="idp.export",
        target_type=TARGET_TYPE,
        target_id=",".join(providers),
        target_repr=f"snippet with secret values ({fmt})",
    )
