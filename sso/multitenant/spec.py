"""Multi-tenant login mode (sso_multi_tenant_login.md): the server switches and each tenant's part.

Server switches, SPEC section `multi_tenant_login` (a console design):

    multi_tenant_login:
      enabled: true                   # CLEARML__services__login__sso__tenant_login
      allow_settings_providers: false # CLEARML__services__login__sso__allow_settings_providers
      only_password_login: true       # WEBSERVER__onlyPasswordLogin (webserver.extraEnvs)

A key that is left out is not exported. Per tenant, SPEC `tenants[].sso`:

    sso:
      tenant: acme-external-id        # system.update_company_sso_config sso.tenant
      group_mapping: {"IdP Group": "ClearML Group"}
      admin_groups: ["IdP Admins"]
      provider: keycloak              # optional: sso.save_provider_configuration
      configuration: {client_id: …, client_secret: env:NAME, authorization_endpoint: …, …}
      allow_http: false               # the console's own key: allow http:// endpoints (a lab)
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from console.validation import ErrorCollector, FieldError, InvalidInput, join_path, shown, too_long
from sso.providers import catalog
from sso.providers.catalog import BOOL, SECRET, STR, URL, FieldDef
from sso.providers.spec import CompanyResolver, check_value

from .models import MAX_EXTERNAL_TENANT, MAX_IDP_GROUP_NAME

TENANT_LOGIN_VAR = "CLEARML__services__login__sso__tenant_login"
ALLOW_SETTINGS_PROVIDERS_VAR = "CLEARML__services__login__sso__allow_settings_providers"
ONLY_PASSWORD_LOGIN_VAR = "WEBSERVER__onlyPasswordLogin"  # noqa: S105 - a variable name
MTL_KEYS = {
    "enabled": TENANT_LOGIN_VAR,
    "allow_settings_providers": ALLOW_SETTINGS_PROVIDERS_VAR,
    "only_password_login": ONLY_PASSWORD_LOGIN_VAR,
}

# The external tenant id appears in the login link <webapp>/login/<id>: keep it URL-safe.
EXTERNAL_TENANT = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_EXTERNAL_TENANT - 1}}}$")
MAX_NAME = MAX_IDP_GROUP_NAME
MAX_GROUPS = 500
TENANT_SSO_KEYS = (
    "tenant",
    "group_mapping",
    "admin_groups",
    "provider",
    "configuration",
    "allow_http",
)
# The providers sso.save_provider_configuration is shown with: the page's example is keycloak;
# its configuration keys are plain OpenID Connect, so any OAuth provider key is accepted.
TENANT_PROVIDERS = tuple(k for k, p in catalog.PROVIDERS.items() if p.protocol == catalog.OAUTH)

# The `configuration` of sso.save_provider_configuration: exactly the page's keys.
C = "Provider configuration"
BODY = "body"  # not an environment variable: a key of the call's body
CONFIG_FIELDS: tuple[FieldDef, ...] = (
    FieldDef(
        "id",
        BODY,
        STR,
        "Configuration id",
        "A unique id for this configuration; the page suggests the company id, which is "
        "what the console uses when this is empty.",
        group=C,
    ),
    FieldDef("display_name", BODY, STR, "Display name", "The text of the login button.", group=C),
    FieldDef(
        "client_id",
        BODY,
        STR,
        "Client ID",
        "The tenant's client id at the IdP.",
        required=True,
        env_ok=True,
        group=C,
    ),
    FieldDef(
        "client_secret",
        BODY,
        SECRET,
        "Client secret",
        "Write-only. A literal, or env:NAME read when the configuration is pushed.",
        required=True,
        group=C,
    ),
    FieldDef(
        "authorization_endpoint",
        BODY,
        URL,
        "Authorization endpoint",
        "",
        required=True,
        group="Endpoints",
    ),
    FieldDef("token_endpoint", BODY, URL, "Token endpoint", "", required=True, group="Endpoints"),
    FieldDef("revocation_endpoint", BODY, URL, "Revocation endpoint", "", group="Endpoints"),
    FieldDef("end_session_endpoint", BODY, URL, "End session endpoint", "", group="Endpoints"),
    FieldDef(
        "logout_from_provider",
        BODY,
        BOOL,
        "Log out of the IdP too",
        "Signing out of ClearML also signs out of the IdP.",
        group="Behaviour",
    ),
    FieldDef(
        "claim_tenant",
        BODY,
        STR,
        "Tenant claim",
        "The claim that carries the user's external tenant id (the page: tenant_key).",
        group="Claims",
        placeholder="tenant_key",
    ),
    FieldDef(
        "claim_name",
        BODY,
        STR,
        "Name claim",
        "The claim with the user's display name.",
        group="Claims",
        placeholder="name",
    ),
    FieldDef(
        "group_enabled",
        BODY,
        BOOL,
        "Synchronise groups",
        "Map the user's IdP groups (after the group mapping above) to this tenant's groups.",
        group="Groups",
    ),
    FieldDef(
        "claim_groups",
        BODY,
        STR,
        "Groups claim",
        "The claim that lists the user's groups.",
        group="Groups",
        placeholder="groups",
    ),
    FieldDef(
        "group_prohibit_user_login_if_not_in_group",
        BODY,
        BOOL,
        "Refuse users without a matching group",
        "Sign-in only for users one of whose (mapped) groups exists in the tenant.",
        group="Groups",
    ),
)
CONFIG_BY_KEY = {f.key: f for f in CONFIG_FIELDS}
SECRET_CONFIG_KEYS = tuple(f.key for f in CONFIG_FIELDS if f.is_secret)


@dataclass
class TenantSSO:
    """A checked `tenants[].sso` section."""

    tenant: str
    group_mapping: dict[str, str] = field(default_factory=dict)
    admin_groups: list[str] = field(default_factory=list)
    provider: str = ""
    configuration: dict[str, object] = field(default_factory=dict)
    allow_http: bool = False
    path: str = ""

    def company_body(self, company_id: str) -> dict:
        """The body of system.update_company_sso_config (sso_multi_tenant_login.md step 1)."""
        return {
            "company": company_id,
            "sso": {
                "tenant": self.tenant,
                "group_mapping": dict(self.group_mapping),
                "admin_groups": list(self.admin_groups),
            },
        }

    def as_spec(self) -> dict:
        out: dict = {"tenant": self.tenant}
        if self.group_mapping:
            out["group_mapping"] = dict(self.group_mapping)
        if self.admin_groups:
            out["admin_groups"] = list(self.admin_groups)
        if self.configuration:
            out["provider"] = self.provider
            out["configuration"] = dict(self.configuration)
        if self.allow_http:
            out["allow_http"] = True
        return out


def _name(value: object, path: str, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            FieldError(path, f"The {what} must be a non-empty string, not {shown(value)}.")
        )
    text = value.strip()
    if len(text) > MAX_NAME:
        raise InvalidInput(FieldError(path, too_long(f"The {what}", text, MAX_NAME)))
    if any(ord(ch) < 32 for ch in text):
        raise InvalidInput(
            FieldError(
                path,
                f"The {what} {shown(text)} contains a control character (a line break or a "
                "tab?); remove it.",
            )
        )
    return text


def check_external_tenant(value: object, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            FieldError(
                path,
                "The external tenant id is required; write the id your IdP sends for this "
                "tenant, like acme-ext.",
            )
        )
    text = value.strip()
    if len(text) > MAX_EXTERNAL_TENANT:
        raise InvalidInput(
            FieldError(path, too_long("The external tenant id", text, MAX_EXTERNAL_TENANT))
        )
    if not EXTERNAL_TENANT.match(text):
        raise InvalidInput(
            FieldError(
                path,
                f"The external tenant id {shown(text)} cannot be used: it is part of the login "
                "link <webapp>/login/<id>, so use letters, digits, '.', '_' and '-', starting "
                "with a letter or digit.",
            )
        )
    return text


def check_group_mapping(value: object, path: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(
            FieldError(
                path,
                f'The group mapping must be a mapping {{"IdP group": "ClearML group"}}, not '
                f"{shown(value)}.",
            )
        )
    errors = ErrorCollector()
    out: dict[str, str] = {}
    if len(value) > MAX_GROUPS:
        errors.add(
            path,
            f"The group mapping has {len(value):,} entries; keep it to at most {MAX_GROUPS}.",
        )
    for key, target in value.items():
        key_path = join_path(path, f"[{key!r}]" if isinstance(key, str) else str(key))
        try:
            idp_group = _name(key, key_path, "IdP group name")
            out[idp_group] = _name(target, key_path, "ClearML group name")
        except InvalidInput as exc:
            errors.extend(exc)
    errors.raise_if_any()
    return out


def check_admin_groups(value: object, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(
            FieldError(
                path, f"The admin groups must be a list of IdP group names, not {shown(value)}."
            )
        )
    errors = ErrorCollector()
    out: list[str] = []
    if len(value) > MAX_GROUPS:
        errors.add(
            path, f"The admin groups list {len(value):,} groups; keep it to at most {MAX_GROUPS}."
        )
    for i, item in enumerate(value):
        try:
            name = _name(item, f"{path}[{i}]", "IdP group name")
        except InvalidInput as exc:
            errors.extend(exc)
            continue
        if name in out:
            errors.add(
                f"{path}[{i}]",
                f"The admin group {shown(name)} is listed twice; keep it once.",
            )
        out.append(name)
    errors.raise_if_any()
    return out


def check_configuration(value: object, path: str, *, allow_http: bool) -> dict[str, object]:
    if not isinstance(value, dict):
        raise InvalidInput(
            FieldError(
                path,
                f"The provider configuration must be a mapping (client_id, …), not {shown(value)}.",
            )
        )
    errors = ErrorCollector()
    out: dict[str, object] = {}
    companies = CompanyResolver(use_db=False)
    for key in value:
        if key not in CONFIG_BY_KEY:
            errors.add(
                join_path(path, str(key)),
                f"{shown(str(key))} is an unknown key: not a key of "
                f"sso.save_provider_configuration; the known keys are {', '.join(CONFIG_BY_KEY)}.",
            )
    for f in CONFIG_FIELDS:
        if f.key not in value:
            if f.required:
                errors.add(join_path(path, f.key), f"{f.label} is required; fill it in.")
            continue
        try:
            out[f.key] = check_value(
                f, value[f.key], join_path(path, f.key), allow_http=allow_http, companies=companies
            )
        except InvalidInput as exc:
            errors.extend(exc)
    errors.raise_if_any()
    return out


def tenant_sso_validate(data: object, path: str = "sso") -> TenantSSO:
    """Check a `tenants[].sso` section (or the tenant form); raise InvalidInput with paths."""
    if not isinstance(data, dict):
        raise InvalidInput(
            FieldError(
                path,
                f"The tenant's SSO settings must be a mapping with at least a tenant key, not "
                f"{shown(data)}.",
            )
        )
    errors = ErrorCollector()
    for key in data:
        if key not in TENANT_SSO_KEYS:
            errors.add(
                join_path(path, str(key)),
                f"{shown(str(key))} is an unknown key for a tenant's SSO settings; the known keys "
                f"are {', '.join(TENANT_SSO_KEYS)}.",
            )
    allow_http = data.get("allow_http", False)
    if not isinstance(allow_http, bool):
        errors.add(
            join_path(path, "allow_http"),
            f"allow_http must be true or false, not {shown(allow_http)}.",
        )
        allow_http = False
    result = TenantSSO(tenant="", allow_http=allow_http, path=path)
    checks = (
        ("tenant", lambda v, p: check_external_tenant(v, p)),
        ("group_mapping", check_group_mapping),
        ("admin_groups", check_admin_groups),
    )
    for key, check in checks:
        try:
            setattr(result, key, check(data.get(key), join_path(path, key)))
        except InvalidInput as exc:
            errors.extend(exc)
    provider = data.get("provider")
    if "configuration" in data:
        provider = provider if provider is not None else "keycloak"
        if provider not in TENANT_PROVIDERS:
            errors.add(
                join_path(path, "provider"),
                f"{shown(provider)} is not an OAuth provider key; write one of "
                f"{', '.join(TENANT_PROVIDERS)}.",
            )
        else:
            result.provider = provider
        try:
            result.configuration = check_configuration(
                data["configuration"], join_path(path, "configuration"), allow_http=allow_http
            )
        except InvalidInput as exc:
            errors.extend(exc)
    elif provider is not None:
        errors.add(
            join_path(path, "provider"),
            "The provider is given without a configuration; add configuration: {…} or leave "
            "provider out.",
        )
    errors.raise_if_any()
    return result


def check_external_tenants_unique(tenants: list, path: str = "tenants") -> None:
    """Only one ClearML tenant can be associated with an external tenant (the docs page)."""
    seen: dict[str, int] = {}
    errors = ErrorCollector()
    for i, tenant in enumerate(tenants or []):
        sso = tenant.get("sso") if isinstance(tenant, dict) else None
        ext = sso.get("tenant") if isinstance(sso, dict) else None
        if not isinstance(ext, str):
            continue
        key = ext.strip().casefold()
        if key in seen:
            first = tenants[seen[key]].get("name", f"{path}[{seen[key]}]")
            errors.add(
                f"{path}[{i}].sso.tenant",
                f"The external tenant {shown(ext.strip())} is already used by tenant "
                f"{shown(first)}; an external tenant can be associated with one ClearML tenant "
                "only, so choose another.",
            )
        else:
            seen[key] = i
    errors.raise_if_any()


def validate_multi_tenant_login(data: object, path: str = "multi_tenant_login") -> dict[str, bool]:
    """The SPEC's server switches: {key: bool} for the keys given."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InvalidInput(
            FieldError(
                path,
                f"multi_tenant_login must be a mapping ({', '.join(MTL_KEYS)}), not {shown(data)}.",
            )
        )
    errors = ErrorCollector()
    out: dict[str, bool] = {}
    for key, value in data.items():
        key_path = join_path(path, str(key))
        if key not in MTL_KEYS:
            errors.add(
                key_path,
                f"{shown(str(key))} is an unknown key for multi_tenant_login; the known keys are "
                f"{', '.join(MTL_KEYS)}.",
            )
        elif not isinstance(value, bool):
            errors.add(key_path, f"{key} must be true or false, not {shown(value)}.")
        else:
            out[key] = value
    if data and "enabled" not in data:
        errors.add(
            join_path(path, "enabled"),
            "enabled is required: true turns multi-tenant login on, false leaves it off.",
        )
    errors.raise_if_any()
    return out
