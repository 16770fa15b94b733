"""The Changes pages: every changeset, and one changeset's steps, status and audit entries; the
approval of a changeset that waits for one (CONSOLE_APPROVALS: changes/approvals.py)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from changes.apply import (
    NotApplicable,
    applies_here,
    can_apply,
    changeset_apply,
    spec_apply_hint,
)
from changes.approvals import ApprovalRefused, changeset_approve, changeset_reject, may_decide
from changes.background import changeset_enqueue, runs_in_background
from changes.engine import who_approves
from changes.models import Changeset
from changes.progress import background_progress, changeset_progress
from changes.selectors import ChangesetFilter, changeset_page, changeset_page_data
from console.audit import actor_for_request
from console.htmx import render_page, render_rows
from console.prepared import Prepared
from console.reauth import require_recent_signin
from console.roles import request_role
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
    return render_page(request, "changes/list.html", context, fragment="changes/rows.jinja")


# The audit entries' columns templates/changes/detail.html shows (the others are not read).
ENTRY_COLUMNS = ("seq", "action", "target_id", "target_repr", "outcome", "outcome_of", "error")


@never_cache
@require_GET
def changeset_detail(request, pk: int):
    found = _CHANGESET.fetch(pk=pk)
    if not found:
        raise Http404("no such changeset")
    return _detail(request, found[0])


_CHANGESET = Prepared(lambda pk: Changeset.objects.filter(pk=pk))


def _detail(request, changeset: Changeset, *, refused: str = "", status: int = 200):
    data = changeset_page_data(changeset, entry_fields=ENTRY_COLUMNS)
    waiting = changeset.status == Changeset.Status.AWAITING_APPROVAL
    context = {
        "changeset": changeset,
        "data": data,
        "steps": data.steps,
        "entries": data.entries,
        "can_apply": can_apply(changeset),
        "waiting": waiting,
        "who_approves": who_approves(changeset) if waiting else "",
        "applies_on_approval": waiting and applies_here(changeset),
        "can_decide": may_decide(
            changeset, actor=actor_for_request(request), role=request_role(request)
        ),
        "refused": refused,
        "progress": background_progress(changeset),
    }
    context["lists_html"] = render_rows(request, "changes/detail_lists.jinja", context)
    return render(request, "changes/detail.html", context, status=status)


@never_cache
@require_GET
def changeset_progress_view(request, pk: int):
    """The progress fragment the changeset page polls while the worker applies it."""
    changeset = get_object_or_404(Changeset, pk=pk)
    context = {"changeset": changeset, "progress": changeset_progress(changeset)}
    return render(request, "changes/_progress.html", context)


@never_cache
@require_POST
def changeset_retry_view(request, pk: int):
    """Queue a failed background apply again: it resumes from the journal."""
    changeset = get_object_or_404(Changeset, pk=pk)
    return _enqueue(request, changeset)


def _enqueue(request, changeset: Changeset):
    try:
        changeset_enqueue(changeset, actor=actor_for_request(request))
    except NotApplicable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Queued: the worker applies it; this page shows its progress.")
    return redirect("changes:detail", pk=changeset.pk)


@sensitive_post_parameters()
@sensitive_variables()  # new credentials sit in locals of the frames below
@never_cache
@require_POST
def changeset_apply_view(request, pk: int):
    changeset = get_object_or_404(Changeset, pk=pk)
    return _apply(request, changeset, done="Applied.")


@sensitive_variables()
def _apply(request, changeset: Changeset, *, done: str):
    pk = changeset.pk
    if runs_in_background(changeset):
        return _enqueue(request, changeset)
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
        messages.success(request, done)
    return redirect("changes:detail", pk=pk)


@sensitive_post_parameters()
@sensitive_variables()
@never_cache
@require_POST
@require_recent_signin  # a sign-in older than CONSOLE_REAUTH_MINUTES signs in again first
def changeset_approve_view(request, pk: int):
    """Approve the changeset as shown (the form's content_hash), then apply it when the page can
    (a SPEC plan is applied where it was planned: `manage.py apply` again, or the API). A
    refusal is shown on the page with its status: 403 (not an admin, or the requester), 409 (not
    waiting, or changed since shown)."""
    changeset = get_object_or_404(Changeset, pk=pk)
    try:
        changeset_approve(
            changeset,
            actor=actor_for_request(request),
            role=request_role(request),
            content_hash=request.POST.get("content_hash", ""),
        )
    except ApprovalRefused as exc:
        return _detail(request, changeset, refused=exc.message, status=exc.status)
    if can_apply(changeset):
        return _apply(request, changeset, done="Approved and applied.")
    messages.success(request, f"Approved. {spec_apply_hint(changeset)}")
    return redirect("changes:detail", pk=pk)


@never_cache
@require_POST
def changeset_reject_view(request, pk: int):
    changeset = get_object_or_404(Changeset, pk=pk)
    try:
        changeset_reject(
            changeset,
            actor=actor_for_request(request),
            role=request_role(request),
            content_hash=request.POST.get("content_hash") or None,
            reason=request.POST.get("reason", "")[:2000],
        )
    except ApprovalRefused as exc:
        return _detail(request, changeset, refused=exc.message, status=exc.status)
    messages.success(request, "Rejected: nothing of this changeset is applied.")
    return redirect("changes:detail", pk=pk)
