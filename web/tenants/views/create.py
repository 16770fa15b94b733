"""Creating a tenant: the guided form, the plan page (every call and its curl), apply/resume."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from changes import tenants as tenant_changes
from changes.apply import NotApplicable
from changes.approvals import waiting_for_approval
from changes.background import tenant_apply_queue
from changes.tenant_input import validate_tenant_entry
from console.audit import actor_for_request
from console.validation import InvalidInput
from tenants.forms import FEATURE_CHOICES, MAX_ADMIN_ROWS, AdminRow, TenantForm, form_from_post
from tenants.models import Tenant
from tenants.provisioning.engine import TenantBusy, latest_run_steps
from tenants.services import NotAllowed
from web.tenants.views.common import api_url, get_tenant, no_store, render_page, step_rows
from web.tenants.views.credentials import credential_cards, with_kits


@never_cache
@require_http_methods(["GET", "POST"])
def tenant_create_view(request):
    status = 200
    if request.method == "GET":
        form = TenantForm.blank()
    else:
        form = form_from_post(request.POST)
        if "add_admin" in request.POST:
            if len(form.admins) < MAX_ADMIN_ROWS:
                form.admins.append(AdminRow())
        elif "remove_admin" in request.POST:
            index = _int(request.POST.get("remove_admin"))
            if index is not None and 0 <= index < len(form.admins) and len(form.admins) > 1:
                form.admins.pop(index)
        else:
            try:
                data = validate_tenant_entry(form.as_data(), require_admin=True)
                changeset, tenant = tenant_changes.tenant_create(
                    data=data, actor=actor_for_request(request)
                )
            except InvalidInput as exc:
                form.add_errors(exc.errors)
                status = 400
            else:
                for warning in data.warnings:
                    messages.warning(request, str(warning))
                if waiting_for_approval(changeset):
                    messages.info(request, waiting_for_approval(changeset))
                return redirect("tenants:plan", pk=tenant.pk)
    return render_page(
        request,
        "tenants/create.html",
        {"form": form, "max_admins": MAX_ADMIN_ROWS, "feature_choices": FEATURE_CHOICES},
        status=status,
    )


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


@never_cache
@require_http_methods(["GET"])
def tenant_plan(request, pk: int):
    tenant = get_tenant(pk)
    steps = latest_run_steps(tenant)
    context = {
        "tenant": tenant,
        "rows": step_rows(tenant, steps),
        "api_url": api_url() or "https://api.<BASE_DOMAIN>",
        "can_apply": tenant.status in (Tenant.Status.PLANNED, Tenant.Status.FAILED)
        and any(s.status != "done" for s in steps),
        "can_discard": tenant.status == Tenant.Status.PLANNED and not any(s.sent_at for s in steps),
    }
    return render_page(request, "tenants/plan.html", context)


@sensitive_post_parameters()
@sensitive_variables()  # the new secret sits in locals of frames below too (context, render)
@never_cache
@require_POST
def tenant_apply(request, pk: int):
    """Run (or resume) the tenant's steps; new credentials are shown in this answer only."""
    tenant = get_tenant(pk)
    if tenant.is_deleted:
        messages.error(request, "This tenant is marked as deleted.")
        return redirect("tenants:detail", pk=tenant.pk)
    try:
        queued = tenant_apply_queue(tenant=tenant, actor=actor_for_request(request))
        if queued is not None:
            messages.success(request, "Queued: the worker applies it; this page shows it.")
            return redirect("changes:detail", pk=queued.changeset_id)
        applied = tenant_changes.tenant_apply(tenant=tenant, actor=actor_for_request(request))
    except NotApplicable as exc:
        messages.error(request, str(exc))
        return redirect("tenants:detail", pk=tenant.pk)
    except TenantBusy as exc:
        messages.warning(request, str(exc))
        return redirect("tenants:detail", pk=tenant.pk)
    return applied_page(request, applied)


@sensitive_variables()
def applied_page(request, applied):
    """The result of applying a tenant's calls; new credentials are in this answer only."""
    tenant = applied.outcome.tenant or get_tenant(applied.outcome.tenant_id)
    tenant.refresh_from_db()
    context = {
        "tenant": tenant,
        "outcome": applied.outcome,
        "rows": step_rows(tenant, latest_run_steps(tenant)),
        "cards": with_kits(
            tenant, credential_cards(applied.outcome.credentials), applied.outcome.credentials
        ),
        "changeset": applied.changeset,
    }
    return no_store(render_page(request, "tenants/applied.html", context))


@never_cache
@require_POST
def tenant_discard_view(request, pk: int):
    tenant = get_tenant(pk)
    name = tenant.name
    try:
        changeset = tenant_changes.tenant_discard(tenant=tenant, actor=actor_for_request(request))
    except NotAllowed as exc:
        messages.error(request, str(exc))
        return redirect("tenants:detail", pk=pk)
    if waiting_for_approval(changeset):
        messages.info(request, waiting_for_approval(changeset))
        return redirect("tenants:detail", pk=pk)
    messages.success(request, f"Discarded the planned tenant “{name}”; nothing was sent.")
    return redirect("tenants:list")
