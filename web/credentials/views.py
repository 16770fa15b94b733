"""The credentials inventory page (/credentials/): every tenant user's API keys from the snapshot
(a page never calls the apiserver), filtered and sorted in the URL, paged, exported as CSV; and
the key's page with its changes (relabel, revoke, rotate), each made by changes.credentials."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from changes import credentials as key_changes
from changes.engine import ApprovalMissing
from changes.models import Changeset
from console.audit import actor_for_request
from console.htmx import render_page
from console.snapshot import credentials as inventory
from web.credentials.filters import read_filters
from web.credentials.pages import page_context, rotated_context
from web.tenants.views.common import no_store

PER_PAGE = 50


@never_cache
@require_GET
def credential_list(request):
    filters = read_filters(request.GET)
    found = inventory.inventory(tenant=filters.tenant)
    rows = inventory.select(
        found.rows,
        usage=filters.usage,
        days=filters.days,
        created_before=filters.created_before,
        sort=filters.sort,
    )
    if request.GET.get("format") == "csv":
        response = HttpResponse(inventory.to_csv(rows), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="credentials-{stamp}.csv"'
        return response
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page", 1))
    context = page_context(found, filters, page)
    return render_page(request, "credentials/list.html", context, fragment="credentials/_rows.html")


@never_cache
@require_GET
def credential_key(request, access_key: str):
    row = inventory.find_key(access_key)
    if row is None:
        raise Http404("no tenant user holds this key in the last refresh")
    context = {"row": row, "typed": key_changes.needs_typed_confirmation(row)}
    return render_page(request, "credentials/key.html", context)


def _done(request, change, what: str):
    if change.error:
        messages.error(request, change.error)
    elif change.held:
        messages.warning(request, f"Changeset {change.changeset.pk} waits for approval.")
    else:
        messages.success(request, f"{what} (changeset {change.changeset.pk}).")
    return redirect(reverse("credentials:list") + "?" + urlencode({"tenant": change.row.tenant}))


@never_cache
@require_POST
def credential_relabel(request, access_key: str):
    label = request.POST.get("label", "")
    try:
        change = key_changes.credential_relabel(
            access_key=access_key, label=label, actor=actor_for_request(request)
        )
    except key_changes.CredentialRefused as exc:
        messages.error(request, str(exc))
        return redirect("credentials:key", access_key=access_key)
    return _done(request, change, f"Key {access_key} is now labelled {label.strip()!r}")


@never_cache
@require_POST
def credential_revoke(request, access_key: str):
    try:
        change = key_changes.credential_revoke(
            access_key=access_key,
            actor=actor_for_request(request),
            confirm=request.POST.get("confirm", ""),
        )
    except key_changes.CredentialRefused as exc:
        messages.error(request, str(exc))
        return redirect("credentials:key", access_key=access_key)
    return _done(request, change, f"Key {access_key} is revoked")


@sensitive_variables()  # the new secret is in this frame's locals
@never_cache
@require_POST
def credential_rotate(request, access_key: str):
    try:
        change = key_changes.credential_rotate(
            access_key=access_key, actor=actor_for_request(request)
        )
    except key_changes.CredentialRefused as exc:
        messages.error(request, str(exc))
        return redirect("credentials:key", access_key=access_key)
    if change.error:
        messages.error(request, f"The new key was not created: {change.error}")
        return redirect("credentials:key", access_key=access_key)
    context = rotated_context(change)
    return no_store(render_page(request, "credentials/rotated.html", context))


@never_cache
@require_POST
def rotation_finish(request, pk: int):
    changeset = get_object_or_404(Changeset, pk=pk, kind=key_changes.REVOKE)
    try:
        change = key_changes.rotation_finish(
            changeset=changeset,
            actor=actor_for_request(request),
            confirm=request.POST.get("confirm", ""),
        )
    except (key_changes.CredentialRefused, ApprovalMissing) as exc:
        messages.error(request, str(exc))
        return redirect("changes:detail", pk=changeset.pk)
    return _done(request, change, "The old key is revoked; the rotation is complete")
