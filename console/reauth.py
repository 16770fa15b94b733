"""Re-authentication before secrets: a sign-in older than CONSOLE_REAUTH_MINUTES must be repeated
before the console shows or exports a secret, or approves a change.

- `needs_reauth(request)`: whether this request's sign-in is too old (API tokens never are: a
  token is not a person and cannot sign in again);
- `reauth_response(request)`: where to send such a request: `/signin/?next=…&reauth=1` (for htmx,
  a 401 with `HX-Redirect`), keeping the destination — for a POST, the page the form was on;
- `require_recent_signin`: a view decorator doing both, for views that need it (the approval
  view uses it). The role policy (console/policy.py) marks the pages that show secrets, and its
  middleware asks the same `needs_reauth`.

    from console.reauth import require_recent_signin

    @require_POST
    @require_recent_signin
    def changeset_approve_view(request, pk): ...
"""

import functools
import time
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

from .accounts.sessions import SIGNED_IN_AT


def signin_age_seconds(request) -> float | None:
    """Seconds since this session's last sign-in, or None when it has none on record."""
    session = getattr(request, "session", None)
    signed_in = session.get(SIGNED_IN_AT) if session is not None else None
    if not isinstance(signed_in, int | float):
        return None
    return max(0.0, time.time() - signed_in)


def needs_reauth(request) -> bool:
    """True when a person's last sign-in is older than CONSOLE_REAUTH_MINUTES (or unknown)."""
    if getattr(request, "console_role", None) is not None:
        return False  # an API token: the API decides what a token may see
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return True
    age = signin_age_seconds(request)
    return age is None or age > settings.CONSOLE_REAUTH_MINUTES * 60


def reauth_destination(request) -> str:
    """Where to come back after signing in again: the URL itself for a GET, else the page the
    form was posted from (a POST cannot be replayed; the person presses the button again)."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    for candidate in (
        request.headers.get("HX-Current-URL", ""),
        request.headers.get("Referer", ""),
    ):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, {request.get_host()}, request.is_secure()
        ):
            parts = urlsplit(candidate)
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return "/"


def reauth_url(request) -> str:
    return (
        settings.LOGIN_URL_PATH
        + "?"
        + urlencode({"next": reauth_destination(request), "reauth": "1"})
    )


def reauth_response(request) -> HttpResponse:
    url = reauth_url(request)
    if getattr(request, "htmx", False):
        response = HttpResponse(status=401)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def require_recent_signin(view):
    """Send a request whose sign-in is older than CONSOLE_REAUTH_MINUTES to sign in again."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if needs_reauth(request):
            return reauth_response(request)
        return view(request, *args, **kwargs)

    return wrapped
