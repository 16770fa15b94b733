"""The Tenants page: the apiserver's companies (as last read, the snapshot) merged with the
console's tenants, with their routing, admins, credentials and sync status; sorting and filtering
live in the URL (GET parameters: q, show, sort, page); import."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from changes import tenants as tenant_changes
from console.audit import actor_for_request
from console.validation import InvalidInput
from sso.routing.queries import routing_counts, routing_rows
from tenants.queries import FILTERS, SORTS, server_companies, tenant_page
from web.tenants.views.common import render_page

MAX_QUERY = 200


@never_cache
@require_GET
def tenant_list(request):
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    kind = request.GET.get("show", "all")
    kind = kind if kind in FILTERS else "all"
    sort = request.GET.get("sort", "name")
    sort = sort if sort.removeprefix("-") in SORTS else "name"
    server = server_companies()  # the snapshot: a page never waits on the apiserver
    page = tenant_page(
        server=server,
        query=query,
        kind=kind,
        sort=sort,
        number=request.GET.get("page", 1),
        annotations=routing_counts(),
        counted=routing_rows(),
    )
    params = {"q": query, "show": kind, "sort": sort}
    context = {
        **{"page": page, "rows": page.object_list, "server": server, "query": query},
        **{"kind": kind, "sort": sort, "filters": FILTERS.items(), "max_query": MAX_QUERY},
        "columns": sort_links(params),
        "prev_url": _page_url(params, page.previous_page_number()) if page.has_previous() else "",
        "next_url": _page_url(params, page.next_page_number()) if page.has_next() else "",
    }
    return render_page(request, "tenants/list.html", context, fragment="tenants/rows.jinja")


def _page_url(params: dict, number: int) -> str:
    return reverse("tenants:list") + "?" + urlencode({**params, "page": number})


def sort_links(params: dict) -> dict[str, dict]:
    """For each sortable column: the URL that sorts by it (the other way when it is the current
    sort) and its aria-sort value. The search and the filter are kept; the page starts over."""
    current = params["sort"]
    links = {}
    for key in SORTS:
        ascending = current == key
        descending = current == f"-{key}"
        target = f"-{key}" if ascending else key
        links[key] = {
            "url": reverse("tenants:list") + "?" + urlencode({**params, "sort": target}),
            "aria": "ascending" if ascending else "descending" if descending else "none",
            "arrow": "▲" if ascending else "▼" if descending else "",
        }
    return links


@never_cache
@require_POST
def tenant_import_view(request):
    company_id = request.POST.get("company_id", "").strip()
    try:
        _, tenant, admins = tenant_changes.tenant_import_from_server(
            company_id=company_id, actor=actor_for_request(request)
        )
    except InvalidInput as exc:
        messages.error(request, "; ".join(e.message for e in exc.errors))
        return redirect("tenants:list")
    messages.success(
        request,
        f"Imported “{tenant.name}” with {admins} admin user(s). The console now manages it.",
    )
    return redirect("tenants:detail", pk=tenant.pk)
