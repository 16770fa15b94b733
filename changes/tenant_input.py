"""Checking a whole tenant as a face gives it: the tenant's own fields (tenants.validation) plus
its sign-in routing (`login`) and multi-tenant SSO (`sso`) sections, which hang off the tenant
in the sso app. Every problem is reported together, each with its field path."""

from console.validation import ErrorCollector, InvalidInput, join_path
from sso.multitenant.services import tenant_sso_validate
from sso.routing.validation import spec_login_validate
from tenants.models import TenantAdmin
from tenants.validation import TenantInput, validate_tenant


def validate_tenant_entry(
    data,
    path: str = "",
    *,
    tenant_id: int | None = None,
    check_name: bool = True,
    require_admin: bool = False,
    others: dict[str, str] | None = None,
    other_admins: dict[str, str] | None = None,
    console_admins: dict[str, tuple[int, str]] | None = None,
) -> TenantInput:
    """Check one tenant with its `login` and `sso`; raise InvalidInput with every problem."""
    errors = ErrorCollector()
    result: TenantInput | None = None
    try:
        result = validate_tenant(
            data,
            path,
            tenant_id=tenant_id,
            check_name=check_name,
            require_admin=require_admin,
            others=others,
            other_admins=other_admins,
            console_admins=console_admins,
        )
    except InvalidInput as exc:
        errors.errors.extend(exc.errors)
    if not isinstance(data, dict):
        errors.raise_if_any()
    name = result.name if result is not None else _loose_name(data.get("name"))
    login = sso = None
    if data.get("login") is not None:
        login_path = join_path(path, "login")
        try:
            login = spec_login_validate(
                data["login"],
                tenant_name=name or "?",
                path=login_path,
                tenant_id=tenant_id,
                others=others,
            )
        except InvalidInput as exc:
            errors.errors.extend(exc.errors)
        if login is not None and login.keys() and result is not None and not result.admins:
            has_admin = (
                tenant_id is not None
                and TenantAdmin.objects.filter(tenant_id=tenant_id).exclude(user_id="").exists()
            )
            if not has_admin:
                errors.add(
                    login_path,
                    "needs at least one admin in admins: login.* calls act as the tenant's "
                    "first admin",
                )
    if data.get("sso") is not None:
        try:
            sso = tenant_sso_validate(data["sso"], join_path(path, "sso"))
        except InvalidInput as exc:
            errors.errors.extend(exc.errors)
    errors.raise_if_any()
    assert result is not None  # no errors means the tenant's own fields were valid
    result.login = login
    if login is not None:
        result.warnings.extend(login.warnings)
    result.sso = sso
    return result


def _loose_name(value) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""
