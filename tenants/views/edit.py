"""Editing a tenant's user limit and features (system.update_company_settings), with
optimistic locking: the form carries the version it was opened with."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from console.audit import actor_for_request
from console.validation import InvalidInput
from tenants.forms import FEATURE_CHOICES, TenantForm, form_from_post
from tenants.provisioning.engine import TenantBusy
from tenants.services import NotAllowed, TenantChanged, tenant_update
from tenants.validation import validate_tenant

from .common import get_tenant, render_page


def _groups_url() -> str:
    try:
        return reverse("tenants:groups")
    except NoReverseMatch:
        return ""


@never_cache
@require_http_methods(["GET", "POST"])
def tenant_edit(request, pk: int):
    tenant = get_tenant(pk)
    status = 200
    stale = False
    version = tenant.version
    if request.method == "GET":
        form = TenantForm.blank(
            features=tenant.features or [],
            exclude_features=tenant.exclude_features or [],
            allowed_users=tenant.allowed_users,
        )
    else:
        form = form_from_post(request.POST, with_admins=False)
        try:
            posted_version = int(request.POST.get("version", ""))
        except ValueError:
            posted_version = -1
        data = form.as_data(with_admins=False, with_login=False)
        data["name"] = tenant.name
        try:
            valid = validate_tenant(data, tenant_id=tenant.pk, check_name=False)
            outcome = tenant_update(
                tenant=tenant, version=posted_version, data=valid, actor=actor_for_request(request)
            )
        except InvalidInput as exc:
            form.add_errors(exc.errors)
            status = 400
            version = posted_version
        except TenantChanged as exc:
            # Keep what the admin typed; show what is current; a resubmit is a conscious choice.
            form.errors.setdefault("general", []).append(str(exc))
            status = 409
            stale = True
            tenant.refresh_from_db()
            version = tenant.version
        except (NotAllowed, TenantBusy) as exc:
            messages.error(request, str(exc))
            return redirect("tenants:detail", pk=tenant.pk)
        else:
            if outcome is None:
                messages.info(request, "Nothing changed, so nothing was sent.")
            elif outcome.ok:
                messages.success(
                    request, "Saved, and the apiserver accepted system.update_company_settings."
                )
            else:
                messages.error(
                    request,
                    f"Saved in the console, but the apiserver refused the change: {outcome.error}. "
                    "Resume below once the problem is fixed.",
                )
            return redirect("tenants:detail", pk=tenant.pk)
    context = {
        "tenant": tenant,
        "form": form,
        "version": version,
        "stale": stale,
        "groups_url": _groups_url(),
        "feature_choices": FEATURE_CHOICES,
    }
    return render_page(request, "tenants/edit.html", context, status=status)
