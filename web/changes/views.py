"""The Changes pages: every changeset, and one changeset's steps, status and audit entries."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from changes.apply import NotApplicable, can_apply, changeset_apply
from changes.models import Changeset
from changes.selectors import ChangesetFilter, changeset_page, changeset_page_data
from console.audit import actor_for_request
from console.htmx import render_page
from tenants.provisioning.engine import TenantBusy
from tenants.services import NotAllowed, TenantChanged
from web.tenants.views.create import applied_page


def _filter(request) -> ChangesetFilter:
    get = request.GET
    status = get.get("status", "")
    return ChangesetFilter(
        status=status if status in Changeset.Status.values else "",
        kind=get.get("kind", "").strip()[:50],
        requested_by=get.get("requested_by", "").strip()[:150],
        q=get.get("q", "").strip()[:200],
    )


@never_cache
@require_GET
def changeset_list(request):
    flt = _filter(request)
    page = changeset_page(flt, page=request.GET.get("page") or 1)
    context = {"page": page, "filter": flt, "statuses": Changeset.Status.choices}
    return render_page(request, "changes/list.html", context, fragment="changes/_rows.html")


# The audit entries' columns templates/changes/detail.html shows (the others are not read).
ENTRY_COLUMNS = ("seq", "action", "target_id", "target_repr", "outcome", "outcome_of", "error")


@never_cache
@require_GET
def changeset_detail(request, pk: int):
    changeset = get_object_or_404(Changeset, pk=pk)
    data = changeset_page_data(changeset, entry_fields=ENTRY_COLUMNS)
    context = {
        "changeset": changeset,
        "data": data,
        "steps": data.steps,
        "entries": data.entries,
        "can_apply": can_apply(changeset),
    }
    return render(request, "changes/detail.html", context)


@sensitive_post_parameters()
@sensitive_variables()  # new credentials sit in locals of the frames below
@never_cache
@require_POST
def changeset_apply_view(request, pk: int):
    changeset = get_object_or_404(Changeset, pk=pk)
    try:
        results = changeset_apply(changeset, actor=actor_for_request(request))
    except (NotApplicable, TenantBusy, TenantChanged, NotAllowed) as exc:
        messages.error(request, str(exc))
        return redirect("changes:detail", pk=pk)
    if len(results) == 1:
        # One tenant's calls: its result page, which shows new credentials once.
        return applied_page(request, results[0])
    failed = [r.outcome.failure_line() for r in results if not r.outcome.ok]
    if failed:
        messages.error(request, "Applied part-way: " + "; ".join(failed))
    else:
        messages.success(request, "Applied.")
    return redirect("changes:detail", pk=pk)
