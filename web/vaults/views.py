"""Admin vault pages: every tenant's group-scoped vaults as last read (the snapshot: summaries,
never content), a tenant's vaults with the form that creates or updates one, delete, and reveal
(an admin who signed in recently sees one vault's content once, on a no-store page)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from changes import vaults
from console.apiserver import ApiError
from console.audit import actor_for_request
from console.htmx import render_page
from console.snapshot.vaults import all_vaults, vaults_of
from tenants.models import Tenant
from tenants.vaults import FORMATS, VaultDocumentError, parse_vault_document
from web.tenants.views.common import no_store

REFUSALS = (vaults.VaultRefused, VaultDocumentError, ApiError)


@never_cache
@require_GET
def vault_list(request):
    return render_page(request, "vaults/list.html", {"tenants": all_vaults()})


@sensitive_post_parameters("document")
@sensitive_variables()
@never_cache
@require_http_methods(["GET", "POST"])
def tenant_vaults(request, pk: int):
    tenant = get_object_or_404(Tenant, pk=pk, deleted_at__isnull=True)
    form = {"format": "hocon", "description": "", "group": "", "vault_id": "", "document": ""}
    if request.method == "POST":
        form.update({k: request.POST.get(k, "") for k in form})
        try:
            change = vaults.vault_set(
                tenant=tenant,
                document=parse_vault_document(form["document"], form["format"]),
                description=form["description"],
                group=form["group"].strip(),
                vault_id=form["vault_id"].strip(),
                actor=actor_for_request(request),
            )
        except REFUSALS as exc:
            change, error = None, str(exc)
        else:
            error = change.error
        if not error:
            messages.success(request, f"Saved the vault (changeset {change.changeset.pk}).")
            return redirect("vaults:tenant", pk=tenant.pk)
        messages.error(request, error)
    context = {"tenant": tenant, "found": vaults_of(tenant.company_id), "form": form}
    context["formats"] = FORMATS
    return no_store(render_page(request, "vaults/tenant.html", context))


@never_cache
@require_POST
def vault_delete_view(request, pk: int, vault_id: str):
    tenant = get_object_or_404(Tenant, pk=pk, deleted_at__isnull=True)
    try:
        change = vaults.vault_delete(
            tenant=tenant, vault_id=vault_id, actor=actor_for_request(request)
        )
    except REFUSALS as exc:
        messages.error(request, str(exc))
        return redirect("vaults:tenant", pk=tenant.pk)
    if change.error:
        messages.error(request, change.error)
    elif change.held:
        messages.warning(request, f"Changeset {change.changeset.pk} waits for approval.")
    else:
        messages.success(request, f"Deleted vault {vault_id} (changeset {change.changeset.pk}).")
    return redirect("vaults:tenant", pk=tenant.pk)


@sensitive_variables()
@never_cache
@require_POST
def vault_reveal_view(request, pk: int, vault_id: str):
    tenant = get_object_or_404(Tenant, pk=pk, deleted_at__isnull=True)
    try:
        vault = vaults.vault_reveal(
            tenant=tenant, vault_id=vault_id, actor=actor_for_request(request)
        )
    except REFUSALS as exc:
        messages.error(request, str(exc))
        return redirect("vaults:tenant", pk=tenant.pk)
    context = {"tenant": tenant, "vault": vault}
    return no_store(render_page(request, "vaults/reveal.html", context))
