"""Multi-tenant login: saving the switches and tenant configurations, planning and pushing calls.

The calls (sso_multi_tenant_login.md, "Setup IdP for a ClearML Tenant"):
1. `system.update_company_sso_config {company, sso: {tenant, group_mapping, admin_groups}}`
2. `sso.save_provider_configuration {provider, company, configuration: {...}}` when the tenant has
   a provider configuration.
The docs do not say whether the server merges or replaces these; the console always sends the
whole `sso` object and the whole configuration, so either way the server ends up with exactly
what the console shows. The docs name no call that reads them back, so `apply` decides whether
to send them from a keyed hash of the bodies it last pushed successfully (kept on the row).
"""

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from console.apiserver import ApiError, CallRecord, client_from_settings
from console.apiserver.plan import PlannedCall
from console.audit import audit_record
from console.audit.masking import scrub_text
from console.secret_ref import resolve_secret
from console.validation import FieldError, InvalidInput, join_path
from sso.providers.spec import env_reference

from .models import MultiTenantLogin, TenantSSOConfig
from .spec import TenantSSO, tenant_sso_validate

SECRET_SHOWN = "<client secret: write-only, not shown>"  # noqa: S105 - a marker, not a secret
FINGERPRINT_SALT = "sso.multitenant.pushed"


@dataclass
class SecretPlannedCall(PlannedCall):
    """A planned call whose body carries a secret: `body` (shown by plan, curl, audit) holds a
    marker; `execute` sends the real value. `secret_values` maps a dotted body path to it."""

    secret_values: dict[str, str] = field(default_factory=dict, repr=False)

    def real_body(self) -> dict:
        body = copy.deepcopy(self.body)
        for dotted, value in self.secret_values.items():
            node = body
            *parents, last = dotted.split(".")
            for part in parents:
                node = node[part]
            node[last] = value
        return body

    def execute(self, client) -> dict:
        return client.call(
            self.endpoint,
            self.real_body(),
            act_as=self.act_as or None,
            impersonate_as=self.impersonate_as or None,
        )


def _resolve(value: str, path: str, environ: Mapping[str, str]) -> str:
    return resolve_secret(
        value, path, environ=environ, where="the process that pushes the configuration"
    )


def _company_of(tenant) -> str:
    return getattr(tenant, "company_id", "") or f"<company id of tenant {tenant.name}>"


def tenant_sso_calls(
    *,
    tenant,
    sso: TenantSSO | dict,
    environ: Mapping[str, str] | None = None,
    skip_unchanged: bool = True,
    path: str | None = None,
    resolve: bool = True,
) -> list[PlannedCall]:
    """The calls that make the apiserver hold this tenant's SSO configuration.

    `tenant` is a tenants.models.Tenant (or anything with `name` and `company_id`); before the
    company exists, its id in the bodies is a placeholder. `sso` is a checked TenantSSO or a SPEC
    section (checked here). `env:NAME` values are read now; an unset one raises InvalidInput
    naming the field. With `skip_unchanged`, nothing is returned when the console already pushed
    exactly these bodies for this tenant. With `resolve=False` (pages), env:NAME values stay
    markers and nothing is read from the environment.
    """
    if not isinstance(sso, TenantSSO):
        sso = tenant_sso_validate(sso, path or "sso")
    base = path if path is not None else sso.path
    environ = os.environ if environ is None else environ
    company = _company_of(tenant)
    calls: list[PlannedCall] = [
        PlannedCall(
            endpoint="system.update_company_sso_config",
            body=sso.company_body(company),
            description=(
                f"Associate tenant {tenant.name} with the external tenant {sso.tenant} "
                f"({len(sso.group_mapping)} group mapping(s), {len(sso.admin_groups)} admin "
                "group(s))"
            ),
        )
    ]
    if sso.configuration:
        conf_path = join_path(base, "configuration")
        configuration: dict = {"id": sso.configuration.get("id") or company}
        secret_values: dict[str, str] = {}
        for key, value in sso.configuration.items():
            if key == "id":
                continue
            if key == "client_secret":
                if resolve:
                    secret_values["configuration.client_secret"] = _resolve(
                        value, join_path(conf_path, key), environ
                    )
                configuration[key] = SECRET_SHOWN
            elif key == "client_id" and env_reference(value):
                configuration[key] = (
                    _resolve(value, join_path(conf_path, key), environ)
                    if resolve
                    else f"<read from ${env_reference(value)}>"
                )
            else:
                configuration[key] = value
        calls.append(
            SecretPlannedCall(
                endpoint="sso.save_provider_configuration",
                body={"provider": sso.provider, "company": company, "configuration": configuration},
                description=f"Save the {sso.provider} sign-in configuration of {tenant.name}",
                secret_values=secret_values,
            )
        )
    if (
        resolve
        and skip_unchanged
        and getattr(tenant, "pk", None)
        and getattr(tenant, "company_id", "")
    ):
        row = TenantSSOConfig.objects.filter(tenant_id=tenant.pk).first()
        if row is not None and row.pushed_fingerprint == calls_fingerprint(calls):
            return []
    return calls


def calls_fingerprint(calls: list[PlannedCall]) -> str:
    """A keyed hash of the bodies really sent (secrets included, so a new secret is a change)."""
    parts = []
    for call in calls:
        body = call.real_body() if isinstance(call, SecretPlannedCall) else call.body
        parts.append(f"{call.endpoint}:{_canonical(body)}")
    return salted_hmac(FINGERPRINT_SALT, "\n".join(parts), algorithm="sha256").hexdigest()


def _canonical(value) -> str:
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _audit_view(row: TenantSSOConfig | None) -> dict | None:
    if row is None:
        return None
    return {
        "external_tenant": row.external_tenant,
        "group_mapping": row.group_mapping,
        "admin_groups": row.admin_groups,
        "provider": row.provider,
        "configuration": row.configuration,
        "client_secret": row.client_secret,
        "allow_http": row.allow_http,
    }


SECRET_FIELDS = ("client_secret",)


def _apply(row: TenantSSOConfig, sso: TenantSSO) -> None:
    row.external_tenant = sso.tenant
    row.group_mapping = sso.group_mapping
    row.admin_groups = sso.admin_groups
    conf = dict(sso.configuration)
    row.client_secret = str(conf.pop("client_secret", "") or "")
    row.configuration = conf
    row.provider = sso.provider if conf else ""
    row.allow_http = sso.allow_http


def _refuse_taken_external_tenant(tenant, sso: TenantSSO, path: str) -> None:
    other = (
        TenantSSOConfig.objects.filter(external_tenant__iexact=sso.tenant)
        .exclude(tenant_id=tenant.pk)
        .select_related("tenant")
        .first()
    )
    if other is not None:
        raise InvalidInput(
            FieldError(
                path,
                f"the external tenant '{sso.tenant}' is already associated with tenant "
                f"'{other.tenant.name}'; an external tenant can belong to one ClearML tenant only",
            )
        )


@transaction.atomic
def tenant_sso_update(
    *, actor: str, tenant, sso: TenantSSO, version: int | None = None
) -> TenantSSOConfig:
    """Create or replace a tenant's SSO configuration in the console (nothing is sent yet)."""
    _refuse_taken_external_tenant(tenant, sso, "tenant")
    row = TenantSSOConfig.objects.select_for_update().filter(tenant_id=tenant.pk).first()
    if row is not None and version is not None and row.version != version:
        raise InvalidInput(
            FieldError(
                "version",
                "someone changed this tenant's SSO configuration since you opened the page; "
                "reload it and make your change again",
            )
        )
    before = _audit_view(row)
    if row is None:
        row = TenantSSOConfig(tenant=tenant)
    else:
        row.version += 1
    _apply(row, sso)
    after = _audit_view(row)
    if before != after:
        row.push_status = TenantSSOConfig.PushStatus.PENDING
    row.save()
    audit_record(
        actor=actor,
        action="sso.tenant_config.update",
        target_type="tenant",
        target_id=str(tenant.pk),
        target_repr=tenant.name,
        before=before,
        after=after,
        secret_fields=SECRET_FIELDS,
    )
    return row


@transaction.atomic
def tenant_sso_delete(*, actor: str, row: TenantSSOConfig) -> None:
    """Forget the configuration in the console. The docs name no call that removes it from the
    apiserver, so the server keeps what was pushed; the page says so."""
    before = _audit_view(row)
    audit_record(
        actor=actor,
        action="sso.tenant_config.delete",
        target_type="tenant",
        target_id=str(row.tenant_id),
        target_repr=row.tenant.name,
        before=before,
        secret_fields=SECRET_FIELDS,
    )
    row.delete()


@dataclass
class PushResult:
    ok: bool
    message: str
    calls: list[CallRecord] = field(default_factory=list)


def scrub_call_records(records: list[CallRecord], secrets: list[str]) -> None:
    """The client records the server's words as they came; a server that quotes the secret it
    refused must not put it into the audit entry's calls."""
    for record in records:
        record.result_msg = scrub_text(record.result_msg, secrets)
        record.error = scrub_text(record.error, secrets)


def tenant_sso_push(
    *, actor: str, row: TenantSSOConfig, environ: Mapping[str, str] | None = None
) -> PushResult:
    """Send the tenant's configuration to the apiserver: audit 'pending' first, then the outcome."""
    tenant = row.tenant
    if not tenant.company_id:
        raise InvalidInput(
            FieldError("", f"tenant {tenant.name} has no ClearML company yet; provision it first")
        )
    sso = tenant_sso_validate(row.as_sso_data(), "")
    calls = tenant_sso_calls(tenant=tenant, sso=sso, environ=environ, skip_unchanged=False)
    secrets = [
        v for c in calls if isinstance(c, SecretPlannedCall) for v in c.secret_values.values()
    ]
    target = {"target_type": "tenant", "target_id": str(tenant.pk), "target_repr": tenant.name}
    planned = {"calls": [c.as_dict() for c in calls]}
    with transaction.atomic():
        pending = audit_record(
            actor=actor, action="sso.tenant_config.push", outcome="pending", after=planned, **target
        )
    records: list[CallRecord] = []
    client = client_from_settings(on_call=records.append)
    error = ""
    try:
        for call in calls:
            call.execute(client)
    except ApiError as exc:
        error = scrub_text(str(exc), secrets)
        if exc.outcome_unknown:
            error += " (the server may have applied part of it; pushing again is safe)"
    scrub_call_records(records, secrets)
    with transaction.atomic():
        locked = TenantSSOConfig.objects.select_for_update().get(pk=row.pk)
        if error:
            locked.push_status = TenantSSOConfig.PushStatus.FAILED
            locked.push_error = error
        else:
            locked.push_status = TenantSSOConfig.PushStatus.OK
            locked.push_error = ""
            locked.pushed_fingerprint = calls_fingerprint(calls)
            locked.pushed_at = timezone.now()
        locked.save(
            update_fields=[
                "push_status",
                "push_error",
                "pushed_fingerprint",
                "pushed_at",
                "updated_at",
            ]
        )
        audit_record(
            actor=actor,
            action="sso.tenant_config.push",
            outcome="failure" if error else "success",
            error=error,
            after=planned,
            calls=records,
            outcome_of=pending.seq,
            **target,
        )
    if error:
        return PushResult(False, f"The push failed: {error}", records)
    return PushResult(True, f"Pushed {len(calls)} call(s) for tenant {tenant.name}.", records)


@transaction.atomic
def tenant_sso_record_pushed(*, actor: str, tenant, sso: TenantSSO | dict, calls) -> None:
    """For `apply`: after the calls of `tenant_sso_calls` succeeded, keep the configuration in the
    console and remember the bodies, so the next apply of the same SPEC sends nothing."""
    if not isinstance(sso, TenantSSO):
        sso = tenant_sso_validate(sso)
    row = tenant_sso_update(actor=actor, tenant=tenant, sso=sso)
    row.push_status = TenantSSOConfig.PushStatus.OK
    row.push_error = ""
    row.pushed_fingerprint = calls_fingerprint(calls)
    row.pushed_at = timezone.now()
    row.save(update_fields=["push_status", "push_error", "pushed_fingerprint", "pushed_at"])


def multi_tenant_login() -> MultiTenantLogin | None:
    return MultiTenantLogin.objects.filter(pk=1).first()


@transaction.atomic
def mtl_update(
    *,
    actor: str,
    enabled: bool,
    allow_settings_providers: bool,
    only_password_login: bool,
    version: int | None = None,
) -> MultiTenantLogin:
    row = MultiTenantLogin.objects.select_for_update().filter(pk=1).first()
    if row is not None and version is not None and row.version != version:
        raise InvalidInput(
            FieldError(
                "version", "someone changed these settings since you opened the page; reload"
            )
        )
    before = None
    if row is None:
        row = MultiTenantLogin(pk=1)
    else:
        before = {
            "enabled": row.enabled,
            "allow_settings_providers": row.allow_settings_providers,
            "only_password_login": row.only_password_login,
        }
        row.version += 1
    row.enabled = enabled
    row.allow_settings_providers = allow_settings_providers
    row.only_password_login = only_password_login
    row.save()
    audit_record(
        actor=actor,
        action="sso.multi_tenant_login.update",
        target_type="multi_tenant_login",
        target_id="1",
        target_repr="Multi-tenant login mode",
        before=before,
        after={
            "enabled": enabled,
            "allow_settings_providers": allow_settings_providers,
            "only_password_login": only_password_login,
        },
    )
    return row


def mtl_values(row: MultiTenantLogin | None) -> dict[str, bool]:
    """The saved switches in the SPEC's shape (empty when never saved)."""
    if row is None:
        return {}
    return {
        "enabled": row.enabled,
        "allow_settings_providers": row.allow_settings_providers,
        "only_password_login": row.only_password_login,
    }


def login_link(webapp_url: str, external_tenant: str) -> str:
    """<webapp>/login/<external tenant id> (the docs' "Webapp Login")."""
    base = (webapp_url or "<CLEARML_WEBAPP_URL>").rstrip("/")
    return f"{base}/login/{external_tenant}"
