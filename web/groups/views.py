"""Groups & features pages: cross-tenant groups, built-in groups, organization settings, the
effective-features matrix and the export (snippets and merging into an uploaded file)."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from changes import groups as group_changes
from changes.approvals import waiting_for_approval
from console.audit import actor_for_request
from console.snippets.merge import (
    KINDS,
    MAX_UPLOAD_BYTES,
    MergeError,
    decode_upload,
    detect_kind,
    merge_file,
)
from console.snippets.web import build_snippet, masked_settings
from console.validation import FieldError, InvalidInput
from tenants.features import FEATURES, UI_FEATURES, UI_ROLES
from tenants.groups.models import BUILTIN_GROUPS, CrossTenantGroup, OrganizationSettings
from tenants.groups.services import Stale
from tenants.groups.settings import stored_builtin_features, stored_groups, stored_organization
from web.groups import sources
from web.groups.matrix import effective_context
from web.tenants.views.common import render_page

BUILTIN_DESCRIPTIONS = {
    "users": "Every registered user is in this group.",
    "admins": "Users with administrative privileges.",
    "queue_admins": "Users who can manage task execution queues.",
}
NOTHING_CHANGED = "Nothing changed, so nothing was saved."


def _saved(request, changeset, message: str) -> None:
    """The message after a save: what was saved, or that nothing changed."""
    if changeset is None:
        messages.info(request, NOTHING_CHANGED)
    else:
        messages.success(request, message)


def _version(request) -> int:
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return -1


def _errors_by_field(errors: list[FieldError]) -> dict[str, list[str]]:
    """Errors keyed by the form field they belong to (`features[2]` -> `features`)."""
    out: dict[str, list[str]] = {}
    for error in errors:
        field = error.path.split("[", 1)[0].split(".", 1)[0] or "general"
        message = error.message
        if "[" in error.path and field == "features":
            message = f"{error.path}: {message}"
        out.setdefault(field, []).append(message)
    return out


def _feature_rows(selected) -> list[dict]:
    selected = set(selected or [])
    return [
        {
            "name": f.name,
            "description": f.description,
            "notes": f.notes,
            "deprecated": f.deprecated,
            "min_server_version": f.min_server_version,
            "checked": f.name in selected,
        }
        for f in FEATURES
    ]


# --- cross-tenant groups ------------------------------------------------------------------------


@never_cache
@require_GET
def groups_overview(request):
    groups = stored_groups()
    builtin = stored_builtin_features()
    context = {
        "groups": groups,
        "builtin": [{"name": n, "features": builtin[n]} for n in BUILTIN_GROUPS],
        "organization": stored_organization(),
        "snippet": build_snippet(request, "groups"),
    }
    return render_page(request, "tenants/groups/list.html", context)


def _group_data(post) -> dict:
    return {
        "name": post.get("name", ""),
        "display_name": post.get("display_name", ""),
        "id": post.get("id", ""),
        "features": post.getlist("features"),
        "assignable": post.get("assignable") == "on",
    }


def _group_values(group: CrossTenantGroup) -> dict:
    """The group as its form shows it."""
    return {
        "name": group.name,
        "display_name": group.display_name,
        "id": str(group.group_id),
        "features": list(group.features or []),
        "assignable": group.assignable,
    }


def _group_form(request, *, group, data, errors, version, status=200, stale=False):
    context = {
        "group": group,
        "data": data,
        "errors": errors,
        "version": version,
        "stale": stale,
        "features": _feature_rows(data.get("features")),
        "snippet": build_snippet(request, "group", params={"group": group.pk}) if group else None,
    }
    return render_page(request, "tenants/groups/form.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def group_create_view(request):
    if request.method == "GET":
        data = {"name": "", "display_name": "", "id": "", "features": [], "assignable": False}
        return _group_form(request, group=None, data=data, errors={}, version=0)
    data = _group_data(request.POST)
    try:
        _, group = group_changes.group_create(data=data, actor=actor_for_request(request))
    except InvalidInput as exc:
        return _group_form(
            request,
            group=None,
            data=data,
            errors=_errors_by_field(exc.errors),
            version=0,
            status=400,
        )
    messages.success(
        request,
        f"Group {group.name} saved with id {group.group_id}. Export its variables to the server "
        "and restart the apiserver.",
    )
    return redirect("tenants:group_edit", pk=group.pk)


@never_cache
@require_http_methods(["GET", "POST"])
def group_edit_view(request, pk: int):
    group = get_object_or_404(CrossTenantGroup, pk=pk)
    if request.method == "GET":
        data = _group_values(group)
        return _group_form(request, group=group, data=data, errors={}, version=group.version)
    data = _group_data(request.POST)
    version = _version(request)
    try:
        changeset, _ = group_changes.group_update(
            group=group, data=data, version=version, actor=actor_for_request(request)
        )
    except InvalidInput as exc:
        errors = _errors_by_field(exc.errors)
        return _group_form(
            request, group=group, data=data, errors=errors, version=version, status=400
        )
    except Stale as exc:
        group.refresh_from_db()
        return _group_form(
            request,
            group=group,
            data=data,
            errors={"general": [str(exc)]},
            version=group.version,
            status=409,
            stale=True,
        )
    _saved(request, changeset, f"Group {data['name'].strip()} saved.")
    return redirect("tenants:group_edit", pk=group.pk)


@never_cache
@require_http_methods(["GET", "POST"])
def group_delete_view(request, pk: int):
    group = get_object_or_404(CrossTenantGroup, pk=pk)
    if request.method == "POST":
        try:
            changeset = group_changes.group_delete(
                group=group, version=_version(request), actor=actor_for_request(request)
            )
        except Stale as exc:
            messages.error(request, str(exc))
            return redirect("tenants:group_delete", pk=group.pk)
        messages.success(
            request,
            waiting_for_approval(changeset)
            or f"Group {group.name} deleted from the console. Remove its five "
            f"CLEARML__services__auth__default_groups__{group.name}__… variables from the server "
            "(the export no longer lists them) and restart the apiserver.",
        )
        return redirect("tenants:groups")
    return render_page(request, "tenants/groups/delete.html", {"group": group})


# --- built-in groups ----------------------------------------------------------------------------


def _builtin_rows(values: dict) -> list[dict]:
    rows = []
    for name in BUILTIN_GROUPS:
        features = values.get(name)
        rows.append(
            {
                "name": name,
                "description": BUILTIN_DESCRIPTIONS[name],
                "configured": features is not None,
                "features": _feature_rows(features or []),
                "current": features,
            }
        )
    return rows


@never_cache
@require_http_methods(["GET", "POST"])
def builtin_groups_view(request):
    org = OrganizationSettings.load()
    values = stored_builtin_features()
    errors: dict[str, list[str]] = {}
    status = 200
    version = org.builtin_version
    if request.method == "POST":
        posted = {
            name: (
                request.POST.getlist(f"features__{name}")
                if request.POST.get(f"mode__{name}") == "list"
                else None
            )
            for name in BUILTIN_GROUPS
        }
        version = _version(request)
        try:
            changeset, _ = group_changes.builtin_groups_update(
                features=posted, version=version, actor=actor_for_request(request)
            )
        except InvalidInput as exc:
            errors, status, values = _errors_by_field(exc.errors), 400, posted
        except Stale as exc:
            org.refresh_from_db()
            errors, status, values = {"general": [str(exc)]}, 409, posted
            version = org.builtin_version
        else:
            _saved(request, changeset, "Built-in group features saved. Export them to the server.")
            return redirect("tenants:builtin_groups")
    context = {
        "rows": _builtin_rows(values),
        "errors": errors,
        "stale": status == 409,
        "version": version,
        "snippet": build_snippet(request, "builtin-groups"),
    }
    return render_page(request, "tenants/groups/builtin.html", context, status=status)


# --- organization settings ----------------------------------------------------------------------


def _organization_data(post) -> dict:
    unique = post.get("unique_company_names", "")
    ui: dict[str, dict[str, bool]] = {}
    for role in UI_ROLES:
        for feature in UI_FEATURES:
            choice = post.get(f"ui__{role}__{feature.name}", "")
            if choice in ("true", "false"):
                ui.setdefault(role, {})[feature.name] = choice == "true"
    return {
        "features": post.getlist("features"),
        "unique_company_names": {"true": True, "false": False}.get(unique),
        "ui_features_per_role": ui,
    }


def _ui_rows(ui: dict) -> list[dict]:
    return [
        {
            "role": role,
            "cells": [
                {
                    "feature": f.name,
                    "value": {True: "true", False: "false"}.get(ui.get(role, {}).get(f.name), ""),
                }
                for f in UI_FEATURES
            ],
        }
        for role in UI_ROLES
    ]


@never_cache
@require_http_methods(["GET", "POST"])
def organization_view(request):
    org = OrganizationSettings.load()
    current = stored_organization()
    data = {
        "features": current.features,
        "unique_company_names": current.unique_company_names,
        "ui_features_per_role": current.ui_features_per_role,
    }
    errors: dict[str, list[str]] = {}
    status = 200
    version = org.version
    if request.method == "POST":
        data = _organization_data(request.POST)
        version = _version(request)
        try:
            changeset, _ = group_changes.organization_update(
                data=data, version=version, actor=actor_for_request(request)
            )
        except InvalidInput as exc:
            errors, status = _errors_by_field(exc.errors), 400
        except Stale as exc:
            org.refresh_from_db()
            errors, status, version = {"general": [str(exc)]}, 409, org.version
        else:
            _saved(request, changeset, "Organization settings saved. Export them to the server.")
            return redirect("tenants:organization")
    unique = data["unique_company_names"]
    context = {
        "features": _feature_rows(data["features"]),
        "unique": {True: "true", False: "false"}.get(unique, ""),
        "ui_features": UI_FEATURES,
        "ui_rows": _ui_rows(data["ui_features_per_role"]),
        "errors": errors,
        "version": version,
        "snippet": build_snippet(request, "organization"),
    }
    return render_page(request, "tenants/groups/organization.html", context, status=status)


# --- effective features ---------------------------------------------------------------------


@never_cache
@require_GET
def effective_features_view(request):
    fragment = request.GET.get("fragment") == "explain"
    return render_page(
        request,
        "tenants/groups/effective.html",
        effective_context(request.GET),
        fragment="tenants/groups/_explain.html" if fragment else "",
    )


# --- export and merge ---------------------------------------------------------------------------


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0, private"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def export_view(request):
    context: dict = {"kinds": KINDS, "merge": None, "merge_error": "", "form": {}}
    status = 200
    if request.method == "POST":
        form = {
            "kind": request.POST.get("kind", "auto"),
            "secrets": request.POST.get("secrets", "inline"),
        }
        context["form"] = form
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise MergeError("choose a file to upload")
            if upload.size > MAX_UPLOAD_BYTES:
                raise MergeError(
                    f"the file is {upload.size} bytes; at most {MAX_UPLOAD_BYTES} are accepted"
                )
            text = decode_upload(upload.read(MAX_UPLOAD_BYTES + 1))
            kind = form["kind"] if form["kind"] in KINDS else detect_kind(text)
            shown = masked_settings(sources.server_settings(request, reveal=False))
            result = merge_file(text, shown, kind=kind, secrets=form["secrets"])
        except (MergeError, ValueError) as exc:
            context["merge_error"] = str(exc)
            status = 400
        else:
            context["merge"] = result
            context["diff"] = _diff_rows(result.diff)
            context["upload_name"] = upload.name
            context["original"] = text
    context["snippet"] = build_snippet(request, "server-settings")
    response = render_page(request, "tenants/groups/export.html", context, status=status)
    return _no_store(response) if request.method == "POST" else response


def _diff_rows(lines: list[str]) -> list[dict]:
    rows = []
    for line in lines:
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        rows.append({"kind": kind, "text": line})
    return rows


@sensitive_variables()  # the merged file carries secret values
@never_cache
@require_POST
def merge_download_view(request):
    """The merged file with the real values, from the original text the review page carried."""
    kind = request.POST.get("kind", "helm")
    secrets = request.POST.get("secrets", "inline")
    text = request.POST.get("original", "").replace("\r\n", "\n")
    name = request.POST.get("filename", "") or "clearml-values.override.yaml"
    try:
        settings = sources.server_settings(request, reveal=True)
        result = merge_file(text, settings, kind=kind, secrets=secrets)
    except (MergeError, ValueError) as exc:
        response = HttpResponse(f"{exc}\n", status=400, content_type="text/plain; charset=utf-8")
        return _no_store(response)
    if request.POST.get("part") == "secret":
        body, filename = result.secret_document, "clearml-console-secret.yaml"
    else:
        body, filename = result.merged, _safe_filename(name)
    response = HttpResponse(body, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return _no_store(response)


def _safe_filename(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isalnum() or ch in "._-")
    return cleaned or "clearml-values.override.yaml"
