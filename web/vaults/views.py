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
    context = {"tenants": all_vaults(), "formats": FORMATS}
    return render_page(request, "vaults/list.html", context)


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


@sensitive_post_parameters("document")
@sensitive_variables()
@never_cache
@require_POST
def vault_template_view(request):
    names = [n.strip() for n in request.POST.get("tenants", "").splitlines() if n.strip()]
    live = Tenant.objects.filter(deleted_at__isnull=True).exclude(company_id="")
    wanted = {n.casefold() for n in names}
    tenants = [t for t in live if request.POST.get("all") or t.name.casefold() in wanted]
    unknown = sorted(wanted - {t.name.casefold() for t in tenants})
    try:
        if unknown or not tenants:
            raise VaultDocumentError(
                f"Tenants: {', '.join(unknown) or 'none chosen'} — give tenant names, one a line, "
                "or choose every tenant."
            )
        applied = vaults.vault_template(
            tenants=tenants,
            document=parse_vault_document(
                request.POST.get("document", ""), request.POST.get("format", "")
            ),
            description=request.POST.get("description", ""),
            actor=actor_for_request(request),
        )
    except REFUSALS as exc:
        messages.error(request, str(exc))
        return redirect("vaults:list")
    if applied.changeset is not None:
        messages.success(
            request,
            f"Saved on {len(applied.saved)} tenant(s) (changeset {applied.changeset.pk}).",
        )
    for line in applied.skipped + applied.failed:
        messages.error(request, f"Not saved: {line}")
    return redirect("vaults:list")
