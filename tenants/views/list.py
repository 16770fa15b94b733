"""The Tenants page: the apiserver's companies merged with the console's tenants; import."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from console.apiserver import ApiError, client_from_settings
from console.audit import actor_for_request
from console.validation import InvalidInput
from tenants.queries import FILTERS, forget_server_companies, server_companies, tenant_page
from tenants.services import company_admins, tenant_import

from .common import render_page


@never_cache
@require_GET
def tenant_list(request):
    query = request.GET.get("q", "").strip()[:200]
    kind = request.GET.get("show", "all")
    kind = kind if kind in FILTERS else "all"
    server = server_companies(refresh=request.GET.get("refresh") == "1")
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
    server = server_companies(refresh=True)
    company = next((c for c in server.companies if c["id"] == company_id), None)
    if company is None:
        messages.error(
            request,
            server.error or f"The apiserver has no company {company_id!r} (any more).",
        )
        return redirect("tenants:list")
    try:
        admins = company_admins(client_from_settings(), company_id)
    except ApiError as exc:
        messages.error(request, f"Could not read the company's admins: {exc}")
        return redirect("tenants:list")
    try:
        tenant = tenant_import(company=company, admins=admins, actor=actor_for_request(request))
    except InvalidInput as exc:
        messages.error(request, "; ".join(e.message for e in exc.errors))
        return redirect("tenants:list")
    forget_server_companies()
    messages.success(
        request,
        f"Imported “{tenant.name}” with {len(admins)} admin user(s). The console now manages it.",
    )
    return redirect("tenants:detail", pk=tenant.pk)
