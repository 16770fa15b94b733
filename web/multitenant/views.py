"""Multi-tenant login pages: the server switches, and each tenant's SSO configuration and push."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from changes import identity as identity_changes
from changes.approvals import waiting_for_approval
from console.audit import actor_for_request, audit_for_target
from console.snippets.web import build_snippet, register_snippet_source
from console.validation import InvalidInput
from sso.multitenant.models import TenantSSOConfig
from sso.multitenant.services import login_link, mtl_values, multi_tenant_login, tenant_sso_calls
from sso.multitenant.spec import CONFIG_FIELDS, TENANT_PROVIDERS, tenant_sso_validate
from sso.providers import forms
from sso.providers.discovery import DiscoveryError, fetch_discovery
from sso.snippets import multi_tenant_login_settings
from tenants.models import Tenant

CONFIG_PREFIX = "configuration."
NOTHING_CHANGED = "Nothing changed, so nothing was saved."
RETYPE_NOTICE = (
    "Secrets are never sent back to the browser: type the client secret again before saving."
)
EMPTY_FORM = {
    "tenant": "",
    "group_mapping": "",
    "admin_groups": "",
    "has_provider": False,
    "provider": "keycloak",
    "allow_http": False,
    "issuer": "",
}


def _mtl_settings(request):
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
    error = ""
    if request.method == "POST":
        try:
            changeset, _ = identity_changes.mtl_update(
                actor=actor_for_request(request),
                enabled=bool(request.POST.get("enabled")),
                allow_settings_providers=bool(request.POST.get("allow_settings_providers")),
                only_password_login=bool(request.POST.get("only_password_login")),
                version=_optional_version(request.POST.get("version")),
            )
        except InvalidInput as exc:
            error = str(exc.errors[0].message)
        else:
            if changeset is None:
                messages.info(request, NOTHING_CHANGED)
            else:
                messages.success(
                    request,
                    waiting_for_approval(changeset)
                    or "Multi-tenant login settings saved. Export the snippet "
                    "below into the server's configuration.",
                )
            return redirect("sso:multitenant")
    context = _settings_context(request, multi_tenant_login(), error)
    return render(request, "sso/multitenant/settings.html", context, status=400 if error else 200)


def _optional_version(value) -> int | None:
    """The version the form was rendered with (none before the first save; -1 if garbled)."""
    try:
        return int(value or 0) or None
    except ValueError:
        return -1


def _settings_context(request, row, error: str) -> dict:
    tenants = Tenant.objects.filter(deleted_at__isnull=True).select_related("sso_config")
    rows = []
    for tenant in tenants.order_by("name"):
        config = getattr(tenant, "sso_config", None)
        link = login_link(_webapp(), config.external_tenant) if config else ""
        rows.append({"tenant": tenant, "config": config, "link": link})
    return {
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
    state = _stored_state(row)
    if request.method == "POST":
        state = _posted_state(request.POST)
        if request.POST.get("action", "save") == "discover":
            form = state["form"]
            state["notices"] = _discover(form["issuer"], form["allow_http"], state["raw"])
            form["has_provider"] = True
            if request.POST.get(CONFIG_PREFIX + "client_secret", "").strip():
                state["notices"].append(("warn", RETYPE_NOTICE))
        else:
            response = _save(request, tenant, row, state)
            if response is not None:
                return response
    context = _tenant_context(request, tenant, row, state)
    if request.htmx and not request.htmx.boosted and request.method == "POST":
        # htmx swaps only 2xx answers: the fragment with its errors comes back as 200.
        return render(request, "sso/multitenant/_tenant_form.html", context)
    return render(request, "sso/multitenant/tenant.html", context, status=context["status"])


def _stored_state(row: TenantSSOConfig | None) -> dict:
    """The form as the stored configuration fills it (the client secret never)."""
    state = {"form": dict(EMPTY_FORM), "raw": {}, "errors": {}, "other_errors": [], "notices": []}
    if row is not None:
        state["form"].update(
            tenant=row.external_tenant,
            group_mapping=_mapping_text(row.group_mapping),
            admin_groups="\n".join(row.admin_groups),
            has_provider=row.has_provider,
            provider=row.provider or "keycloak",
            allow_http=row.allow_http,
        )
        state["raw"] = forms.raw_from_values(CONFIG_FIELDS, row.configuration)
    return state


def _posted_state(post) -> dict:
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
    return {"form": form, "raw": raw, "errors": {}, "other_errors": [], "notices": []}


def _planned_calls(tenant, row) -> tuple[list, str]:
    """The calls a push would send, as the page shows them (env:NAME values not read)."""
    if row is None:
        return [], ""
    try:
        calls = tenant_sso_calls(
            tenant=tenant, sso=row.as_sso_data(), skip_unchanged=False, resolve=False
        )
    except InvalidInput as exc:
        return [], "; ".join(str(e) for e in exc.errors)
    return calls, ""


def _tenant_context(request, tenant, row, state: dict) -> dict:
    form, raw, errors, other_errors = (state[k] for k in ("form", "raw", "errors", "other_errors"))
    existing_secret = {"client_secret": row.client_secret} if row and row.client_secret else {}
    planned, plan_error = _planned_calls(tenant, row)
    webapp = _webapp() or "<CLEARML_WEBAPP_URL>"
    external = form["tenant"] or "<external tenant id>"
    client_id = raw.get("client_id") or "<client_id>"
    failed = (errors or other_errors) and request.method == "POST"
    return {
        "tenant": tenant,
        "row": row,
        "form": form,
        "errors": errors,
        "other_errors": other_errors,
        "notices": state["notices"],
        "config_groups": forms.bind(
            CONFIG_FIELDS, raw=raw, errors=errors, secrets=existing_secret, prefix=CONFIG_PREFIX
        ),
        "providers": TENANT_PROVIDERS,
        "planned": planned,
        "plan_error": plan_error,
        "login_link": login_link(_webapp(), external),
        "redirect_uri": f"{webapp}/callback_{client_id}",
        "logout_uris": [f"{webapp}/login", f"{webapp}/login/{external}"],
        "webapp_set": bool(_webapp()),
        "entries": audit_for_target("tenant", str(tenant.pk)),
        "mtl": multi_tenant_login(),
        "status": 400 if failed else 200,
    }


def _checked_sso(request, row, state: dict):
    """The posted form as a checked TenantSSO; None (errors in `state`) when it is not valid."""
    form, errors = state["form"], state["errors"]
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
        existing = {"client_secret": row.client_secret} if row and row.client_secret else {}
        values, parse_errors, _ = forms.parse_post(
            CONFIG_FIELDS, request.POST, existing_secrets=existing, prefix=CONFIG_PREFIX
        )
        for k, msgs in parse_errors.items():
            errors.setdefault(k, []).extend(msgs)
        data["provider"] = form["provider"]
        data["configuration"] = values
    try:
        sso = tenant_sso_validate(data, "")
    except InvalidInput as exc:
        _spread(exc, errors, state["other_errors"])
        return None
    return None if errors else sso


def _save(request, tenant, row, state: dict):
    """Save (and with "save_push", push) through the change pipeline; the redirect, or None
    with the errors in `state`."""
    sso = _checked_sso(request, row, state)
    if sso is None:
        return None
    try:
        changeset, row = identity_changes.tenant_sso_update(
            actor=actor_for_request(request),
            tenant=tenant,
            sso=sso,
            version=None if row is None else _int(request.POST.get("version")),
        )
    except InvalidInput as exc:
        _spread(exc, state["errors"], state["other_errors"])
        return None
    if request.POST.get("action") == "save_push":
        _push(request, row)
    elif changeset is None:
        messages.info(request, NOTHING_CHANGED)
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
        _, result = identity_changes.tenant_sso_push(actor=actor_for_request(request), row=row)
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
    changeset = identity_changes.tenant_sso_delete(actor=actor_for_request(request), row=row)
    messages.success(
        request,
        waiting_for_approval(changeset)
        or "The console no longer manages this tenant's SSO configuration. The apiserver keeps "
        "what was pushed (the docs name no call that removes it).",
    )
    return redirect("sso:multitenant")
