"""Offboarding a tenant: a checklist of changesets done in order (changes/offboarding.py):
remove its sign-in routing and push that, revoke the API credentials the console issued, then
delete it by runbook (the ClearML docs page *Deleting Tenants from ClearML*). There is no API to
delete a company, so the console shows the commands filled in with this tenant's id and name,
and marks it deleted once the admin says so."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from changes import offboarding
from changes import tenants as tenant_changes
from changes.approvals import waiting_for_approval
from console.apiserver import ApiError
from console.audit import actor_for_request
from console.validation import InvalidInput
from tenants.provisioning.engine import TenantBusy
from tenants.runbook import UnsafeCompanyId, runbooks
from tenants.services import NotAllowed, TenantChanged
from web.tenants.views.common import get_tenant, render_page


@never_cache
@require_http_methods(["GET", "POST"])
def tenant_delete(request, pk: int):
    tenant = get_tenant(pk)
    refused = _refusal(request, tenant)
    if refused is not None:
        return refused
    typed = request.POST.get("confirm_name", "")
    context = {"tenant": tenant, "typed": typed, "error": "", "version": tenant.version}
    context["checklist"] = offboarding.offboarding_checklist(tenant)
    if request.method == "POST":
        return _post(request, tenant, context)
    return render_page(request, "tenants/delete.html", context, status=200)


def _refusal(request, tenant):
    """Back to the tenant's page, saying why, when there is nothing to delete by runbook."""
    if tenant.is_deleted:
        messages.info(request, "This tenant is already marked as deleted.")
        return redirect("tenants:detail", pk=tenant.pk)
    if not tenant.company_id:
        messages.info(
            request,
            "This tenant has no company on the apiserver; discard it from its plan page instead.",
        )
        return redirect("tenants:detail", pk=tenant.pk)
    return None


def _post(request, tenant, context: dict):
    """The typed name shows the runbooks; step=mark (with the box ticked) marks it deleted."""
    try:
        posted_version = int(request.POST.get("version", ""))
    except ValueError:
        posted_version = -1
    marking = request.POST.get("step") == "mark"
    status = 200
    if context["typed"].strip() != tenant.name:
        context["error"] = "Type the tenant's name exactly as shown to continue."
        status = 400
    elif marking:
        failed = _mark_deleted(request, tenant, context["typed"], posted_version)
        if failed is None:
            return redirect("tenants:detail", pk=tenant.pk)
        context["error"], status = failed
    if not context["error"] or marking:
        try:
            context["runbooks"] = runbooks(tenant.company_id, tenant.name)
        except UnsafeCompanyId as exc:
            context["error"], status = str(exc), 400
        context["version"] = posted_version if posted_version >= 0 else tenant.version
    return render_page(request, "tenants/delete.html", context, status=status)


def _mark_deleted(request, tenant, typed: str, version: int) -> tuple[str, int] | None:
    """Mark the tenant deleted (or ask for approval); None when done, else the error to show and
    its status."""
    if request.POST.get("ran") != "yes":
        return "Tick the box to confirm that you ran the runbook.", 400
    name = tenant.name
    try:
        changeset, _ = tenant_changes.tenant_mark_deleted(
            tenant=tenant, version=version, typed_name=typed, actor=actor_for_request(request)
        )
    except (InvalidInput, NotAllowed, TenantChanged) as exc:
        return str(exc), 409 if isinstance(exc, TenantChanged) else 400
    messages.success(request, waiting_for_approval(changeset) or f"“{name}” is marked as deleted.")
    return None


@never_cache
@require_POST
def offboard_routing(request, pk: int):
    """Step 1: remove the tenant's sign-in routing in the console and push that to the server."""
    tenant = get_tenant(pk)
    refused = _refusal(request, tenant)
    if refused is not None:
        return refused
    try:
        done = offboarding.offboarding_routing(tenant=tenant, actor=actor_for_request(request))
    except InvalidInput as exc:
        messages.error(request, "; ".join(e.message for e in exc.errors))
    except ApiError as exc:
        messages.error(request, f"Nothing was pushed: cannot read the server's routing: {exc}")
    else:
        _routing_message(request, done)
    return redirect("tenants:delete", pk=tenant.pk)


def _routing_message(request, done) -> None:
    if done.held:
        messages.info(request, waiting_for_approval(done.cleared))
        return
    removed = "Removed the console's routing. " if done.cleared else ""
    status = done.job.status
    if status == "done":
        messages.success(request, f"{removed}The server's routing is empty now.")
    elif status == "running":
        messages.info(request, f"{removed}The push is still running: run step 1 again.")
    else:
        messages.error(request, f"{removed}The push stopped: {done.job.error}")


@never_cache
@require_POST
def offboard_credentials(request, pk: int):
    """Step 2: revoke the API credentials the console issued to the tenant's admins."""
    tenant = get_tenant(pk)
    refused = _refusal(request, tenant)
    if refused is not None:
        return refused
    try:
        applied = offboarding.offboarding_revoke(tenant=tenant, actor=actor_for_request(request))
    except (offboarding.OffboardingOrder, TenantBusy) as exc:
        messages.error(request, str(exc))
    else:
        if applied is None:
            messages.info(request, "No key is left to revoke; nothing was sent.")
        elif waiting_for_approval(applied.changeset):
            messages.info(request, waiting_for_approval(applied.changeset))
        elif applied.outcome.ok:
            messages.success(request, "Revoked the keys the console issued.")
        else:
            messages.error(request, f"Revoking stopped: {applied.outcome.failure_line()}")
    return redirect("tenants:delete", pk=tenant.pk)
