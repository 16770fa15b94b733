"""`export_spec`: the console's desired state as a SPEC that `apply` reads back unchanged.

Secrets are never printed: a secret kept as `env:NAME` stays a reference; a literal one becomes
an `env:` reference with a suggested variable name, to be set before applying.
"""

import re

import yaml

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


def export_tenants() -> list[dict]:
    tenants = (
        Tenant.objects.filter(deleted_at__isnull=True)
        .prefetch_related("admins", "login_domains", "whitelist")
        .order_by("name")
    )
    sso_rows = {}
    try:
        from sso.multitenant.models import TenantSSOConfig

        sso_rows = {row.tenant_id: row for row in TenantSSOConfig.objects.all()}
    except ImportError:
        pass
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
            entry["admins"] = [
                {"name": a.name, "email": a.email, "internal": a.internal} for a in admins
            ]
        domains = sorted(d.domain for d in tenant.login_domains.all())
        whitelist = list(tenant.whitelist.all())
        if domains or whitelist:
            entry["login"] = {
                "domains": domains,
                "whitelist": {
                    "admins": sorted(w.email for w in whitelist if w.is_admin),
                    "users": sorted(w.email for w in whitelist if not w.is_admin),
                },
            }
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


def export_server_sections() -> dict:
    out: dict = {}
    try:
        from tenants.groups.models import CrossTenantGroup
        from tenants.groups.settings import stored_builtin_features, stored_organization
    except ImportError:
        CrossTenantGroup = None  # noqa: N806
    if CrossTenantGroup is not None:
        groups = []
        for g in CrossTenantGroup.objects.all():
            item = {"name": g.name}
            if g.display_name:
                item["display_name"] = g.display_name
            item.update(
                {"id": str(g.group_id), "features": list(g.features), "assignable": g.assignable}
            )
            groups.append(item)
        if groups:
            out["groups"] = groups
        builtin = {k: v for k, v in stored_builtin_features().items() if v is not None}
        if builtin:
            out["builtin_groups"] = builtin
        org = stored_organization()
        organization: dict = {}
        if org.features:
            organization["features"] = list(org.features)
        if org.unique_company_names is not None:
            organization["unique_company_names"] = org.unique_company_names
        if org.ui_features_per_role:
            organization["ui_features_per_role"] = org.ui_features_per_role
        if organization:
            out["organization"] = organization
    try:
        from sso.multitenant.services import mtl_values, multi_tenant_login
        from sso.providers.models import IdentityProvider
        from sso.providers.services import stored_entry_data
    except ImportError:
        return out
    providers = []
    for idp in IdentityProvider.objects.order_by("provider"):
        data = stored_entry_data(idp)
        for key in idp.secrets:
            data[key] = _secret_ref(data[key], idp.provider, key)
        providers.append(data)
    if providers:
        out["identity_providers"] = providers
    mtl = mtl_values(multi_tenant_login())
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
