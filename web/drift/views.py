"""The Drift page: where the server no longer holds what the console wants, with an action per
difference to adopt the server's value or re-apply the console's (changes/drift.py)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from changes.drift import drift_adopt, drift_items, drift_reapply
from console.audit import actor_for_request
from console.snapshot import queries as snapshot
from console.validation import InvalidInput
from tenants.provisioning.engine import TenantBusy
from tenants.services import TenantChanged


@never_cache
@require_GET
def drift_list(request):
    context = {"items": drift_items(), "last_read": snapshot.last_read()}
    return render(request, "changes/drift.html", context)


def _act(request, action, done: str):
    try:
        action(actor=actor_for_request(request))
    except InvalidInput as exc:
        messages.error(request, "; ".join(e.message for e in exc.errors))
    except (TenantBusy, TenantChanged) as exc:
        messages.error(request, str(exc) or "The tenant changed meanwhile; reload and try again.")
    else:
        messages.success(request, done)
    return redirect("drift:list")


@never_cache
@require_POST
def drift_adopt_view(request, tenant_id: int, field: str):
    return _act(
        request,
        lambda actor: drift_adopt(tenant_id=tenant_id, field=field, actor=actor),
        "The console now holds the server's value.",
    )


@never_cache
@require_POST
def drift_reapply_view(request, tenant_id: int, field: str):
    return _act(
        request,
        lambda actor: drift_reapply(tenant_id=tenant_id, field=field, actor=actor),
        "The console's value was sent to the server again.",
    )
