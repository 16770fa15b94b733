"""Editing a tenant's user limit and features (system.update_company_settings), with
optimistic locking: the form carries the version it was opened with."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from changes import tenants as tenant_changes
from changes.models import Changeset
from console.audit import actor_for_request
from console.validation import InvalidInput
from tenants.forms import FEATURE_CHOICES, TenantForm, form_from_post
from tenants.provisioning.engine import TenantBusy
from tenants.services import NotAllowed, TenantChanged
from tenants.validation import validate_tenant
from web.tenants.views.common import get_tenant, render_page


def _groups_url() -> str:
    try:
        return reverse("tenants:groups")
    except NoReverseMatch:
        return ""


@never_cache
@require_http_methods(["GET", "POST"])
def tenant_edit(request, pk: int):
    """GET: the form. POST "Save and push": apply at once; POST "Review": plan it and show the
    changeset (nothing is saved or sent until it is applied there)."""
    tenant = get_tenant(pk)
    if request.method == "GET":
        form = TenantForm.blank(
            features=tenant.features or [],
            exclude_features=tenant.exclude_features or [],
            allowed_users=tenant.allowed_users,
        )
        return _render(request, tenant, form, tenant.version)
    form = form_from_post(request.POST, with_admins=False)
    version = _int(request.POST.get("version"))
    data = {**form.as_data(with_admins=False, with_login=False), "name": tenant.name}
    try:
        valid = validate_tenant(data, tenant_id=tenant.pk, check_name=False)
        result = tenant_changes.tenant_update(
            tenant=tenant,
            version=version,
            data=valid,
            actor=actor_for_request(request),
            apply="review" not in request.POST,
        )
    except InvalidInput as exc:
        form.add_errors(exc.errors)
        return _render(request, tenant, form, version, status=400)
    except TenantChanged as exc:
        # Keep what the admin typed; show what is current; a resubmit is a conscious choice.
        form.errors.setdefault("general", []).append(str(exc))
        tenant.refresh_from_db()
        return _render(request, tenant, form, tenant.version, status=409, stale=True)
    except (NotAllowed, TenantBusy) as exc:
        messages.error(request, str(exc))
        return redirect("tenants:detail", pk=tenant.pk)
    return _after_save(request, tenant, result)


def _after_save(request, tenant, result):
    if result is None:
        messages.info(request, "Nothing changed, so nothing was sent.")
    elif isinstance(result, Changeset):
        messages.info(request, "Review the plan below; nothing is saved or sent until you apply.")
        return redirect("changes:detail", pk=result.pk)
    elif result.outcome.ok:
        messages.success(
            request, "Saved, and the apiserver accepted system.update_company_settings."
        )
    else:
        messages.error(
            request,
            f"Saved in the console, but the apiserver refused the change: "
            f"{result.outcome.error}. Resume below once the problem is fixed.",
        )
    return redirect("tenants:detail", pk=tenant.pk)


def _render(request, tenant, form, version, *, status=200, stale=False):
    context = {
        "tenant": tenant,
        "form": form,
        "version": version,
        "stale": stale,
        "groups_url": _groups_url(),
        "feature_choices": FEATURE_CHOICES,
    }
    return render_page(request, "tenants/edit.html", context, status=status)


def _int(text) -> int:
    try:
        return int(text or "")
    except ValueError:
        return -1
