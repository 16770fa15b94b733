"""Deleting a tenant by runbook (delete_tenant.md): there is no API, so the console shows the
commands filled in with this tenant's id and name, and marks it deleted once the admin says so."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from changes import tenants as tenant_changes
from console.audit import actor_for_request
from console.validation import InvalidInput
from tenants.runbook import UnsafeCompanyId, runbooks
from tenants.services import NotAllowed, TenantChanged
from web.tenants.views.common import get_tenant, render_page


@never_cache
@require_http_methods(["GET", "POST"])
def tenant_delete(request, pk: int):
    tenant = get_tenant(pk)
    if tenant.is_deleted:
        messages.info(request, "This tenant is already marked as deleted.")
        return redirect("tenants:detail", pk=tenant.pk)
    if not tenant.company_id:
        messages.info(
            request,
            "This tenant has no company on the apiserver; discard it from its plan page instead.",
        )
        return redirect("tenants:detail", pk=tenant.pk)
    typed = request.POST.get("confirm_name", "")
    context = {"tenant": tenant, "typed": typed, "error": "", "version": tenant.version}
    status = 200
    if request.method == "POST":
        try:
            posted_version = int(request.POST.get("version", ""))
        except ValueError:
            posted_version = -1
        if typed.strip() != tenant.name:
            context["error"] = "Type the tenant's name exactly as shown to continue."
            status = 400
        elif request.POST.get("step") == "mark":
            if request.POST.get("ran") != "yes":
                context["error"] = "Tick the box to confirm that you ran the runbook."
                status = 400
            else:
                try:
                    tenant_changes.tenant_mark_deleted(
                        tenant=tenant,
                        version=posted_version,
                        typed_name=typed,
                        actor=actor_for_request(request),
                    )
                except (InvalidInput, NotAllowed, TenantChanged) as exc:
                    context["error"] = str(exc)
                    status = 409 if isinstance(exc, TenantChanged) else 400
                else:
                    messages.success(request, f"“{tenant.name}” is marked as deleted.")
                    return redirect("tenants:detail", pk=tenant.pk)
        if not context["error"] or request.POST.get("step") == "mark":
            try:
                context["runbooks"] = runbooks(tenant.company_id, tenant.name)
            except UnsafeCompanyId as exc:
                context["error"], status = str(exc), 400
            context["version"] = posted_version if posted_version >= 0 else tenant.version
    return render_page(request, "tenants/delete.html", context, status=status)
