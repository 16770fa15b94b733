"""The Refresh button: read the apiserver into the snapshot now, then go back to the page.

Pages never call the apiserver; this is a request of its own (a POST), so it may wait for the
server. `tenant` limits the per-tenant reads to one tenant (its routing page, its detail page).
"""

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from changes.refresh import refresh_server_state
from console.ids import parse_id
from console.redirects import header_url, safe_next
from tenants.models import Tenant


def _next_url(request) -> str:
    for candidate in (request.POST.get("next"), request.headers.get("Referer")):
        url = safe_next(candidate, request)
        if url:
            return url
    return reverse("dashboard")


@never_cache
@require_POST
def refresh_view(request):
    tenant_ids = None
    tenant = parse_id(request.POST.get("tenant"))
    if tenant is not None:
        tenant_ids = list(
            Tenant.objects.filter(pk=tenant, deleted_at__isnull=True).values_list("pk", flat=True)
        )
    result = refresh_server_state(tenant_ids=tenant_ids)
    if result.ok:
        messages.success(request, f"Read the apiserver: {result.summary()}.")
    elif result.reached:
        messages.warning(
            request,
            f"Read the apiserver, but {len(result.failures)} read(s) failed: {result.error}. "
            "Those rows keep what was read before.",
        )
    else:
        messages.error(
            request,
            f"Could not read the apiserver: {result.error}. The pages show what was read before.",
        )
    url = _next_url(request)
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = header_url(url)
        return response
    return HttpResponseRedirect(url)
