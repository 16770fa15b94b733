"""People's sessions: what a sign-in records, what the sessions page lists, and ending one.

Every sign-in (the password form, OpenID Connect, a test's force_login) goes through Django's
`login()`, whose `user_logged_in` signal lands here: the session gets the person's role
(`console_role`), how and when they signed in (re-authentication reads it), an absolute expiry
CONSOLE_SESSION_HOURS away, and a `UserSession` row. Ending a session deletes that row and the
Django session, so the next request of that browser is signed out.
"""

import time
from datetime import UTC, datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.db.models import QuerySet
from django.dispatch import receiver
from django.utils import timezone

from console.roles import LOCAL_ADMIN, SESSION_KEY, Role
from console.signin import client_address

from .models import UserSession

SIGNED_IN_AT = "console_signed_in_at"  # Unix time of the last sign-in (re-authentication too)
METHOD = "console_signin_method"  # "local" or "oidc"
LAST_SEEN = "console_last_seen"  # Unix time the UserSession row was last touched
ROW = "console_user_session"  # the UserSession row's id (kept across session key changes)
TOUCH_SECONDS = 60


@receiver(user_logged_in, dispatch_uid="console.accounts.sessions.signed_in")
def _signed_in(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        session_signed_in(request, user)


@receiver(user_logged_out, dispatch_uid="console.accounts.sessions.signed_out")
def _signed_out(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        UserSession.objects.filter(session_key=session.session_key).delete()


def signin_details(user) -> tuple[str, Role | None]:
    """(method, role) of a sign-in that just happened: the local account is always an admin;
    an OpenID Connect user carries what the backend read from the token (`console_signin`)."""
    if user.get_username() == LOCAL_ADMIN:
        return "local", Role.ADMIN
    info = getattr(user, "console_signin", None) or {}
    return info.get("method", "oidc"), Role.parse(info.get("role"))


def session_signed_in(request, user) -> UserSession:
    """Record a sign-in (or a re-authentication) in the session and in its UserSession row."""
    method, role = signin_details(user)
    session = request.session
    now = timezone.now()
    if role is None:
        session.pop(SESSION_KEY, None)
    else:
        session[SESSION_KEY] = role.label
    session[METHOD] = method
    session[SIGNED_IN_AT] = now.timestamp()
    session[LAST_SEEN] = now.timestamp()
    session.set_expiry(now + timedelta(hours=settings.CONSOLE_SESSION_HOURS))
    if session.session_key is None:
        session.save()
    fields = {
        "session_key": session.session_key,
        "user": user,
        "method": method,
        "role": role.label if role else "",
        "signed_in_at": now,
        "last_seen_at": now,
        "client_address": client_address(request)[:64],
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
    }
    # A re-authentication changes the session key (login() cycles it): the row follows it.
    row = UserSession.objects.filter(pk=session.get(ROW), user=user).first()
    if row is None:
        row, _ = UserSession.objects.update_or_create(
            session_key=session.session_key, defaults=fields
        )
    else:
        for name, value in fields.items():
            setattr(row, name, value)
        row.save()
    session[ROW] = row.pk
    _forget_expired(user)
    return row


def session_touch(request) -> bool:
    """Keep the session's `last_seen_at` current, at most once a minute (the time of the last
    write is kept in the session, so other requests cost no query). False when the session has
    no row any more (it was ended): the caller signs the request out."""
    session = request.session
    now = time.time()
    seen = session.get(LAST_SEEN)
    if isinstance(seen, int | float) and now - seen < TOUCH_SECONDS:
        return True
    key = session.session_key
    if not key:
        return True
    updated = UserSession.objects.filter(session_key=key).update(last_seen_at=timezone.now())
    if not updated:
        # A session from before sessions were recorded: record it, unless it was just ended.
        if not _django_session_live(key):
            return False
        method, role = signin_details(request.user)
        signed_in = session.get(SIGNED_IN_AT)
        started = (
            datetime.fromtimestamp(signed_in, tz=UTC)
            if isinstance(signed_in, int | float)
            else timezone.now()
        )
        row = UserSession.objects.create(
            session_key=key,
            user=request.user,
            method=session.get(METHOD) or method,
            role=session.get(SESSION_KEY) or (role.label if role else ""),
            signed_in_at=started,
            last_seen_at=timezone.now(),
            client_address=client_address(request)[:64],
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        )
        session[ROW] = row.pk
    session[LAST_SEEN] = now
    return True


def live_sessions(user=None) -> QuerySet[UserSession]:
    """Sessions that still work, newest sign-in first; one person's, or everyone's."""
    rows = UserSession.objects.select_related("user")
    if user is not None:
        rows = rows.filter(user=user)
    oldest = timezone.now() - timedelta(hours=settings.CONSOLE_SESSION_HOURS)
    rows = rows.filter(signed_in_at__gte=oldest)
    if _uses_database_sessions():
        live = Session.objects.filter(expire_date__gt=timezone.now()).values("session_key")
        rows = rows.filter(session_key__in=live)
    return rows.order_by("-signed_in_at")


def session_end(row: UserSession) -> None:
    """End a session: its row and the Django session (the browser is signed out)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store.delete(row.session_key)
    UserSession.objects.filter(pk=row.pk).delete()


def _django_session_live(key: str) -> bool:
    if not _uses_database_sessions():
        return True
    return Session.objects.filter(session_key=key, expire_date__gt=timezone.now()).exists()


def _uses_database_sessions() -> bool:
    """Django's database sessions, or a store built on them (console/request_reads.py)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return issubclass(store, DatabaseSessionStore)


def _forget_expired(user) -> None:
    oldest = timezone.now() - timedelta(hours=settings.CONSOLE_SESSION_HOURS)
    UserSession.objects.filter(user=user, signed_in_at__lt=oldest).delete()
