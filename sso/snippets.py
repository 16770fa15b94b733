"""The identity-provider and multi-tenant-login variables, for the snippet exporter and the pages.

`identity_provider_settings(spec)` reads a SPEC's `identity_providers` and `multi_tenant_login`
sections (used by `manage.py snippets` and `plan`); `console_identity_provider_settings()` reads
what the console's database holds (used by the pages). Both return EnvSettings in a stable order:
providers in SPEC (or catalog) order, each provider's variables in its page's order, then the
multi-tenant switches.
"""

import os
import re
from collections.abc import Mapping

from console.secret_ref import env_reference
from console.snippets import EnvSetting
from console.snippets.web import EnvReference, register_env_reference_check
from console.validation import ErrorCollector, InvalidInput, join_path

from .multitenant.spec import (
    ALLOW_SETTINGS_PROVIDERS_VAR,
    ONLY_PASSWORD_LOGIN_VAR,
    TENANT_LOGIN_VAR,
    validate_multi_tenant_login,
)
from .providers import catalog
from .providers.export import ENV_SHOWN_AS, entries_settings
from .providers.spec import (
    CompanyResolver,
    ProviderEntry,
    spec_tenant_names,
    validate_identity_providers,
    validate_provider_entry,
)


def multi_tenant_login_settings(values: Mapping[str, bool]) -> list[EnvSetting]:
    """The server switches given (`enabled`, `allow_settings_providers`, `only_password_login`)."""
    out = []
    if "enabled" in values:
        out.append(EnvSetting(TENANT_LOGIN_VAR, bool(values["enabled"])))
    if "allow_settings_providers" in values:
        out.append(
            EnvSetting(ALLOW_SETTINGS_PROVIDERS_VAR, bool(values["allow_settings_providers"]))
        )
    if "only_password_login" in values:
        # The webserver reads this one as a plain string, not HOCON (webserver.extraEnvs).
        out.append(
            EnvSetting(
                ONLY_PASSWORD_LOGIN_VAR,
                "true" if values["only_password_login"] else "false",
                service="webserver",
                hocon=False,
            )
        )
    return out


def identity_provider_settings(
    spec: dict,
    *,
    environ: Mapping[str, str] | None = None,
    placeholders: bool = False,
) -> list[EnvSetting]:
    """The variables of a SPEC's identity providers and multi-tenant login switches.

    Raises InvalidInput with field paths (`identity_providers[1].client_secret`) for bad input,
    an `env:NAME` that is not set in `environ` (default: os.environ), or a `tenant:<name>` default
    company that has no company id yet. With `placeholders=True` (for `plan`), secrets and
    not-yet-created companies are shown as markers instead of failing.
    """
    errors = ErrorCollector()
    entries: list[ProviderEntry] = []
    tenant_names = spec_tenant_names(spec)
    try:
        entries = validate_identity_providers(
            spec.get("identity_providers"), spec_tenant_names=tenant_names
        )
    except InvalidInput as exc:
        errors.extend(exc)
    mtl: dict[str, bool] = {}
    try:
        mtl = validate_multi_tenant_login(spec.get("multi_tenant_login"))
    except InvalidInput as exc:
        errors.extend(exc)
    errors.raise_if_any()
    settings = entries_settings(
        entries,
        companies=CompanyResolver(tenant_names),
        environ=os.environ if environ is None else environ,
        placeholders=placeholders,
    )
    return settings + multi_tenant_login_settings(mtl)


def console_entries() -> list[ProviderEntry]:
    """The stored providers, checked again (a catalog change could make a row invalid)."""
    from .providers.models import IdentityProvider
    from .providers.services import stored_entry_data

    rows = {row.provider: row for row in IdentityProvider.objects.all()}
    out = []
    for key in catalog.PROVIDERS:
        row = rows.get(key)
        if row is not None:
            out.append(validate_provider_entry(stored_entry_data(row), key))
    return out


def console_identity_provider_settings(
    *, reveal_secrets: bool = False, environ: Mapping[str, str] | None = None
) -> list[EnvSetting]:
    """The variables of what the console holds. Secrets are markers unless `reveal_secrets`
    (an explicit, audited download); `env:NAME` secrets are then read from `environ`."""
    from .multitenant.services import mtl_values, multi_tenant_login

    environ = os.environ if environ is None else environ
    entries = console_entries()
    if reveal_secrets:
        check_console_env_values(entries, environ)
    settings = entries_settings(entries, environ=environ, placeholders=not reveal_secrets)
    return settings + multi_tenant_login_settings(mtl_values(multi_tenant_login()))


def check_console_env_values(entries: list[ProviderEntry], environ: Mapping[str, str]) -> None:
    """InvalidInput naming each field whose `env:NAME` is not set (or empty) in the console's
    environment, said for the console (the variable must be set where the console runs)."""
    errors = ErrorCollector()
    for entry in entries:
        for f in entry.provider.fields:
            name = env_reference(entry.values.get(f.key)) if (f.is_secret or f.env_ok) else None
            if name is None:
                continue
            value = environ.get(name)
            if value is None or not value.strip():
                how = "is not set" if value is None else "is set but empty"
                errors.add(
                    join_path(entry.path, f.key),
                    f"env:{name} {how} in the console's environment ({entry.provider.label}: "
                    f"{f.label}): set {name} where the console runs and restart it",
                )
    errors.raise_if_any()


# ---- env:NAME values a page shows as markers ----------------------------------------------------

# The marker sso.providers.export writes on pages for an `env:NAME` value.
ENV_MARKER = re.compile(
    "^" + re.escape(ENV_SHOWN_AS).replace(re.escape("{name}"), "(?P<name>[^ ]+)") + "$"
)


def _fields_by_variable() -> dict[str, tuple[catalog.ProviderDef, catalog.FieldDef]]:
    return {
        p.variable(f): (p, f)
        for p in catalog.PROVIDERS.values()
        for f in p.fields
        if f.is_secret or f.env_ok
    }


def env_value_references(
    settings: list[EnvSetting], environ: Mapping[str, str] | None = None
) -> list[EnvReference]:
    """The identity-provider settings a page shows as `env:NAME` markers, each with whether NAME
    is set in the console's environment, so a page can tell before a download fails which
    variable is missing and which field it belongs to. Only whether it is set is read."""
    environ = os.environ if environ is None else environ
    fields = _fields_by_variable()
    out = []
    for setting in settings:
        match = ENV_MARKER.match(setting.value) if isinstance(setting.value, str) else None
        if match is None or setting.name not in fields:
            continue
        provider, f = fields[setting.name]
        name = match.group("name")
        value = environ.get(name)
        state = "unset" if value is None else ("empty" if not value.strip() else "set")
        out.append(
            EnvReference(
                variable=setting.name,
                env=name,
                field=f"{provider.label}: {f.label}",
                secret=setting.secret,
                state=state,
            )
        )
    return out


register_env_reference_check(env_value_references)


# ---- SPEC export (for `export_spec`) ---------------------------------------------------------


def secret_env_name(*parts: str) -> str:
    """The variable a stored literal secret is exported as: KEYCLOAK_CLIENT_SECRET, ..."""
    import re

    return re.sub(r"[^A-Za-z0-9]+", "_", "_".join(parts)).strip("_").upper()


def identity_providers_spec_section() -> list[dict]:
    """The console's providers as SPEC `identity_providers` entries.

    A stored literal secret is never printed: it becomes `env:<PROVIDER>_<FIELD>`, the variable
    to set before `snippets` reads the SPEC. A default company that is a console tenant's
    becomes `tenant:<name>`.
    """
    from tenants.models import Tenant

    from .providers.models import IdentityProvider

    names = dict(
        Tenant.objects.filter(deleted_at__isnull=True)
        .exclude(company_id="")
        .values_list("company_id", "name")
    )
    out = []
    rows = {row.provider: row for row in IdentityProvider.objects.all()}
    for key, p in catalog.PROVIDERS.items():
        row = rows.get(key)
        if row is None:
            continue
        entry: dict = {"provider": key, **row.settings}
        company = entry.get("default_company")
        if company in names:
            entry["default_company"] = f"tenant:{names[company]}"
        for f in p.secret_fields:
            stored = row.secrets.get(f.key)
            if stored:
                is_ref = stored.startswith("env:")
                entry[f.key] = stored if is_ref else f"env:{secret_env_name(key, f.key)}"
        if row.allow_http:
            entry["allow_http"] = True
        out.append(entry)
    return out


def multi_tenant_login_spec_section() -> dict:
    from .multitenant.services import mtl_values, multi_tenant_login

    return mtl_values(multi_tenant_login())


def tenant_sso_spec_section(tenant) -> dict | None:
    """A tenant's `sso` SPEC section, its client secret as env:NAME (never the literal)."""
    from .multitenant.models import TenantSSOConfig

    row = TenantSSOConfig.objects.filter(tenant_id=tenant.pk).first()
    if row is None:
        return None
    data = row.as_sso_data()
    conf = data.get("configuration")
    if conf and conf.get("client_secret") and not conf["client_secret"].startswith("env:"):
        conf["client_secret"] = f"env:{secret_env_name('SSO', row.external_tenant, 'SECRET')}"
    return data
