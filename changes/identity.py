"""Identity changes through the pipeline: identity providers, tenants' SSO configurations (saved,
forgotten, pushed) and the multi-tenant login switches.

Saving changes only what the console keeps (the server reads providers and switches from its
configuration, which the export writes), so each save is a `local_change`: the row, its audit
entry and the changeset commit together, and a save that changes nothing leaves nothing behind.
Pushing a tenant's SSO configuration calls the apiserver: the calls are recorded as a changeset
first, sent under it (its audit entries carry its id), and the changeset is finished with each
call's outcome. No step holds a secret: a call body carries a marker where the secret goes.
"""

from console.apiserver.plan import PlannedCall
from console.secret_ref import env_reference
from console.validation import FieldError, InvalidInput
from sso.multitenant import services as multitenant
from sso.multitenant.models import MultiTenantLogin, TenantSSOConfig
from sso.multitenant.spec import TenantSSO, tenant_sso_validate
from sso.providers import services as providers
from sso.providers.models import IdentityProvider
from sso.providers.spec import ProviderEntry
from tenants.models import Tenant

from .engine import (
    ReplayFailed,
    applying,
    changeset_finish,
    changeset_record,
    desired_object,
    local_change,
    local_change_replay,
    steps_mark,
)
from .models import Changeset, ChangeStep
from .plan import ChangePlan, PlannedStep, approval_reason, approvals_on

# A waiting idp.update's secret that is the provider's current value (taken again when applied).
KEPT_SECRET = "(kept)"  # noqa: S105 - a marker, not a secret


# -- identity providers --------------------------------------------------------------------------
def _provider_desired(entry: ProviderEntry) -> dict:
    """The form's input without its secrets."""
    settings, _ = providers.split_entry(entry)
    return {"provider": entry.provider.key, "settings": settings, "allow_http": entry.allow_http}


def idp_create(
    *, actor: str, entry: ProviderEntry, metadata_xml: str = "", face: str = "form"
) -> tuple[Changeset | None, IdentityProvider]:
    return local_change(
        kind="idp.create",
        summary=f"Configure {entry.provider.label}",
        actor=actor,
        face=face,
        desired=_provider_desired(entry),
        write=lambda: providers.idp_create(actor=actor, entry=entry, metadata_xml=metadata_xml),
    )


def idp_update(
    *,
    actor: str,
    idp: IdentityProvider,
    entry: ProviderEntry,
    version: int,
    metadata_xml: str | None = None,
    face: str = "form",
) -> tuple[Changeset | None, IdentityProvider]:
    """Replace a provider's settings. None as the changeset when nothing changed (the row keeps
    its version).

    With CONSOLE_APPROVALS on the change waits for approval, and `desired` must be enough to make
    it again: the settings, each secret as `env:NAME` or as the provider's current value
    (KEPT_SECRET), the metadata. A typed new secret is refused (InvalidInput on its field): the
    console keeps no secret value while a change waits."""
    desired = {**_provider_desired(entry), "version": version}
    if approvals_on() and approval_reason("idp.update", []):
        secret_keys = {f.key for f in entry.provider.secret_fields}
        desired["values"] = {k: v for k, v in entry.values.items() if k not in secret_keys}
        desired["secrets"] = _held_secrets(idp, entry)
        desired["metadata_xml"] = metadata_xml
    return local_change(
        kind="idp.update",
        summary=f"Update {entry.provider.label}",
        actor=actor,
        face=face,
        desired=desired,
        write=lambda: providers.idp_update(
            actor=actor, idp=idp, entry=entry, version=version, metadata_xml=metadata_xml
        ),
    )


def _held_secrets(idp: IdentityProvider, entry: ProviderEntry) -> dict[str, str]:
    """The entry's secrets as a waiting change keeps them: `env:NAME` as written, the provider's
    current value as KEPT_SECRET. Raises InvalidInput for a typed new value."""
    kept, errors = {}, []
    for f in entry.provider.secret_fields:
        if f.key not in entry.values:
            continue
        value = entry.values[f.key]
        if env_reference(value) is not None:
            kept[f.key] = str(value).strip()
        elif value == idp.secrets.get(f.key):
            kept[f.key] = KEPT_SECRET
        else:
            errors.append(
                FieldError(
                    f.key,
                    "changes to an identity provider wait for a second admin's approval, and "
                    "the console keeps no typed secret while a change waits: put the new value "
                    "in an environment variable of the console and write env:NAME here",
                )
            )
    if errors:
        raise InvalidInput(errors)
    return kept


def idp_update_approved(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """Apply an approved `idp.update` (changes.apply's applier): the same update again, from
    `desired`; a KEPT_SECRET is the provider's value now (its version proves it unchanged)."""
    desired = changeset.desired or {}
    key = desired.get("provider")

    def write() -> IdentityProvider:
        idp = desired_object(IdentityProvider, f"identity provider {key}", provider=key)
        values = dict(desired.get("values") or {})
        for name, value in (desired.get("secrets") or {}).items():
            if value == KEPT_SECRET:
                if name not in idp.secrets:
                    raise ReplayFailed(f"the secret {name} of {idp.definition.label} is not set")
                value = idp.secrets[name]
            values[name] = value
        entry = ProviderEntry(
            provider=idp.definition, values=values, allow_http=bool(desired.get("allow_http"))
        )
        return providers.idp_update(
            actor=actor,
            idp=idp,
            entry=entry,
            version=int(desired.get("version", -1)),
            metadata_xml=desired.get("metadata_xml"),
        )

    local_change_replay(changeset, actor=actor, write=write)
    return []


def idp_save(
    *,
    actor: str,
    row: IdentityProvider | None,
    entry: ProviderEntry,
    version: int,
    metadata_xml: str,
    face: str = "form",
) -> tuple[Changeset | None, IdentityProvider]:
    """The provider form's Save: create the row, or update it from the version the form had."""
    if row is None:
        return idp_create(actor=actor, entry=entry, metadata_xml=metadata_xml, face=face)
    return idp_update(
        actor=actor, idp=row, entry=entry, version=version, metadata_xml=metadata_xml, face=face
    )


def idp_delete(*, actor: str, idp: IdentityProvider, face: str = "form") -> Changeset | None:
    changeset, _ = local_change(
        kind="idp.delete",
        summary=f"Remove {idp.definition.label}",
        actor=actor,
        face=face,
        desired={"provider": idp.provider},
        write=lambda: providers.idp_delete(actor=actor, idp=idp),
    )
    return changeset


def idp_delete_approved(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """Apply an approved `idp.delete` (changes.apply's applier)."""
    key = (changeset.desired or {}).get("provider")
    local_change_replay(
        changeset,
        actor=actor,
        write=lambda: providers.idp_delete(
            actor=actor,
            idp=desired_object(IdentityProvider, f"identity provider {key}", provider=key),
        ),
    )
    return []


def idp_set_checklist(
    *, actor: str, idp: IdentityProvider, done: list[int], face: str = "form"
) -> tuple[Changeset | None, IdentityProvider]:
    return local_change(
        kind="idp.checklist",
        summary=f"Setup checklist of {idp.definition.label}",
        actor=actor,
        face=face,
        desired={"provider": idp.provider, "done": list(done)},
        write=lambda: providers.idp_set_checklist(actor=actor, idp=idp, done=done),
    )


def idp_export_recorded(*, actor: str, providers_shown: list[str], fmt: str) -> None:
    """A download that carried secret values is audited (`idp.export`); it changes nothing, so
    it is no changeset."""
    providers.record_export(actor=actor, providers=providers_shown, fmt=fmt)


# -- a tenant's SSO configuration ----------------------------------------------------------------
def _sso_desired(tenant: Tenant, sso: TenantSSO, version: int | None) -> dict:
    """The form's input without the client secret."""
    data = sso.as_spec()
    if "configuration" in data:
        data["configuration"] = {
            k: v for k, v in data["configuration"].items() if k != "client_secret"
        }
    return {"tenant": tenant.pk, "sso": data, "version": version}


def tenant_sso_update(
    *, actor: str, tenant: Tenant, sso: TenantSSO, version: int | None = None, face: str = "form"
) -> tuple[Changeset | None, TenantSSOConfig]:
    """Create or replace the tenant's SSO configuration in the console (nothing is sent)."""
    return local_change(
        kind="tenant_sso.update",
        summary=f"Update the SSO configuration of {tenant.name}",
        actor=actor,
        face=face,
        desired=_sso_desired(tenant, sso, version),
        write=lambda: multitenant.tenant_sso_update(
            actor=actor, tenant=tenant, sso=sso, version=version
        ),
    )


def tenant_sso_delete(*, actor: str, row: TenantSSOConfig, face: str = "form") -> Changeset | None:
    """Forget the configuration in the console (the apiserver keeps what was pushed)."""
    changeset, _ = local_change(
        kind="tenant_sso.delete",
        summary=f"Forget the SSO configuration of {row.tenant.name}",
        actor=actor,
        face=face,
        desired={"tenant": row.tenant_id},
        write=lambda: multitenant.tenant_sso_delete(actor=actor, row=row),
    )
    return changeset


def tenant_sso_delete_approved(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """Apply an approved `tenant_sso.delete` (changes.apply's applier)."""
    pk = (changeset.desired or {}).get("tenant")
    local_change_replay(
        changeset,
        actor=actor,
        write=lambda: multitenant.tenant_sso_delete(
            actor=actor,
            row=desired_object(
                TenantSSOConfig, f"the SSO configuration of tenant {pk}", tenant_id=pk
            ),
        ),
    )
    return []


def _call_of(call: PlannedCall) -> dict:
    """The call as a step shows it: the body with its secret marker, never the secret."""
    out: dict = {"endpoint": call.endpoint, "body": call.body}
    if call.act_as:
        out["act_as"] = call.act_as
    return out


def tenant_sso_push_plan(row: TenantSSOConfig) -> ChangePlan:
    """The calls a push sends, as a plan. Raises InvalidInput (no company yet, an env:NAME that
    is not set) before anything is recorded."""
    tenant = row.tenant
    if not tenant.company_id:
        raise InvalidInput(
            FieldError("", f"tenant {tenant.name} has no ClearML company yet; provision it first")
        )
    sso = tenant_sso_validate(row.as_sso_data(), "")
    calls = multitenant.tenant_sso_calls(tenant=tenant, sso=sso, skip_unchanged=False)
    steps = [
        PlannedStep(
            kind=call.endpoint,
            target=f"tenant:{tenant.name}",
            after={"description": call.description} if call.description else None,
            call=_call_of(call),
        )
        for call in calls
    ]
    return ChangePlan(
        kind="tenant_sso.push",
        summary=f"Push the SSO configuration of {tenant.name}",
        steps=steps,
        desired={"tenant": tenant.pk, "version": row.version},
    )


def tenant_sso_push(
    *, actor: str, row: TenantSSOConfig, face: str = "form"
) -> tuple[Changeset, multitenant.PushResult]:
    """Send the tenant's configuration to the apiserver as a changeset of its calls.

    Raises InvalidInput with nothing recorded or sent. The changeset ends applied when every
    call was accepted, failed otherwise (the calls not reached are marked so).
    """
    plan = tenant_sso_push_plan(row)
    changeset = changeset_record(plan, actor=actor, face=face)
    try:
        with applying(changeset):
            result = multitenant.tenant_sso_push(actor=actor, row=row)
    except InvalidInput as exc:
        steps_mark(changeset, status=ChangeStep.Status.SKIPPED)
        changeset_finish(changeset, ok=False, error="; ".join(str(e) for e in exc.errors))
        raise
    except Exception:
        steps_mark(changeset, status=ChangeStep.Status.UNKNOWN)
        changeset_finish(changeset, ok=False, error="the push stopped on an internal error")
        raise
    _mark_calls(changeset, plan, result)
    changeset_finish(changeset, ok=result.ok, error="" if result.ok else result.message)
    return changeset, result


def _mark_calls(changeset: Changeset, plan: ChangePlan, result: multitenant.PushResult) -> None:
    """Each step's status from the call records of the push (the error is scrubbed there)."""
    if result.ok:
        steps_mark(changeset, status=ChangeStep.Status.DONE)
        return
    records = {r.endpoint: r for r in result.calls}
    for position, step in enumerate(plan.steps, start=1):
        record = records.get(step.kind)
        if record is None:
            status, error = ChangeStep.Status.SKIPPED, ""
        elif record.error:
            status, error = ChangeStep.Status.FAILED, record.error
        else:
            status, error = ChangeStep.Status.DONE, ""
        steps_mark(changeset, status=status, error=error, positions=[position])


# -- multi-tenant login switches -----------------------------------------------------------------
def mtl_update(
    *,
    actor: str,
    enabled: bool,
    allow_settings_providers: bool,
    only_password_login: bool,
    version: int | None = None,
    face: str = "form",
) -> tuple[Changeset | None, MultiTenantLogin]:
    switches = {
        "enabled": enabled,
        "allow_settings_providers": allow_settings_providers,
        "only_password_login": only_password_login,
    }
    return local_change(
        kind="multi_tenant_login.update",
        summary="Update the multi-tenant login switches",
        actor=actor,
        face=face,
        desired={**switches, "version": version},
        write=lambda: multitenant.mtl_update(actor=actor, version=version, **switches),
    )


def mtl_update_approved(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """Apply approved multi-tenant login switches (changes.apply's applier)."""
    desired = changeset.desired or {}
    local_change_replay(
        changeset,
        actor=actor,
        write=lambda: multitenant.mtl_update(
            actor=actor,
            version=desired.get("version"),
            enabled=bool(desired.get("enabled")),
            allow_settings_providers=bool(desired.get("allow_settings_providers")),
            only_password_login=bool(desired.get("only_password_login")),
        ),
    )
    return []
