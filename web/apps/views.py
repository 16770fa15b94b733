"""Application instance visibility: the server-wide export (a GET form, nothing stored) and each
tenant's policy, set through the change pipeline (changes/app_access.py)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from changes.app_access import last_sent, tenant_app_access_set
from console.app_visibility import VALUES, apps_text, parse_policy
from console.audit import actor_for_request
from console.htmx import render_page
from console.snippets.web import build_snippet
from console.validation import InvalidInput
from tenants.models import Tenant
from tenants.provisioning.engine import TenantBusy
from tenants.services import NotAllowed

from . import sources  # noqa: F401 - registers the app-visibility snippet source


def _live_tenants():
    return Tenant.objects.filter(deleted_at__isnull=True).order_by("name")


@never_cache
@require_GET
def visibility(request):
    errors = {}
    try:
        parse_policy(request.GET.get("allowed", ""), request.GET.get("apps", ""))
    except InvalidInput as exc:
        errors = {e.path: e.message for e in exc.errors}
    context = {
        "values": VALUES,
        "data": {"allowed": request.GET.get("allowed", ""), "apps": request.GET.get("apps", "")},
        "errors": errors,
        "snippet": build_snippet(request, "app-visibility"),
        "tenants": [(t, last_sent(t)) for t in _live_tenants()],
    }
    return render_page(request, "apps/visibility.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def tenant_visibility(request, pk: int):
    tenant = get_object_or_404(_live_tenants(), pk=pk)
    sent = last_sent(tenant)
    data = {"allowed": sent.policy.allowed if sent else "", "apps": apps_text(sent and sent.policy)}
    errors: dict[str, str] = {}
    if request.method == "POST":
        data = {"allowed": request.POST.get("allowed", ""), "apps": request.POST.get("apps", "")}
        try:
            policy = parse_policy(data["allowed"], data["apps"])
            applied = tenant_app_access_set(
                tenant=tenant, policy=policy, actor=actor_for_request(request)
            )
            if applied.outcome.ok:
                messages.success(request, f"Sent. Changeset #{applied.changeset.pk}.")
            else:
                messages.error(request, f"Not applied: {applied.outcome.failure_line()}")
            return redirect("apps:tenant", pk=tenant.pk)
        except InvalidInput as exc:
            errors = {e.path: e.message for e in exc.errors}
        except (NotAllowed, TenantBusy) as exc:
            errors = {"general": str(exc)}
    context = {"tenant": tenant, "sent": sent, "data": data, "errors": errors, "values": VALUES}
    return render_page(request, "apps/tenant.html", context, status=400 if errors else 200)
