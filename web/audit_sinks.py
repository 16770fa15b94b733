"""The admins' audit sinks page (/audit/sinks/): each sink's cursor, lag and last error; adding
one; sending a test event; replaying from a sequence; removing one.

Adding, replaying and removing go through the pipeline (changes/audit_sinks.py), audited with
the admin's name; the page reads the sinks and their lag from the database only.
"""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from changes.audit_sinks import (
    audit_sink_add,
    audit_sink_remove,
    audit_sink_replay,
    audit_sink_test,
)
from changes.engine import waiting_message
from changes.models import Changeset
from console.audit import actor_for_request
from console.audit.sinks.models import AuditSink
from console.audit.sinks.status import LAG_WARNING_SECONDS, sinks_status
from console.htmx import render_page
from console.validation import InvalidInput

FIELDS = ("name", "kind", "url", "secret", "ca_file", "from")


def _number(value: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    # -1: refused, naming the field (also past 18 digits, which no sequence number reaches and
    # int() refuses past 4,300 with a ValueError)
    digits = value.lstrip("-")
    return int(value) if digits.isdigit() and len(digits) <= 18 else -1


def _page(request, *, errors=None, data=None, status=200):
    context = {
        "sinks": sinks_status(),
        "kinds": AuditSink.Kind.choices,
        "errors": {e.path: [e.message] for e in errors or []},
        "data": data or {"kind": AuditSink.Kind.WEBHOOK},
        "lag_warning_minutes": LAG_WARNING_SECONDS // 60,
    }
    return render_page(request, "audit/sinks.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def sinks_view(request):
    if request.method == "GET":
        return _page(request)
    data = {k: request.POST.get(k, "").strip() for k in FIELDS}
    try:
        _, sink = audit_sink_add(
            name=data["name"],
            kind=data["kind"],
            url=data["url"],
            secret=data["secret"],
            ca_file=data["ca_file"],
            from_seq=_number(data["from"]),
            actor=actor_for_request(request),
        )
    except InvalidInput as exc:
        return _page(request, errors=exc.errors, data=data, status=400)
    messages.success(
        request, f"Added {sink.name}: it gets entries after #{sink.last_delivered_seq}."
    )
    return redirect("audit_sinks:list")


@never_cache
@require_POST
def sink_test(request, name: str):
    try:
        error = audit_sink_test(name=name, actor=actor_for_request(request))
    except InvalidInput as exc:
        error = exc.errors[0].message
    if error:
        messages.error(request, f"The test event to {name} was not acknowledged: {error}")
    else:
        messages.success(request, f"{name} acknowledged the test event (seq 0).")
    return redirect("audit_sinks:list")


@never_cache
@require_POST
def sink_replay(request, name: str):
    from_seq = _number(request.POST.get("from", ""))
    try:
        audit_sink_replay(name=name, from_seq=from_seq or 0, actor=actor_for_request(request))
    except InvalidInput as exc:
        messages.error(request, f"Replay of {name}: {exc.errors[0]}")
    else:
        messages.success(request, f"{name} sends again from #{from_seq} at its next delivery.")
    return redirect("audit_sinks:list")


@never_cache
@require_POST
def sink_remove(request, name: str):
    try:
        changeset = audit_sink_remove(name=name, actor=actor_for_request(request))
    except InvalidInput as exc:
        messages.error(request, exc.errors[0].message)
    else:
        if changeset and changeset.status == Changeset.Status.AWAITING_APPROVAL:
            messages.warning(request, waiting_message(changeset))
        else:
            messages.success(request, f"Removed {name}.")
    return redirect("audit_sinks:list")
