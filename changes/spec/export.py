"""`export_spec`: the console's desired state as a SPEC that `apply` reads back unchanged.

`plan` of the output shows no change: no call, no snippet change, no removal. It is a round trip
(docs/spec.md, "Round trip"): a SPEC applied to a console comes back as written, up to the
normalisations listed there and nothing else.

- Keys are written only when they differ from what leaving them out means (an admin's
  `internal: true`, a group's `assignable: false`, an empty list, a multi-tenant switch that is
  off, a tenant SSO provider that is the default `keycloak`, a group id the console derives from
  the group's name are left out), so a SPEC comes back without keys it did not have.
- Lists keep their order: tenants, groups and identity providers in the order the console got
  them, features and admins as stored, login domains and whitelisted admins and users in the
  order the admin gave them (sso/models.py stores each list's order).
- Mappings are written in the catalog's key order (PostgreSQL's jsonb does not keep a mapping's
  key order, so the stored order is no order).

Secrets are never printed: a secret kept as `env:NAME` stays a reference; a literal one becomes
an `env:` reference with a suggested variable name, to be set before applying.
"""

import re
import uuid

import yaml

from sso.multitenant.models import TenantSSOConfig
from sso.multitenant.services import mtl_values, multi_tenant_login
from sso.providers import catalog
from sso.providers.models import IdentityProvider
from sso.routing.validation import ALLOW_PUBLIC_KEY, public_mail_domains_of
from sso.snippets import identity_providers_spec_section
from tenants.features import UI_FEATURE_NAMES, UI_ROLES
from tenants.groups.models import CrossTenantGroup
from tenants.groups.settings import (
    GROUP_ID_NAMESPACE,
    stored_builtin_features,
    stored_organization,
)
from tenants.models import Tenant

HEADER = (
    "# The console's desired state (manage.py export_spec). Secrets are not exported: each\n"
    "# appears as env:NAME; set those variables before `manage.py apply`.\n"
)


def _env_name(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Z0-9]+", "_", p.upper()).strip("_") for p in parts if p)


def _secret_ref(value, *parts: str):
    if isinstance(value, str) and value.startswith("env:"):
        return value
    return f"env:{_env_name(*parts)}"


def _admin(admin) -> dict:
    out = {"name": admin.name, "email": admin.email}
    if not admin.internal:
        out["internal"] = False  # true is what leaving it out means
    return out


def _login(tenant) -> dict | None:
    # In the stored order (the models' ordering, which the prefetch keeps).
    domains = [d.domain for d in tenant.login_domains.all()]
    whitelist = list(tenant.whitelist.all())
    if not (domains or whitelist):
        return None
    login: dict = {}
    if domains:
        login["domains"] = domains
        # A public mail domain the tenant routes was confirmed when it was added: the SPEC says so
        # again, or `plan` of this file would refuse it.
        public = public_mail_domains_of(domains)
        if public:
            login[ALLOW_PUBLIC_KEY] = public
    roles = {
        "admins": [w.email for w in whitelist if w.is_admin],
        "users": [w.email for w in whitelist if not w.is_admin],
    }
    roles = {role: emails for role, emails in roles.items() if emails}
    if roles:
        login["whitelist"] = roles
    return login


def export_tenants() -> list[dict]:
    # In the order the console got them (a SPEC's tenants are created in its order).
    tenants = (
        Tenant.objects.filter(deleted_at__isnull=True)
        .prefetch_related("admins", "login_domains", "whitelist")
        .order_by("pk")
    )
    sso_rows = {row.tenant_id: row for row in TenantSSOConfig.objects.all()}
    out = []
    for tenant in tenants:
        entry: dict = {"name": tenant.name}
        if tenant.allowed_users:
            entry["allowed_users"] = tenant.allowed_users
        if tenant.features:
            entry["features"] = list(tenant.features)
        if tenant.exclude_features:
            entry["exclude_features"] = list(tenant.exclude_features)
        admins = [a for a in tenant.admins.all() if not a.released]
        if admins:
            entry["admins"] = [_admin(a) for a in admins]
        login = _login(tenant)
        if login is not None:
            entry["login"] = login
        row = sso_rows.get(tenant.pk)
        if row is not None:
            entry["sso"] = _tenant_sso(row, tenant)
        out.append(entry)
    return out


def _tenant_sso(row: TenantSSOConfig, tenant: Tenant) -> dict:
    sso = row.as_sso_data()
    if sso.get("provider") == "keycloak":
        del sso["provider"]  # the default: what leaving it out means
    conf = sso.get("configuration")
    if isinstance(conf, dict) and "client_secret" in conf:
        conf["client_secret"] = _secret_ref(
            conf["client_secret"], "SSO", tenant.name, "CLIENT_SECRET"
        )
    return sso


def derived_group_id(name: str) -> str:
    """The id the console gives a group whose SPEC or form gives none (settings.new_group_id,
    unless another group already holds it)."""
    return str(uuid.uuid5(GROUP_ID_NAMESPACE, name.lower()))


def _group(group: CrossTenantGroup) -> dict:
    item: dict = {"name": group.name}
    if group.display_name:
        item["display_name"] = group.display_name
    # An id the console derives from the name again is left out (a SPEC without ids comes back
    # without them); any other id (given, random, or kept over a rename) pins the group.
    if str(group.group_id) != derived_group_id(group.name):
        item["id"] = str(group.group_id)
    if group.features:
        item["features"] = list(group.features)
    if group.assignable:
        item["assignable"] = True
    return item


def _catalog_order(names: tuple[str, ...]):
    def key(name: str) -> tuple[int, str]:
        return (names.index(name) if name in names else len(names), name)

    return key


def _organization() -> dict:
    org = stored_organization()
    organization: dict = {}
    if org.features:
        organization["features"] = list(org.features)
    if org.unique_company_names is not None:
        organization["unique_company_names"] = org.unique_company_names
    roles = {}
    for role in sorted(org.ui_features_per_role, key=_catalog_order(UI_ROLES)):
        features = org.ui_features_per_role[role]
        if features:
            order = sorted(features, key=_catalog_order(UI_FEATURE_NAMES))
            roles[role] = {name: features[name] for name in order}
    if roles:
        organization["ui_features_per_role"] = roles
    return organization


def _provider_entry(entry: dict) -> dict:
    """`provider` first, then the keys in the catalog's field order (nested mappings too), then
    `allow_http`; any key the catalog does not know keeps its place at the end."""
    provider = catalog.get_provider(entry.get("provider", ""))
    if provider is None:
        return entry
    order = [f.key for f in provider.fields]

    def rank(prefix: str):
        def key(name: str) -> int:
            dotted = f"{prefix}{name}"
            for index, field_key in enumerate(order):
                if field_key == dotted or field_key.startswith(dotted + "."):
                    return index
            return len(order)

        return key

    def arrange(node: dict, prefix: str) -> dict:
        out = {}
        for name in sorted(node, key=rank(prefix)):
            value = node[name]
            field = provider.field(f"{prefix}{name}")
            if isinstance(value, dict) and (field is None or field.type != catalog.MAP):
                value = arrange(value, f"{prefix}{name}.")
            out[name] = value
        return out

    rest = {k: v for k, v in entry.items() if k not in ("provider", "allow_http")}
    out = {"provider": entry["provider"], **arrange(rest, "")}
    if "allow_http" in entry:
        out["allow_http"] = entry["allow_http"]
    return out


def _identity_providers() -> list[dict]:
    """The console's providers in the order it got them (a SPEC's are created in its order)."""
    created = {
        key: index
        for index, key in enumerate(
            IdentityProvider.objects.order_by("pk").values_list("provider", flat=True)
        )
    }
    entries = identity_providers_spec_section()
    entries.sort(key=lambda e: created.get(e["provider"], len(created)))
    return [_provider_entry(e) for e in entries]


def _multi_tenant_login() -> dict:
    """`enabled` (required by the section) and the other switches that are on. A switch that is
    off is what leaving it out means: apply keeps a left-out switch as it is, and the console
    stores it off when it was never given."""
    values = mtl_values(multi_tenant_login())
    if not values:
        return {}
    return {k: v for k, v in values.items() if k == "enabled" or v}


def export_server_sections() -> dict:
    out: dict = {}
    # In the order the console got them (a SPEC's groups are created in its order).
    groups = [_group(g) for g in CrossTenantGroup.objects.order_by("pk")]
    if groups:
        out["groups"] = groups
    builtin = {k: v for k, v in stored_builtin_features().items() if v is not None}
    if builtin:
        out["builtin_groups"] = builtin
    organization = _organization()
    if organization:
        out["organization"] = organization
    providers = _identity_providers()
    if providers:
        out["identity_providers"] = providers
    mtl = _multi_tenant_login()
    if mtl:
        out["multi_tenant_login"] = mtl
    return out


def export_spec() -> dict:
    spec: dict = {"version": 1}
    tenants = export_tenants()
    if tenants:
        spec["tenants"] = tenants
    spec.update(export_server_sections())
    return spec


def export_spec_text() -> str:
    return HEADER + yaml.safe_dump(
        export_spec(), sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
