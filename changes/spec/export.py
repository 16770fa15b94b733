"""`export_spec`: the console's desired state as a SPEC that `apply` reads back unchanged.

`plan` of the output shows no change: no call, no snippet change, no removal. Keys are written
only when they differ from what leaving them out means (an admin's `internal: true`, a group's
`assignable: false`, an empty whitelist, a multi-tenant switch that is off are left out), so a
SPEC that was applied comes back without keys it did not have.

Secrets are never printed: a secret kept as `env:NAME` stays a reference; a literal one becomes
an `env:` reference with a suggested variable name, to be set before applying.
"""

import re

import yaml

from sso.multitenant.models import TenantSSOConfig
from sso.multitenant.services import mtl_values, multi_tenant_login
from sso.snippets import identity_providers_spec_section
from tenants.groups.models import CrossTenantGroup
from tenants.groups.settings import stored_builtin_features, stored_organization
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
    domains = sorted(d.domain for d in tenant.login_domains.all())
    whitelist = list(tenant.whitelist.all())
    if not (domains or whitelist):
        return None
    login: dict = {}
    if domains:
        login["domains"] = domains
    roles = {
        "admins": sorted(w.email for w in whitelist if w.is_admin),
        "users": sorted(w.email for w in whitelist if not w.is_admin),
    }
    roles = {role: emails for role, emails in roles.items() if emails}
    if roles:
        login["whitelist"] = roles
    return login


def export_tenants() -> list[dict]:
    tenants = (
        Tenant.objects.filter(deleted_at__isnull=True)
        .prefetch_related("admins", "login_domains", "whitelist")
        .order_by("name")
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
            sso = row.as_sso_data()
            conf = sso.get("configuration")
            if isinstance(conf, dict) and "client_secret" in conf:
                conf["client_secret"] = _secret_ref(
                    conf["client_secret"], "SSO", tenant.name, "CLIENT_SECRET"
                )
            entry["sso"] = sso
        out.append(entry)
    return out


def _group(group: CrossTenantGroup) -> dict:
    item: dict = {"name": group.name}
    if group.display_name:
        item["display_name"] = group.display_name
    # The id is written even when the source gave none: it pins the generated one.
    item["id"] = str(group.group_id)
    item["features"] = list(group.features or [])
    if group.assignable:
        item["assignable"] = True
    return item


def _organization() -> dict:
    org = stored_organization()
    organization: dict = {}
    if org.features:
        organization["features"] = list(org.features)
    if org.unique_company_names is not None:
        organization["unique_company_names"] = org.unique_company_names
    if org.ui_features_per_role:
        organization["ui_features_per_role"] = org.ui_features_per_role
    return organization


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
    groups = [_group(g) for g in CrossTenantGroup.objects.order_by("name")]
    if groups:
        out["groups"] = groups
    builtin = {k: v for k, v in stored_builtin_features().items() if v is not None}
    if builtin:
        out["builtin_groups"] = builtin
    organization = _organization()
    if organization:
        out["organization"] = organization
    providers = identity_providers_spec_section()
    if providers:
        out["identity_providers"] = providers
    mtl = _multi_tenant_login()
    if mtl:
        out["multi_tenant_login"] = mtl
    return out


def export_spec() -> dict:
    spec: dict = {"version": 1, "tenants": export_tenants()}
    spec.update(export_server_sections())
    return spec


def export_spec_text() -> str:
    return HEADER + yaml.safe_dump(
        export_spec(), sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
