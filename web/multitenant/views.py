"""Multi-tenant login pages: the server switches, and each tenant's SSO configuration and push."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from console.audit import actor_for_request, audit_for_target
from console.snippets.web import build_snippet, register_snippet_source
from console.validation import InvalidInput
from sso.multitenant.models import TenantSSOConfig
from sso.multitenant.services import (
    login_link,
    mtl_update,
    mtl_values,
    multi_tenant_login,
    tenant_sso_calls,
    tenant_sso_delete,
    tenant_sso_push,
    tenant_sso_update,
)
from sso.multitenant.spec import CONFIG_FIELDS, TENANT_PROVIDERS, tenant_sso_validate
from sso.providers import forms
from sso.providers.discovery import DiscoveryError, fetch_discovery
from tenants.models import Tenant

CONFIG_PREFIX = "configuration."


def _mtl_settings(request):
    from sso.snippets import multi_tenant_login_settings

    return multi_tenant_login_settings(mtl_values(multi_tenant_login()))


register_snippet_source(
    "multi-tenant-login",
    _mtl_settings,
    title="Multi-tenant login switches",
    filename="clearml-multi-tenant-login",
)


def _webapp() -> str:
    return (getattr(settings, "CLEARML_WEBAPP_URL", "") or "").rstrip("/")


@never_cache
@require_http_methods(["GET", "POST"])
def multitenant_settings(request):
    row = multi_tenant_login()
    error = ""
    if request.method == "POST":
        try:
            version = int(request.POST.get("version") or 0) or None
        except ValueError:
            version = -1
        try:
            mtl_update(
                actor=actor_for_request(request),
                enabled=bool(request.POST.get("enabled")),
                allow_settings_providers=bool(request.POST.get("allow_settings_providers")),
                only_password_login=bool(request.POST.get("only_password_login")),
                version=version,
            )
        except InvalidInput as exc:
            error = str(exc.errors[0].message)
        else:
            messages.success(
                request,
                "Multi-tenant login settings saved. Export the snippet "
                "below into the server's configuration.",
            )
            return redirect("sso:multitenant")
    tenants = list(
        Tenant.objects.filter(deleted_at__isnull=True).select_related("sso_config").order_by("name")
    )
    rows = []
    for tenant in tenants:
        config = getattr(tenant, "sso_config", None)
        rows.append(
            {
                "tenant": tenant,
                "config": config,
                "link": login_link(_webapp(), config.external_tenant) if config else "",
            }
        )
    context = {
        "row": row,
        "values": mtl_values(row)
        or {"enabled": False, "allow_settings_providers": False, "only_password_login": True},
        "error": error,
        "tenants": rows,
        "webapp": _webapp() or "<CLEARML_WEBAPP_URL>",
        "webapp_set": bool(_webapp()),
        "snippet": build_snippet(request, "multi-tenant-login") if row else None,
        "entries": audit_for_target("multi_tenant_login", "1"),
    }
    return render(request, "sso/multitenant/settings.html", context, status=400 if error else 200)


def _mapping_text(mapping: dict) -> str:
    return "\n".join(f"{k} = {v}" for k, v in mapping.items())


def _parse_mapping(text: str) -> tuple[dict, list[str]]:
    out, errors = {}, []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if "=" not in line:
            errors.append(f"line {n}: write IdP group = ClearML group (got '{line.strip()[:60]}')")
            continue
        idp, clearml = (part.strip() for part in line.split("=", 1))
        if idp in out:
            errors.append(f"line {n}: the IdP group '{idp}' is mapped twice")
        out[idp] = clearml
    return out, errors


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@sensitive_post_parameters()
@sensitive_variables()  # the stored and typed client secret, in every frame below
@never_cache
@require_http_methods(["GET", "POST"])
def tenant_sso(request, tenant_id: int):
    tenant = get_object_or_404(Tenant, pk=tenant_id, deleted_at__isnull=True)
    row = TenantSSOConfig.objects.filter(tenant=tenant).first()
    existing_secret = {"client_secret": row.client_secret} if row and row.client_secret else {}
    errors: dict[str, list[str]] = {}
    other_errors: list[str] = []
    notices: list[tuple[str, str]] = []
    if row is not None:
        form = {
            "tenant": row.external_tenant,
            "group_mapping": _mapping_text(row.group_mapping),
            "admin_groups": "\n".join(row.admin_groups),
            "has_provider": row.has_provider,
            "provider": row.provider or "keycloak",
            "allow_http": row.allow_http,
            "issuer": "",
        }
        raw = forms.raw_from_values(CONFIG_FIELDS, row.configuration)
    else:
        form = {
            "tenant": "",
            "group_mapping": "",
            "admin_groups": "",
            "has_provider": False,
            "provider": "keycloak",
            "allow_http": False,
            "issuer": "",
        }
        raw = {}
    if request.method == "POST":
        action = request.POST.get("action", "save")
        post = request.POST
        form = {
            "tenant": post.get("tenant", "").strip(),
            "group_mapping": post.get("group_mapping", ""),
            "admin_groups": post.get("admin_groups", ""),
            "has_provider": bool(post.get("has_provider")),
            "provider": post.get("provider", "keycloak"),
            "allow_http": bool(post.get("allow_http")),
            "issuer": post.get("issuer", "").strip(),
        }
        raw = forms.raw_from_post(CONFIG_FIELDS, post, prefix=CONFIG_PREFIX)
        if action == "discover":
            notices = _discover(form["issuer"], form["allow_http"], raw)
            form["has_provider"] = True
            if post.get(CONFIG_PREFIX + "client_secret", "").strip():
                notices.append(
                    (
                        "warn",
                        "Secrets are never sent back to the browser: type the "
                        "client secret again before saving.",
                    )
                )
        else:
            response = _save(request, tenant, row, form, existing_secret, errors, other_errors)
            if response is not None:
                return response
    planned, plan_error = [], ""
    if row is not None:
        try:
            planned = tenant_sso_calls(
                tenant=tenant, sso=row.as_sso_data(), skip_unchanged=False, resolve=False
            )
        except InvalidInput as exc:
            plan_error = "; ".join(str(e) for e in exc.errors)
    config_groups = forms.bind(
        CONFIG_FIELDS,
        raw=raw,
        errors=errors,
        secrets=existing_secret,
        prefix=CONFIG_PREFIX,
    )
    webapp = _webapp() or "<CLEARML_WEBAPP_URL>"
    external = form["tenant"] or "<external tenant id>"
    client_id = raw.get("client_id") or "<client_id>"
    status = 400 if (errors or other_errors) and request.method == "POST" else 200
    context = {
        "tenant": tenant,
        "row": row,
        "form": form,
        "errors": errors,
        "other_errors": other_errors,
        "notices": notices,
        "config_groups": config_groups,
        "providers": TENANT_PROVIDERS,
        "planned": planned,
        "plan_error": plan_error,
        "login_link": login_link(_webapp(), external),
        "redirect_uri": f"{webapp}/callback_{client_id}",
        "logout_uris": [f"{webapp}/login", f"{webapp}/login/{external}"],
        "webapp_set": bool(_webapp()),
        "entries": audit_for_target("tenant", str(tenant.pk)),
        "mtl": multi_tenant_login(),
    }
    if request.htmx and not request.htmx.boosted and request.method == "POST":
        # htmx swaps only 2xx answers: the fragment with its errors comes back as 200.
        return render(request, "sso/multitenant/_tenant_form.html", context)
    return render(request, "sso/multitenant/tenant.html", context, status=status)


def _save(request, tenant, row, form, existing_secret, errors, other_errors):
    mapping, mapping_errors = _parse_mapping(form["group_mapping"])
    if mapping_errors:
        errors["group_mapping"] = mapping_errors
    data: dict = {
        "tenant": form["tenant"],
        "group_mapping": mapping,
        "admin_groups": _lines(form["admin_groups"]),
    }
    if form["allow_http"]:
        data["allow_http"] = True
    if form["has_provider"]:
        values, parse_errors, _ = forms.parse_post(
            CONFIG_FIELDS, request.POST, existing_secrets=existing_secret, prefix=CONFIG_PREFIX
        )
        for k, msgs in parse_errors.items():
            errors.setdefault(k, []).extend(msgs)
        data["provider"] = form["provider"]
        data["configuration"] = values
    try:
        sso = tenant_sso_validate(data, "")
    except InvalidInput as exc:
        _spread(exc, errors, other_errors)
        return None
    if errors:
        return None
    version = None if row is None else _int(request.POST.get("version"))
    try:
        row = tenant_sso_update(
            actor=actor_for_request(request), tenant=tenant, sso=sso, version=version
        )
    except InvalidInput as exc:
        _spread(exc, errors, other_errors)
        return None
    if request.POST.get("action") == "save_push":
        _push(request, row)
    else:
        messages.success(
            request,
            f"Saved the SSO configuration of {tenant.name}. Push it to the apiserver when ready.",
        )
    url = reverse("sso:tenant_sso", args=[tenant.pk])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _spread(exc: InvalidInput, errors: dict, other_errors: list) -> None:
    """Put each error next to its input: top-level keys, then configuration fields."""
    for e in exc.errors:
        path = e.path
        top = path.split(".", 1)[0].split("[", 1)[0]
        if path.startswith("configuration."):
            by_field, other = forms.errors_by_field(
                InvalidInput([e]), CONFIG_FIELDS, "configuration"
            )
            for k, msgs in by_field.items():
                errors.setdefault(k, []).extend(msgs)
            other_errors.extend(other)
        elif top in (
            "tenant",
            "group_mapping",
            "admin_groups",
            "provider",
            "configuration",
        ):
            detail = path[len(top) :].lstrip(".")
            errors.setdefault(top, []).append(f"{detail}: {e.message}" if detail else e.message)
        else:  # e.g. version (someone saved in between): shown in the form's alert
            other_errors.append(str(e))


def _discover(issuer: str, allow_http: bool, raw: dict) -> list[tuple[str, str]]:
    if not issuer:
        return [("error", "Type the issuer URL (for Keycloak https://host/realms/<realm>) first.")]
    try:
        found = fetch_discovery(issuer, allow_http=allow_http)
    except DiscoveryError as exc:
        return [("error", f"Discovery failed: {exc}")]
    filled = []
    for key in (
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "end_session_endpoint",
    ):
        if key in found.endpoints:
            raw[key] = found.endpoints[key]
            filled.append(key.replace("_", " "))
    out = [("ok", f"Filled the {', '.join(filled)} from {found.url}. Review them, then save.")]
    return out + [("warn", w) for w in found.warnings]


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _push(request, row: TenantSSOConfig) -> None:
    try:
        result = tenant_sso_push(actor=actor_for_request(request), row=row)
    except InvalidInput as exc:
        messages.error(request, "Not pushed: " + "; ".join(str(e) for e in exc.errors))
        return
    (messages.success if result.ok else messages.error)(request, result.message)


@sensitive_variables()  # the push holds the client secret
@never_cache
@require_POST
def tenant_sso_push_view(request, tenant_id: int):
    row = get_object_or_404(TenantSSOConfig, tenant_id=tenant_id, tenant__deleted_at__isnull=True)
    _push(request, row)
    return redirect("sso:tenant_sso", tenant_id=tenant_id)


@never_cache
@require_POST
def tenant_sso_delete_view(request, tenant_id: int):
    row = get_object_or_404(TenantSSOConfig, tenant_id=tenant_id)
    tenant_sso_delete(actor=actor_for_request(request), row=row)
    messages.success(
        request,
        "The console no longer manages this tenant's SSO configuration. The apiserver keeps what "
        "was pushed (the docs name no call that removes it).",
    )
    return redirect("sso:multitenant")
