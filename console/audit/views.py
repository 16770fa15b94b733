"""The Audit pages: the filtered list (htmx), one entry, and the streamed exports."""

import json
from urllib.parse import urlencode

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from console.htmx import render_rows, wants_fragment

from . import export
from .forms import AuditFilterForm
from .models import AuditEntry
from .queries import (
    PAGE_FIELDS,
    AuditFilter,
    AuditPage,
    audit_page,
    export_queryset,
    recent_choices,
)

KNOWN_ACTIONS = (
    "auth.signin",
    "auth.signin.failed",
    "auth.signout",
    "tenant.create",
    "tenant.update",
    "tenant.import",
    "tenant.credentials.create",
    "tenant.delete",
    "login.domains.set",
    "login.whitelist.add",
    "login.whitelist.remove",
    "group.create",
    "group.update",
    "group.delete",
    "builtin_groups.update",
    "organization.update",
    "idp.create",
    "idp.update",
    "idp.delete",
    "sso.tenant_config.update",
    "secrets.generate",
    "secrets.audit",
)


def _cursor(value: str | None) -> int | None:
    try:
        number = int(value) if value else None
    except ValueError:
        return None
    return number if number is not None and number >= 0 else None


def _decorate(entries: list[AuditEntry]) -> list[AuditEntry]:
    for entry in entries:
        statuses = [str(c.get("status") or "—") for c in entry.calls or []]
        entry.calls_summary = (
            f"{len(statuses)} call{'s' if len(statuses) != 1 else ''} ({', '.join(statuses)})"
            if statuses
            else ""
        )
    return entries


def _url(name: str, query: dict, **extra) -> str:
    params = {**query, **{k: v for k, v in extra.items() if v is not None}}
    return reverse(name) + ("?" + urlencode(params) if params else "")


def _page(flt: AuditFilter, params) -> AuditPage:
    """The page the cursor in the query string asks for, with the columns the rows show."""
    before, after = _cursor(params.get("before")), _cursor(params.get("after"))
    return audit_page(flt, before=before, after=after, fields=PAGE_FIELDS)


@never_cache
@require_GET
def audit_list(request):
    form = AuditFilterForm(request.GET)
    valid = form.is_valid()
    flt = form.to_filter() if valid else AuditFilter()
    page = _page(flt, request.GET) if valid else None
    query = flt.as_query()
    context = {
        "form": form,
        "page": page,
        "entries": _decorate(page.entries) if page else [],
        "first_seq": page.entries[0].seq if page and page.entries else None,
        "last_seq": page.entries[-1].seq if page and page.entries else None,
        "filtered": not flt.is_empty(),
        "newest_url": _url("audit:list", query),
        "older_url": page and page.older and _url("audit:list", query, before=page.older),
        "newer_url": page and page.newer and _url("audit:list", query, after=page.newer),
        "csv_url": reverse("audit:export", args=["csv"]) + _query_string(query),
        "jsonl_url": reverse("audit:export", args=["jsonl"]) + _query_string(query),
    }
    rows = render_rows(request, "audit/rows.jinja", context)
    if wants_fragment(request):
        response = HttpResponse(rows)
        if valid:
            # The address bar gets the tidy URL (no empty fields), which the page also accepts.
            cursor = {k: request.GET[k] for k in ("before", "after") if _cursor(request.GET.get(k))}
            response["HX-Push-Url"] = _url("audit:list", query, **cursor)
    else:
        context.update(recent_choices())
        context["known_actions"] = sorted(set(KNOWN_ACTIONS) | set(context["actions"]))
        response = render(request, "audit/list.html", {**context, "rows_html": rows})
    patch_vary_headers(response, ["HX-Request"])
    return response


def _query_string(query: dict) -> str:
    return "?" + urlencode(query) if query else ""


def _flatten(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        if not value and prefix:
            out[prefix] = {}
        return out
    return {prefix or "(value)": value}


def _show(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def diff_rows(before, after) -> list[dict]:
    """One row per field path: its value before and after, and whether it changed."""
    flat_before = _flatten(before) if before is not None else {}
    flat_after = _flatten(after) if after is not None else {}
    rows = []
    for path in dict.fromkeys([*flat_before, *flat_after]):
        has_before, has_after = path in flat_before, path in flat_after
        old, new = flat_before.get(path), flat_after.get(path)
        if has_before and has_after:
            status = "same" if old == new else "changed"
        else:
            status = "added" if has_after else "removed"
        rows.append(
            {
                "path": path,
                "before": _show(old) if has_before else "",
                "after": _show(new) if has_after else "",
                "status": status,
            }
        )
    return rows


@never_cache
@require_GET
def audit_detail(request, seq: int):
    entry = get_object_or_404(AuditEntry, seq=seq)
    _decorate([entry])
    calls = [
        {**call, "badge": "badge-ok" if (call.get("status") or 0) < 400 else "badge-bad"}
        for call in entry.calls or []
    ]
    for call in calls:
        if call.get("status") is None:
            call["badge"] = "badge-bad" if call.get("error") else ""
    context = {
        "entry": entry,
        "diff": diff_rows(entry.before, entry.after),
        "calls": calls,
        "request_url": _url("audit:list", {"request_id": entry.request_id})
        if entry.request_id
        else "",
        "target_url": _url(
            "audit:list",
            {"target_type": entry.target_type, "target": entry.target_id or entry.target_repr},
        )
        if entry.target_id or entry.target_repr
        else "",
        "changeset_url": reverse("changes:detail", args=[entry.changeset])
        if entry.changeset.isdigit()
        else "",
        "outcomes": list(AuditEntry.objects.filter(outcome_of=entry.seq).order_by("seq"))
        if entry.outcome == AuditEntry.Outcome.PENDING
        else [],
        "previous_url": reverse("audit:detail", args=[seq - 1]) if seq > 1 else "",
        "next_url": reverse("audit:detail", args=[seq + 1])
        if AuditEntry.objects.filter(seq=seq + 1).exists()
        else "",
    }
    return render(request, "audit/detail.html", context)


@never_cache
@require_GET
def audit_export(request, fmt: str):
    if fmt not in export.FORMATS:
        raise Http404("unknown export format")
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in form.errors.items())
        return HttpResponse(
            f"Bad filter: {errors}\n", status=400, content_type="text/plain; charset=utf-8"
        )
    content_type, extension = export.FORMATS[fmt]
    response = StreamingHttpResponse(
        export.iter_export(export_queryset(form.to_filter()), fmt), content_type=content_type
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
