"""Identity provider pages: the list, one generated form per provider, discovery, checklist."""

import yaml
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from changes import identity as identity_changes
from changes.approvals import waiting_for_approval
from console.audit import actor_for_request, audit_for_target
from console.snippets.web import build_snippet, register_snippet_source
from console.validation import InvalidInput
from sso.multitenant.services import mtl_values, multi_tenant_login
from sso.providers import catalog, forms
from sso.providers.discovery import DiscoveryError, fetch_discovery
from sso.providers.export import entries_settings
from sso.providers.models import IdentityProvider
from sso.providers.services import TARGET_TYPE, stored_entry_data
from sso.providers.spec import CompanyResolver, ProviderEntry, validate_provider_entry
from sso.snippets import console_entries, multi_tenant_login_settings
from tenants.models import Tenant

RETYPE_NOTICE = "Secrets are never sent back to the browser: type the secret again."

# ---- snippet sources -------------------------------------------------------------------------


def _is_download(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return bool(match and match.view_name == "snippets:download")


def _settings_for(request, keys: list[str] | None, *, with_mtl: bool):
    download = _is_download(request)
    entries = [e for e in console_entries() if keys is None or e.provider.key in keys]
    try:
        out = entries_settings(entries, placeholders=not download)
    except InvalidInput as exc:
        # The snippet partial and the download show a ValueError's message to the admin.
        raise ValueError("; ".join(str(e) for e in exc.errors)) from None
    if with_mtl:
        out += multi_tenant_login_settings(mtl_values(multi_tenant_login()))
    if download and any(s.secret for s in out):
        identity_changes.idp_export_recorded(
            actor=actor_for_request(request),
            providers_shown=[e.provider.key for e in entries],
            fmt=request.GET.get("format", "helm"),
        )
    return out


register_snippet_source(
    "identity-providers",
    lambda request: _settings_for(request, None, with_mtl=True),
    title="Identity providers and multi-tenant login",
    filename="clearml-identity-providers",
)
for _key, _p in catalog.PROVIDERS.items():
    register_snippet_source(
        f"idp-{_key}",
        (lambda k: lambda request: _settings_for(request, [k], with_mtl=False))(_key),
        title=f"{_p.label} variables",
        filename=f"clearml-idp-{_key}",
    )


# ---- pages -----------------------------------------------------------------------------------


def _webapp() -> str:
    return getattr(settings, "CLEARML_WEBAPP_URL", "") or ""


def callback_url(provider: catalog.ProviderDef) -> str:
    if not provider.callback:
        return ""
    return (_webapp() or "<CLEARML_WEBAPP_URL>").rstrip("/") + provider.callback


def _secret_badges(row: IdentityProvider) -> list[tuple[str, str, str]]:
    out = []
    for f in row.definition.secret_fields:
        stored = row.secrets.get(f.key, "")
        if not stored:
            out.append((f.label, "unset", "badge-bad"))
        elif stored.startswith("env:"):
            out.append((f.label, f"from ${stored[4:]}", "badge-info"))
        else:
            out.append((f.label, "set", "badge-ok"))
    return out


@never_cache
@require_GET
def provider_list(request):
    rows = {row.provider: row for row in IdentityProvider.objects.all()}
    names = dict(
        Tenant.objects.filter(deleted_at__isnull=True)
        .exclude(company_id="")
        .values_list("company_id", "name")
    )
    configured = []
    for key, p in catalog.PROVIDERS.items():
        row = rows.get(key)
        if row is None:
            continue
        problems = ""
        try:
            validate_provider_entry(stored_entry_data(row), "")
        except InvalidInput as exc:
            problems = "; ".join(str(e) for e in exc.errors)
        configured.append(
            {
                "p": p,
                "row": row,
                "secrets": _secret_badges(row),
                "problems": problems,
                "company": _company_label(row.settings.get("default_company", ""), names),
            }
        )
    available = [
        (label, [p for p in providers if p.key not in rows])
        for label, providers in catalog.providers_by_protocol()
    ]
    context = {
        "configured": configured,
        "available": [(label, ps) for label, ps in available if ps],
        "snippet": build_snippet(request, "identity-providers") if rows else None,
    }
    return render(request, "sso/providers/list.html", context)


def _company_label(value: str, names: dict[str, str]) -> str:
    if not value or value.startswith("tenant:"):
        return value
    name = names.get(value)
    return f"{name} ({value})" if name else f"{value} (not a console tenant)"


def _flat_values(row: IdentityProvider) -> dict:
    """The stored settings by field key, even when the row no longer validates."""
    try:
        return validate_provider_entry(stored_entry_data(row), "").values
    except InvalidInput:
        out = {}

        def walk(node, prefix):
            for k, v in node.items():
                key = f"{prefix}.{k}" if prefix else k
                if row.definition.field(key) is not None:
                    out[key] = v
                elif isinstance(v, dict):
                    walk(v, key)

        walk(row.settings, "")
        return out


def _check_company_is_tenant(values: dict, row: IdentityProvider | None, errors: dict) -> None:
    """The browser form picks a console tenant; a company id typed into a SPEC is accepted as
    is, so an unknown id already stored is kept, but a new one must be a tenant's."""
    value = values.get("default_company")
    if not value or str(value).startswith("tenant:"):
        return
    if row is not None and _flat_values(row).get("default_company") == value:
        return
    if not Tenant.objects.filter(company_id=value, deleted_at__isnull=True).exists():
        errors.setdefault("default_company", []).append(
            f"'{value}' is not the company of a known tenant; pick one from the list"
        )


@sensitive_post_parameters()
@sensitive_variables()  # the stored and typed secrets, in every frame below
@never_cache
@require_http_methods(["GET", "POST"])
def provider_add(request, key: str):
    provider = catalog.get_provider(key)
    if provider is None:
        raise Http404("No such identity provider.")
    row = IdentityProvider.objects.filter(provider=key).first()
    if row is not None:
        return redirect("sso:provider_edit", key=key)
    return _provider_form(request, provider, None)


@sensitive_post_parameters()
@sensitive_variables()  # the stored and typed secrets, in every frame below
@never_cache
@require_http_methods(["GET", "POST"])
def provider_edit(request, key: str):
    row = get_object_or_404(IdentityProvider, provider=key)
    return _provider_form(request, row.definition, row)


def _provider_form(request, provider: catalog.ProviderDef, row: IdentityProvider | None):
    """The provider's form: GET shows it; POST discovers endpoints or saves (then redirects)."""
    if request.method != "POST":
        return _render_form(request, provider, row, _stored_state(provider, row))
    state = _posted_state(provider, request.POST)
    values, state["errors"], _ = forms.parse_post(
        provider.fields, request.POST, existing_secrets=dict(row.secrets) if row else {}
    )
    action = request.POST.get("action", "save")
    if action == "discover" and provider.discovery:
        state["notices"] += _discover(provider, state["issuer"], state["allow_http"], state["raw"])
        state["errors"] = {}
        if _secret_typed(request, provider):
            state["notices"].append(("warn", RETYPE_NOTICE))
    elif action == "save":
        saved = _save(request, provider, row, state, values)
        if saved is not None:
            return saved
    return _render_form(request, provider, row, state)


def _stored_state(provider: catalog.ProviderDef, row: IdentityProvider | None) -> dict:
    """What the form shows before a POST: the stored row (its secrets never)."""
    raw = forms.raw_from_values(provider.fields, _flat_values(row)) if row is not None else {}
    return {
        "raw": raw,
        "allow_http": row.allow_http if row else False,
        "metadata_xml": row.metadata_xml if row else "",
        "issuer": raw.get("base_url", ""),
        "errors": {},
        "other_errors": [],
        "notices": [],
    }


def _posted_state(provider: catalog.ProviderDef, post) -> dict:
    return {
        "raw": forms.raw_from_post(provider.fields, post),
        "allow_http": bool(post.get("allow_http")),
        "metadata_xml": post.get("metadata_xml", ""),
        "issuer": post.get("issuer", "").strip(),
        "errors": {},
        "other_errors": [],
        "notices": [],
    }


def _secret_typed(request, provider: catalog.ProviderDef) -> bool:
    return any(request.POST.get(f.key, "").strip() for f in provider.secret_fields)


def _checked_entry(provider, row, state: dict, values: dict) -> ProviderEntry | None:
    """The posted values as a checked entry; None (errors in `state`) when they are not valid."""
    errors = state["errors"]
    _check_company_is_tenant(values, row, errors)
    data = {"provider": provider.key, **forms.nest(values)}
    if state["allow_http"]:
        data["allow_http"] = True
    try:
        entry = validate_provider_entry(data, "", companies=CompanyResolver())
    except InvalidInput as exc:
        by_field, state["other_errors"] = forms.errors_by_field(exc, provider.fields)
        for k, msgs in by_field.items():
            errors.setdefault(k, []).extend(msgs)
        return None
    return None if errors else entry


def _save(request, provider, row, state: dict, values: dict):
    """Save through the change pipeline; the redirect, or None with the errors in `state`."""
    entry = _checked_entry(provider, row, state, values)
    if entry is None:
        return None
    try:
        changeset, _ = identity_changes.idp_save(
            actor=actor_for_request(request),
            row=row,
            entry=entry,
            version=_int(request.POST.get("version")),
            metadata_xml=state["metadata_xml"],
        )
    except InvalidInput as exc:
        _spread_save_errors(exc, provider, state)
        return None
    if row is None:
        messages.success(request, f"{provider.label} is configured.")
    elif changeset is None:
        messages.info(request, "Nothing changed, so nothing was saved.")
    elif waiting_for_approval(changeset):
        messages.info(request, waiting_for_approval(changeset))
    else:
        messages.success(request, f"{provider.label} is saved.")
    url = reverse("sso:provider_edit", args=[provider.key])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _spread_save_errors(exc: InvalidInput, provider, state: dict) -> None:
    errors = state["errors"]
    by_field, more = forms.errors_by_field(exc, provider.fields)
    state["other_errors"] += [e for e in more if not e.startswith("metadata_xml")]
    for e in exc.errors:
        if e.path == "metadata_xml":
            errors.setdefault("metadata_xml", []).append(e.message)
    for k, msgs in by_field.items():
        errors.setdefault(k, []).extend(msgs)


def _bound_fields(provider, row, raw: dict, errors: dict):
    return forms.bind(
        provider.fields,
        raw=raw,
        errors=errors,
        secrets=dict(row.secrets) if row else {},
        company_choices=forms.tenant_company_choices(),
        variable=lambda f: provider.variable(f, "<name>" if f.type == catalog.MAP else ""),
    )


def _render_form(request, provider, row, state: dict):
    errors, other_errors, raw = state["errors"], state["other_errors"], state["raw"]
    posted = request.method == "POST"
    if posted and (errors or other_errors) and _secret_typed(request, provider):
        state["notices"].append(("warn", RETYPE_NOTICE))
    context = {
        "p": provider,
        "row": row,
        "groups": _bound_fields(provider, row, raw, errors),
        "errors": errors,
        "other_errors": other_errors,
        "notices": state["notices"],
        "allow_http": state["allow_http"],
        "metadata_xml": state["metadata_xml"],
        "metadata_errors": errors.get("metadata_xml", []),
        "issuer": state["issuer"],
        "callback_url": callback_url(provider),
        "webapp_set": bool(_webapp()),
        "metadata_path": raw.get("idp_metadata_file")
        or (f"{catalog.ADDITIONAL_CONFIGS_DIR}/{provider.key}_metadata.xml"),
        "docs_notes": _docs_notes(provider),
        "steps": [
            (i, s, row is not None and i in (row.checklist or []))
            for i, s in enumerate(provider.steps)
        ],
        "status": 400 if (errors or other_errors) and posted else 200,
    }
    if row is not None:
        context["snippet"] = build_snippet(request, f"idp-{provider.key}")
        context["entries"] = audit_for_target(TARGET_TYPE, provider.key)
        context["additional_configs"] = _additional_configs(provider, row)
    if request.htmx and not request.htmx.boosted and posted:
        # htmx swaps only 2xx answers: the fragment with its errors comes back as 200.
        return render(request, "sso/providers/_form.html", context)
    return render(request, "sso/providers/form.html", context, status=context["status"])


def _docs_notes(provider) -> list[tuple[str, str]]:
    """Each field-level docs difference once, with the labels of every field it concerns."""
    by_note: dict[str, list[str]] = {}
    for f in provider.fields:
        if f.docs_note:
            by_note.setdefault(f.docs_note, []).append(f.label)
    return [(", ".join(labels), note) for note, labels in by_note.items()]


def _discover(provider, issuer: str, allow_http: bool, raw: dict) -> list[tuple[str, str]]:
    if not issuer:
        return [("error", "Type the issuer URL (for Keycloak https://host/realms/<realm>) first.")]
    try:
        found = fetch_discovery(issuer, allow_http=allow_http)
    except DiscoveryError as exc:
        return [("error", f"Discovery failed: {exc}")]
    raw["authorize_url"] = found.endpoints["authorization_endpoint"]
    raw["access_token_url"] = found.endpoints["token_endpoint"]
    filled = ["authorization endpoint", "access token endpoint"]
    if provider.field("base_url") is not None and not raw.get("base_url"):
        raw["base_url"] = found.issuer.rstrip("/") + "/"
        filled.append("base URL")
    out = [("ok", f"Filled the {', '.join(filled)} from {found.url}. Review them, then save.")]
    out += [("warn", w) for w in found.warnings]
    return out


def _additional_configs(provider, row) -> str:
    """The Helm values that mount the IdP metadata file (google_saml / microsoft_ad pages)."""
    if not provider.uses_metadata_file or not row.metadata_xml:
        return ""
    path = _flat_values(row).get("idp_metadata_file", "")
    name = path.rsplit("/", 1)[-1] if path.startswith(catalog.ADDITIONAL_CONFIGS_DIR + "/") else ""
    if not name:
        return ""

    class _Literal(str):
        pass

    def literal(dumper, data):
        return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="|")

    dumper = type("D", (yaml.SafeDumper,), {})
    dumper.add_representer(_Literal, literal)
    return yaml.dump(
        {"apiserver": {"additionalConfigs": {name: _Literal(row.metadata_xml.strip() + "\n")}}},
        Dumper=dumper,
        sort_keys=False,
        allow_unicode=True,
        width=1000,
    )


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


@never_cache
@require_POST
def provider_delete(request, key: str):
    row = get_object_or_404(IdentityProvider, provider=key)
    changeset = identity_changes.idp_delete(actor=actor_for_request(request), idp=row)
    messages.success(
        request,
        waiting_for_approval(changeset)
        or f"{row.definition.label} is removed from the console. Remove its variables from the "
        "server's configuration too.",
    )
    return redirect("sso:providers")


@never_cache
@require_POST
def provider_checklist(request, key: str):
    row = get_object_or_404(IdentityProvider, provider=key)
    done = [_int(v) for v in request.POST.getlist("step")]
    identity_changes.idp_set_checklist(actor=actor_for_request(request), idp=row, done=done)
    messages.success(request, "Checklist saved.")
    return redirect(reverse("sso:provider_edit", args=[key]) + "#checklist")
