"""Pages of sign-in routing: the routing map, a tenant's routing, bulk import, push, simulator."""

import re
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from changes import routing as routing_changes
from changes.apply import NotApplicable
from changes.approvals import waiting_for_approval
from changes.background import push_background, routing_push_begin
from console.apiserver import ApiError
from console.audit import actor_for_request, audit_for_target
from console.ids import parse_id
from console.prepared import Prepared
from console.snapshot import queries as snapshot
from console.validation import InvalidInput
from sso.models import LoginDomain, RoutingImport, RoutingPushJob
from sso.routing import csv_import
from sso.routing.push import open_job, parse_server_state, push_result, routing_diff
from sso.routing.queries import (
    routing_map,
    routing_tenants,
    search_key,
    tenant_routing,
    unicode_domain,
)
from sso.routing.services import KINDS, tenant_act_as
from sso.routing.simulator import simulate_route
from sso.routing.validation import (
    PublicDomainRefused,
    public_domain_confirmation,
    public_mail_domain,
)
from tenants.models import Tenant
from web.tenants.views.common import render_page

LIST_PAGE_SIZE = 100
STEP_BUDGET_SECONDS = 1.5
SPLIT = re.compile(r"[\s,;]+")
TITLES = {"domain": "Domains", "admin": "Whitelisted admins", "user": "Whitelisted users"}
HELP = {
    "domain": "New users whose email is at one of these domains join this tenant "
    "(login.set_domains, the whole list). A public mail domain such as gmail.com needs your "
    "explicit confirmation.",
    "admin": "These emails join this tenant as admins (login.add_whitelist_entries, "
    "is_admin true).",
    "user": "These emails join this tenant as regular users (login.add_whitelist_entries, "
    "is_admin false).",
}


def _fragment(request) -> bool:
    return bool(request.htmx and not request.htmx.boosted)


def _tenant(tenant_id: int) -> Tenant:
    found = _LIVE_TENANT.fetch(pk=tenant_id)
    if not found:
        raise Http404("no such tenant")
    return found[0]


_LIVE_TENANT = Prepared(lambda pk: Tenant.objects.filter(pk=pk, deleted_at__isnull=True))


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise Http404("no such list")
    return kind


def _go(request, url: str) -> HttpResponse:
    """After a successful POST: a client-side redirect for htmx, a plain redirect otherwise."""
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Location"] = url
        return response
    return redirect(url)


def _vary(response: HttpResponse) -> HttpResponse:
    response["Vary"] = "HX-Request"
    return response


# -- the routing map (navigation entry) --------------------------------------------------------
@never_cache
@require_GET
def routing_map_view(request):
    q = request.GET.get("q", "")[:254]
    kind = request.GET.get("kind", "")
    kind = kind if kind in KINDS else ""
    # parse_id: a number past 64 bits in a tenant filter made SQLite raise OverflowError
    tenant_id = parse_id(request.GET.get("tenant"), 0)
    page = parse_id(request.GET.get("page"), 1)
    result = routing_map(q=q, kind=kind, tenant_id=tenant_id or None, page=page)
    context = {
        "result": result,
        "q": q,
        "kind": kind,
        "tenant_filter": tenant_id,
        "kinds": TITLES,
        "searched": search_key(q) if q else "",
    }
    if not _fragment(request):
        context["tenants"] = routing_tenants()
    return render_page(
        request, "sso/routing/map.html", context, fragment="sso/routing/map_results.jinja"
    )


# -- a tenant's routing ------------------------------------------------------------------------
def _rows(tenant: Tenant, kind: str, keys: list[str]) -> list[tuple[str, str, str]]:
    """(key, readable IDNA form, the other tenant its domain routes to) for one page of a list."""
    domains = {k.rsplit("@", 1)[-1] for k in keys}
    elsewhere = {}
    if kind != "domain" and domains:
        elsewhere = dict(
            LoginDomain.objects.filter(domain__in=domains)
            .exclude(tenant=tenant)
            .values_list("domain", "tenant__name")
        )
    rows = []
    for key in keys:
        domain = key.rsplit("@", 1)[-1]
        rows.append((key, unicode_domain(domain), elsewhere.get(domain, "")))
    return rows


def _list_context(
    tenant: Tenant, kind: str, q: str = "", page: int = 1, routing=None, **extra
) -> dict:
    routing = routing if routing is not None else tenant_routing(tenant)
    items = {"domain": routing.domains, "admin": routing.admins, "user": routing.users}[kind]
    key = search_key(q)
    shown = [i for i in items if key in i] if key else items
    paginator = Paginator(shown, LIST_PAGE_SIZE)
    page_obj = paginator.get_page(page)
    context = {
        "tenant": tenant,
        "kind": kind,
        "list_url": reverse("sso:routing_list", args=[tenant.pk, kind]),
        "title": TITLES[kind],
        "help": HELP[kind],
        "rows": _rows(tenant, kind, list(page_obj.object_list)),
        "page_obj": page_obj,
        "total": len(items),
        "matching": len(shown),
        "q": q,
        "errors": [],
        "warnings": [],
        "value": "",
        "done": "",
        "confirm": [],
    }
    context.update(extra)
    return context


def _confirmations(tenant: Tenant, value: str, offered, confirmed) -> list[tuple[str, str, bool]]:
    """The public mail domains typed into the domain form that the admin is asked to confirm
    (refused ones, and ones already ticked): (domain, the sentence, ticked)."""
    typed = {public_mail_domain(v) for v in SPLIT.split(value)} - {""}
    ticked = {public_mail_domain(v) for v in confirmed}
    domains = dict.fromkeys(public_mail_domain(v) for v in [*offered, *confirmed])
    return [
        (domain, public_domain_confirmation(domain, tenant.name), domain in ticked)
        for domain in domains
        if domain in typed
    ]


@never_cache
@require_GET
def tenant_routing_view(request, tenant_id: int):
    tenant = _tenant(tenant_id)
    try:
        act_as = tenant_act_as(tenant)
        no_admin = ""
    except InvalidInput as exc:
        act_as, no_admin = "", exc.errors[0].message
    last_job = RoutingPushJob.objects.filter(tenant=tenant).order_by("-id").first()
    entries = [e for e in audit_for_target("tenant", tenant.pk, 50) if e.action.startswith("login")]
    routing = tenant_routing(tenant)
    context = {
        "tenant": tenant,
        "lists": [
            _list_context(
                tenant,
                kind,
                request.GET.get(f"{kind}_q", "")[:254],
                request.GET.get(f"{kind}_page") or 1,
                routing=routing,
                # what was typed into a refused add without JavaScript, put back into the field
                value=request.GET.get(f"{kind}_value", "")[:2000],
                confirm=_confirmations(
                    tenant,
                    request.GET.get(f"{kind}_value", "")[:2000],
                    request.GET.getlist(f"{kind}_offer")[:50],
                    request.GET.getlist(f"{kind}_confirm")[:50],
                )
                if kind == "domain"
                else [],
            )
            for kind in KINDS
        ],
        "act_as": act_as,
        "no_admin": no_admin,
        "last_job": last_job,
        "last_result": push_result(last_job) if last_job else None,
        "entries": entries[:15],
    }
    return render(request, "sso/routing/tenant.html", context)


@never_cache
@require_GET
def routing_list_view(request, tenant_id: int, kind: str):
    tenant = _tenant(tenant_id)
    context = _list_context(
        tenant, _kind(kind), request.GET.get("q", "")[:254], request.GET.get("page") or 1
    )
    if _fragment(request):
        return _vary(render(request, "sso/routing/_list.html", {"rl": context}))
    query = urlencode({f"{kind}_q": context["q"], f"{kind}_page": context["page_obj"].number})
    url = reverse("sso:tenant_routing", args=[tenant.pk])
    return redirect(f"{url}?{query}#list-{kind}")


def _after_list_change(request, tenant, kind, **outcome) -> HttpResponse:
    """The answer to a list edit: the list re-rendered for htmx, else a redirect carrying the
    outcome (`_list_context`'s errors, warnings, value, confirm, done) as messages; the list is
    read only for the fragment."""
    if _fragment(request):
        context = _list_context(tenant, kind, **outcome)
        response = render(request, "sso/routing/_list.html", {"rl": context})
        response["HX-Trigger"] = "routing-changed"
        return response
    for warning in outcome.get("warnings", ()):
        messages.warning(request, warning)
    url = reverse("sso:tenant_routing", args=[tenant.pk])
    if outcome.get("errors"):
        for error in outcome["errors"]:
            messages.error(request, error)
        if outcome.get("value"):  # keep what was typed (the htmx answer keeps it in the form)
            query = [(f"{kind}_value", outcome["value"][:2000])]
            for domain, _, ticked in outcome.get("confirm", ()):  # and the confirmations asked for
                query.append((f"{kind}_confirm" if ticked else f"{kind}_offer", domain))
            url += "?" + urlencode(query)
    elif outcome.get("done"):
        messages.success(request, outcome["done"])
    return redirect(url + f"#list-{kind}")


@never_cache
@require_POST
def routing_add_view(request, tenant_id: int, kind: str):
    tenant = _tenant(tenant_id)
    kind = _kind(kind)
    value = request.POST.get("value", "")[:20_000]
    values = [v for v in SPLIT.split(value) if v]
    # the public mail domains the admin ticked "I understand every user of ... " for
    confirmed = request.POST.getlist("confirm_public")[:50] if kind == "domain" else []
    try:
        _, change = routing_changes.routing_add(
            tenant=tenant,
            kind=kind,
            values=values,
            actor=actor_for_request(request),
            allow_public=confirmed,
        )
    except InvalidInput as exc:
        offered = [e.domain for e in exc.errors if isinstance(e, PublicDomainRefused)]
        return _after_list_change(
            request,
            tenant,
            kind,
            errors=[e.message for e in exc.errors],
            value=value,
            confirm=_confirmations(tenant, value, offered, confirmed),
        )
    added = len(change.domains_added) + len(change.whitelist_added)
    return _after_list_change(
        request,
        tenant,
        kind,
        warnings=[w.message for w in change.warnings],
        done=f"Added {added}. Push to send it to the server.",
    )


@never_cache
@require_POST
def routing_remove_view(request, tenant_id: int, kind: str):
    tenant = _tenant(tenant_id)
    kind = _kind(kind)
    key = request.POST.get("key", "")
    try:
        changeset, _ = routing_changes.routing_remove(
            tenant=tenant, kind=kind, key=key, actor=actor_for_request(request)
        )
    except InvalidInput as exc:
        return _after_list_change(request, tenant, kind, errors=[e.message for e in exc.errors])
    done = f"Removed {key}. Push to send it to the server."
    if kind != "domain":
        done += " A user who already signed in with this email keeps their account."
    done = waiting_for_approval(changeset) or done
    return _after_list_change(request, tenant, kind, done=done, q=request.POST.get("q", ""))


# -- live view: the server's routing and drift -------------------------------------------------
def _server_view(tenant: Tenant) -> dict:
    """The server's routing as the last refresh read it (the snapshot: no call is made here),
    compared with the console's."""
    context: dict = {
        "tenant": tenant,
        "diff": None,
        "problem": "",
        "server": None,
        "fetched_at": None,
        "read_error": "",
        "unread": False,
    }
    try:
        tenant_act_as(tenant)  # the database only: explains a tenant with no admin to read as
    except InvalidInput as exc:
        context["problem"] = exc.errors[0].message
        return context
    found = snapshot.routing_of(tenant.company_id)
    if found is None or not found.read:
        if found is not None and found.error:
            context["problem"] = f"Cannot read the server's routing: {found.error}"
        else:
            context["unread"] = True
        return context
    server = parse_server_state(found.data)
    context["fetched_at"] = found.fetched_at
    context["read_error"] = found.error  # the last refresh failed; this is the earlier read
    context["server"] = server
    context["diff"] = routing_diff(tenant_routing(tenant), server)
    context["server_counts"] = {
        "domains": len(server.domains),
        "admins": sum(1 for a in server.whitelist.values() if a),
        "users": sum(1 for a in server.whitelist.values() if not a),
    }
    return context


@never_cache
@require_GET
def routing_live_view(request, tenant_id: int):
    tenant = _tenant(tenant_id)
    context = _server_view(tenant)
    if _fragment(request):
        # shown inside the tenant's routing page: the Refresh button comes back there
        context["snapshot_next"] = reverse("sso:tenant_routing", args=[tenant.pk])
        return _vary(render(request, "sso/routing/_live.html", context))
    return _vary(render(request, "sso/routing/live.html", context))


@never_cache
@require_POST
def routing_pull_view(request, tenant_id: int):
    tenant = _tenant(tenant_id)
    try:
        changeset, change = routing_changes.routing_pull(
            tenant=tenant, actor=actor_for_request(request)
        )
    except InvalidInput as exc:
        for error in exc.errors[:20]:
            messages.error(request, f"Not taken: {error}")
    except ApiError as exc:
        messages.error(request, f"Cannot read the server's routing: {exc}")
    else:
        if changeset is None:
            messages.info(request, "The console already holds the server's version: no change.")
        else:
            messages.success(request, f"Took the server's version: {change.summary()}.")
    return _go(request, reverse("sso:tenant_routing", args=[tenant.pk]))


# -- push with progress ------------------------------------------------------------------------
@never_cache
@require_POST
def routing_push_view(request, tenant_id: int):
    """Start a push (or resume the open one) and show its progress page. A push of more than a
    few calls, or a Retry of one, is queued for the background worker."""
    tenant = _tenant(tenant_id)
    try:
        job = routing_push_begin(tenant=tenant, actor=actor_for_request(request))
    except InvalidInput as exc:
        messages.error(request, exc.errors[0].message)
        return _go(request, reverse("sso:tenant_routing", args=[tenant.pk]))
    except NotApplicable as exc:
        messages.error(request, str(exc))
        return _go(request, reverse("sso:tenant_routing", args=[tenant.pk]))
    except ApiError as exc:
        messages.error(request, f"Nothing was pushed: cannot read the server's routing: {exc}")
        return _go(request, reverse("sso:tenant_routing", args=[tenant.pk]))
    return _go(request, reverse("sso:routing_push_job", args=[tenant.pk, job.pk]))


def _job(tenant_id: int, job_id: int) -> RoutingPushJob:
    return get_object_or_404(
        RoutingPushJob.objects.select_related("tenant"),
        pk=job_id,
        tenant_id=tenant_id,
        tenant__deleted_at__isnull=True,
    )


def _progress_context(job: RoutingPushJob) -> dict:
    result = push_result(job)
    sendable = [b for b in result.batches if b.status != "replanned"]
    applied = len(result.applied)
    items = sum(b.item_count for b in sendable)
    items_done = sum(b.item_count for b in result.applied)
    background = push_background(job)
    return {
        "background": background,
        "on_worker": background is not None and background.status in ("queued", "running"),
        "job": job,
        "tenant": job.tenant,
        "result": result,
        "batches": result.batches,
        "applied": applied,
        "total": len(sendable),
        "percent": int(100 * applied / len(sendable)) if sendable else 100,
        "items": items,
        "items_done": items_done,
        "running": job.status == RoutingPushJob.Status.RUNNING,
        "is_open": job == open_job(job.tenant),
    }


@never_cache
@require_GET
def routing_push_job_view(request, tenant_id: int, job_id: int):
    context = _progress_context(_job(tenant_id, job_id))
    return render_page(
        request, "sso/routing/push.html", context, fragment="sso/routing/_push_progress.html"
    )


@never_cache
@require_POST
def routing_push_step_view(request, tenant_id: int, job_id: int):
    """Send the job's next batches for about a second and a half, then report progress.

    The progress fragment posts here again while the job runs (htmx polling); without
    JavaScript, the Continue button does the same.
    """
    job = _job(tenant_id, job_id)
    if push_background(job) is None:  # else the worker sends it; the page only follows
        job = routing_changes.routing_push_step(job, budget_seconds=STEP_BUDGET_SECONDS)
    if _fragment(request):
        return render(request, "sso/routing/_push_progress.html", _progress_context(job))
    return redirect("sso:routing_push_job", tenant_id=tenant_id, job_id=job.pk)


# -- bulk import -------------------------------------------------------------------------------
def _import_text(request, context: dict) -> str:
    """The pasted text, or the uploaded file's (InvalidInput when it cannot be read)."""
    upload = request.FILES.get("file")
    if upload is None:
        return context["text"]
    context["text"] = ""  # the file is not echoed back into the text box
    # One byte over the limit is enough for decode_upload to refuse the file.
    return csv_import.decode_upload(upload.read(csv_import.MAX_BYTES + 1))


@never_cache
@require_http_methods(["GET", "POST"])
def routing_import_view(request, tenant_id: int):
    tenant = _tenant(tenant_id)
    context = {
        "tenant": tenant,
        "modes": csv_import.ROLE_MODES,
        "role_mode": request.POST.get("role_mode", "column"),
        "text": request.POST.get("text", ""),
        "errors": [],
        "check": None,
    }
    if request.method == "GET":
        return render(request, "sso/routing/import.html", context)
    upload = request.FILES.get("file")
    source = upload.name if upload else "pasted text"
    try:
        check, draft = routing_changes.routing_import_check(
            tenant=tenant,
            text=_import_text(request, context),
            role_mode=context["role_mode"],
            actor=actor_for_request(request),
            source=source,
        )
    except InvalidInput as exc:
        context["errors"] = exc.errors
        return render(request, "sso/routing/import.html", context, status=400)
    if draft is None:
        context.update(
            check=check, shown_errors=check.errors[: csv_import.SHOWN_PROBLEMS], source=source
        )
        return render(request, "sso/routing/import.html", context, status=400)
    return redirect("sso:routing_import_preview", tenant_id=tenant.pk, import_id=draft.pk)


def _draft(tenant_id: int, import_id: int) -> RoutingImport:
    return get_object_or_404(
        RoutingImport.objects.select_related("tenant"),
        pk=import_id,
        tenant_id=tenant_id,
        tenant__deleted_at__isnull=True,
    )


@never_cache
@require_GET
def routing_import_preview_view(request, tenant_id: int, import_id: int):
    draft = _draft(tenant_id, import_id)
    context = {
        "tenant": draft.tenant,
        "draft": draft,
        "summary": draft.summary,
        "warnings": draft.warnings[:200],
        "more_warnings": max(0, draft.summary.get("warnings", 0) - 200),
        "sample": draft.entries[:20],
    }
    return render(request, "sso/routing/import_preview.html", context)


@never_cache
@require_POST
def routing_import_save_view(request, tenant_id: int, import_id: int):
    draft = _draft(tenant_id, import_id)
    tenant = draft.tenant
    try:
        changeset, change = routing_changes.routing_import_save(
            draft=draft, actor=actor_for_request(request)
        )
    except InvalidInput as exc:
        for error in exc.errors[:20]:
            messages.error(request, f"Nothing was saved: {error}")
        return redirect("sso:routing_import", tenant_id=tenant.pk)
    if changeset is None:
        messages.info(request, "Nothing to save: the whitelist already holds every email.")
    else:
        messages.success(request, f"Saved the import: {change.summary()}.")
    if request.POST.get("push"):
        return routing_push_view(request, tenant.pk)
    return redirect("sso:tenant_routing", tenant_id=tenant.pk)


# -- simulator ---------------------------------------------------------------------------------
@never_cache
@require_GET
def simulator_view(request):
    text = request.GET.get("email", "")[:320]
    route = simulate_route(text) if text.strip() else None
    context = {"route": route, "text": text}
    return render_page(
        request, "sso/routing/simulator.html", context, fragment="sso/routing/_simulation.html"
    )
