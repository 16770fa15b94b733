"""Security headers, a request id shared by every audit entry of a request, the sign-in wall,
people's session activity, and the role policy (console/policy.py) on every view."""

import contextvars
import logging
import uuid

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import resolve
from django.urls.exceptions import Resolver404

from . import policy
from .accounts.sessions import session_touch
from .reauth import needs_reauth, reauth_response
from .roles import request_role

logger = logging.getLogger(__name__)

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
# The changeset being applied (set by the change pipeline): audit entries written meanwhile
# carry it.
changeset_var: contextvars.ContextVar[str] = contextvars.ContextVar("changeset", default="")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

PUBLIC_URL_NAMES = {"signin", "healthz", "robots", "oidc_start", "oidc_callback"}
# The JSON API (web/api/) authenticates every request itself (a bearer token, not a session)
# and checks its role per endpoint: the sign-in wall and the pages' role policy let it through.
API_PREFIX = "/api/"


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX)


# Request bodies: Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not count uploaded files, and the CSRF
# check parses every POST body (spooling files to disk) before a view can look at its size. The
# largest body the console takes is the Security page's file audit (20 files of 5 MiB; that page
# explains its own limit, so this cap leaves it room); anything bigger, or more than a sign-in
# form before sign-in, is refused.
DEFAULT_MAX_REQUEST_BYTES = 256 * 1024 * 1024
ANONYMOUS_MAX_REQUEST_BYTES = 64 * 1024


class HealthCheckMiddleware:
    """Answer `/healthz` (liveness) and `/readyz` (readiness) before sign-in, host validation and
    HTTPS redirects, for probes that use pod IPs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == "/healthz":
            return health_response()
        if request.path_info == "/readyz":
            return ready_response()
        return self.get_response(request)


def health_response():
    """Liveness: the process answers (a database outage must not restart every replica)."""
    from django.http import JsonResponse

    return JsonResponse({"status": "ok"})


def ready_response():
    """Readiness: the database answers, so requests can be served."""
    from django.db import connection
    from django.http import JsonResponse

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - the probe reports any database failure the same way
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response


class RequestSizeLimitMiddleware:
    """Answer 413 to a body over the limit before anything reads it (after authentication, so
    that the limit before sign-in can be small)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or is_api_path(request.path_info):
            # The API checks its token before it reads a body, and caps a SPEC at 10 MiB.
            limit = getattr(settings, "CONSOLE_MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES)
        else:
            limit = ANONYMOUS_MAX_REQUEST_BYTES
        if length > limit:
            return HttpResponse(
                f"The request is {length} bytes; the console accepts at most {limit}.\n",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


class NulCharacterMiddleware:
    """Refuse a query or form field holding a NUL character (U+0000) with a 400 naming it.

    PostgreSQL cannot store NUL in a text or JSON value (DataError: a 500 on PostgreSQL that
    SQLite never shows), no one types one, and every field of every form and query would
    otherwise need the check. Large multipart bodies (uploads) are left to their views."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        field = _field_with_nul(request)
        if field is None:
            return self.get_response(request)
        shown = field.replace("\x00", "\\0")[:60]
        message = (
            f"The field \u201c{shown}\u201d holds a NUL character (\\0), which the console "
            "cannot store; remove it and send the form again."
        )
        if is_api_path(request.path_info):
            return JsonResponse(
                {"detail": message, "errors": [{"field": shown, "message": message}]}, status=400
            )
        return error_response(request, 400, text=message)


def _small_form(request) -> bool:
    """A url-encoded form, or a multipart one no larger than Django keeps in memory: a larger
    multipart body holds uploads, which their views size up before anything reads them."""
    if request.content_type == "application/x-www-form-urlencoded":
        return True
    if request.content_type != "multipart/form-data":
        return False
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _field_with_nul(request) -> str | None:
    """The name of the first GET or form field whose name or value holds NUL, if any."""
    sources = [request.GET]
    if request.method == "POST" and _small_form(request):
        try:
            sources.append(request.POST)
        except Exception:  # noqa: BLE001, S110 - a body Django cannot parse: the view sees no fields
            pass
    for source in sources:
        for name, values in source.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return name
    return None


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = uuid.uuid4().hex
        token = request_id_var.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class LoginRequiredMiddleware:
    """Every page but sign-in, the health probe and static files needs a signed-in admin."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated or self._is_public(request.path_info):
            return self.get_response(request)
        if is_api_path(request.path_info):
            return self.get_response(request)  # the API answers 401 itself, in JSON
        if request.htmx:
            response = HttpResponse(status=401)
            response["HX-Redirect"] = settings.LOGIN_URL_PATH
            return response
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)

    @staticmethod
    def _is_public(path: str) -> bool:
        if path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return True
        try:
            match = resolve(path)
        except Resolver404:
            return False
        return match.url_name in PUBLIC_URL_NAMES


class SessionActivityMiddleware:
    """Keeps a signed-in person's UserSession `last_seen_at` current (at most one write a minute
    per session), and signs out a session whose row was ended meanwhile."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if user is not None and user.is_authenticated and session is not None:
            if not session_touch(request):
                logout(request)
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return self.get_response(request)


class RolePolicyMiddleware:
    """The one place a request's role is checked against the page's least role (the table in
    console/policy.py), after sign-in and the CSRF check, before the view. A URL without an
    entry is refused. Answers 403 in the console's style, 405 for a method the table does not
    give, and sends a stale sign-in to sign in again where a secret would be shown."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        view_name = match.view_name if match is not None else ""
        rule = policy.rule_for(view_name)
        if rule is None:
            logger.error("No role policy for the URL %r (%s): refused", view_name, request.path)
            return forbidden_response(request, "This page has no entry in the role policy.")
        if rule.public or rule.token:
            return None
        role = request_role(request)
        if role is None:
            if not request.user.is_authenticated:
                return None  # LoginRequiredMiddleware already sent it to sign in
            return forbidden_response(request, "Your session carries no role.")
        decision = policy.decide(rule, request, view_name, view_kwargs)
        if decision.role is None:
            response = HttpResponse(status=405)
            allowed = [m for m, r in (("GET", rule.get), ("POST", rule.post)) if r is not None]
            response["Allow"] = ", ".join(allowed)
            return response
        if role < decision.role:
            return forbidden_response(
                request,
                f"This needs the {decision.role.label} role; you are signed in as "
                f"{_article(role.label)} {role.label}.",
            )
        if decision.reauth and needs_reauth(request):
            return reauth_response(request)
        return None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def forbidden_response(request, text: str):
    """The console's 403 page, saying why (marked, so tests can tell it from a view's 403)."""
    response = error_response(request, 403, text=text)
    response.console_policy_refusal = True
    return response


class DebugErrorPagesMiddleware:
    """With DEBUG on (`make run`), Django answers a missing page or a refusal with its own
    technical page, which looks broken under the console's Content-Security-Policy. Answer them
    with the console's error pages instead, as production does (500 keeps Django's traceback:
    a developer needs it). Does nothing with DEBUG off, where urls.py's handlers already apply."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not settings.DEBUG or getattr(response, "console_error_page", False):
            return response
        raised = getattr(request, "_console_raised", None)
        if response.status_code == 404 and (raised == 404 or request.resolver_match is None):
            return error_response(request, 404)
        if response.status_code == 403 and raised == 403:
            return error_response(request, 403)
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, Http404):
            request._console_raised = 404
        elif isinstance(exception, PermissionDenied):
            request._console_raised = 403
        return None


ERROR_PAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Forbidden", "You may not do that here."),
    404: ("Page not found", "There is no page at this address."),
    500: ("Something went wrong", "The console hit an unexpected error."),
}


def error_response(request, status: int, *, text: str = ""):
    """The console's error page for `status` (every error handler and the DEBUG middleware);
    `text` replaces the page's standard sentence."""
    title, standard = ERROR_PAGES[status]
    text = text or standard
    response = render(
        request, "console/error.html", {"status": status, "title": title, "text": text}
    )
    response.status_code = status
    response.console_error_page = True
    return response
