"""Your sessions: where and since when you are signed in, and ending any of them. An admin sees
and ends everyone's (the role policy lets every role in; ending another's is checked here)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from console.accounts.models import UserSession
from console.accounts.sessions import live_sessions, session_end
from console.audit import actor_for_request, actor_for_user, audit_record
from console.htmx import render_page
from console.roles import Role, has_role


@never_cache
@require_http_methods(["GET", "POST"])
def sessions_view(request):
    is_admin = has_role(request, Role.ADMIN)
    if request.method == "POST":
        row = get_object_or_404(UserSession, pk=_int(request.POST.get("session")))
        if row.user_id != request.user.pk and not is_admin:
            # Not yours and not an admin: the same answer as a session that does not exist.
            return get_object_or_404(UserSession, pk=0)
        own_current = row.session_key == request.session.session_key
        _end(request, row)
        if own_current:
            logout(request)
            return redirect("signin")
        messages.success(request, "The session was ended: that browser is signed out.")
        return redirect("account:sessions")
    rows = live_sessions(None if is_admin else request.user)
    context = {
        "rows": [_row(request, row) for row in rows],
        "everyone": is_admin,
        "session_hours": f"{settings.CONSOLE_SESSION_HOURS:g}",
    }
    return render_page(request, "console/sessions.html", context)


def _end(request, row: UserSession) -> None:
    with transaction.atomic():
        session_end(row)
        audit_record(
            actor=actor_for_request(request),
            action="auth.session.end",
            target_type="session",
            target_id=str(row.pk),
            target_repr=f"{_who(row)} since {row.signed_in_at:%Y-%m-%d %H:%M} UTC",
            before={"method": row.method, "address": row.client_address},
        )


def _row(request, row: UserSession) -> dict:
    return {
        "pk": row.pk,
        "who": _who(row),
        "method": "OpenID Connect" if row.method == "oidc" else "local break-glass",
        "role": row.role,
        "signed_in_at": row.signed_in_at,
        "last_seen_at": row.last_seen_at,
        "address": row.client_address or "unknown",
        "agent": row.user_agent,
        "current": row.session_key == request.session.session_key,
    }


def _who(row: UserSession) -> str:
    return actor_for_user(row.user)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
