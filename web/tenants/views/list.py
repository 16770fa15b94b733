"""The Tenants page: the apiserver's companies (as last read, the snapshot) merged with the
console's tenants; import."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from changes import tenants as tenant_changes
from console.audit import actor_for_request
from console.validation import InvalidInput
from tenants.queries import FILTERS, server_companies, tenant_page
from web.tenants.views.common import render_page


@never_cache
@require_GET
def tenant_list(request):
    query = request.GET.get("q", "").strip()[:200]
    kind = request.GET.get("show", "all")
    kind = kind if kind in FILTERS else "all"
    server = server_companies()  # the snapshot: a page never waits on the apiserver
    page = tenant_page(server=server, query=query, kind=kind, number=request.GET.get("page", 1))
    params = {"q": query, "show": kind}
    context = {
        "page": page,
        "rows": page.object_list,
        "server": server,
        "query": query,
        "kind": kind,
        "filters": FILTERS.items(),
        "prev_url": _page_url(params, page.previous_page_number()) if page.has_previous() else "",
        "next_url": _page_url(params, page.next_page_number()) if page.has_next() else "",
    }
    return render_page(request, "tenants/list.html", context, fragment="tenants/_rows.html")


def _page_url(params: dict, number: int) -> str:
    from django.utils.http import urlencode

    return reverse("tenants:list") + "?" + urlencode({**params, "page": number})


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
