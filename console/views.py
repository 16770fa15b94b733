"""Sign-in, sign-out, the dashboard, the health probe and the error pages."""

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import signin
from .accounts.sessions import METHOD as SIGNIN_METHOD
from .audit import auth_events
from .audit.service import actor_for_request
from .connection_status import connection_status
from .middleware import error_response, health_response
from .oidc.discovery import oidc_configured, provider_name
from .redirects import safe_next

SLOWDOWN_SECONDS = 1.0


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def signin_view(request):
    next_url = safe_next(request.POST.get("next") or request.GET.get("next"), request)
    reauth = bool(request.POST.get("reauth") or request.GET.get("reauth"))
    # Shown in the form; only a name that was posted counts against anything.
    username = request.POST.get("username", "")
    error, status = "", 200  # 200 even on failure: a re-rendered form, not an HTTP challenge
    if request.method == "POST":
        address = signin.client_address(request)
        if signin.lockout_remaining(username, address):
            auth_events.record_signin_failed(request, username, locked_out=True)
            error = "Too many failed sign-ins. Wait a few minutes and try again."
            return _signin_page(request, next_url, reauth, username, error, status=429)
        user = authenticate(request, username=username, password=request.POST.get("password"))
        if user is not None:
            signin.clear_failures(username, address)
            login(request, user)
            auth_events.record_signin(request, method="local")
            return HttpResponseRedirect(next_url or reverse("dashboard"))
        signin.record_failure(username, address)
        auth_events.record_signin_failed(request, username)
        time.sleep(SLOWDOWN_SECONDS if signin.should_slow_down(username, address) else 0)
        error = "The user name or password is not right."
    return _signin_page(request, next_url, reauth, username, error, status=status)


def _signin_page(request, next_url, reauth, username, error, *, status):
    oidc = oidc_configured()
    query = {"next": next_url} if next_url else {}
    if reauth:
        query["reauth"] = "1"
    signed_in_as = ""
    method = ""
    if reauth and request.user.is_authenticated:
        signed_in_as = actor_for_request(request)
        method = request.session.get(SIGNIN_METHOD, "")
    context = {
        "error": error,
        "username": username or signin.ADMIN_USERNAME,
        "next": next_url,
        "reauth": reauth,
        "reauth_minutes": settings.CONSOLE_REAUTH_MINUTES,
        "signed_in_as": signed_in_as,
        "signed_in_method": method,
        "oidc": oidc,
        "oidc_name": provider_name() if oidc else "",
        "oidc_url": reverse("oidc_start") + ("?" + urlencode(query) if query else ""),
        "local_admin": settings.CONSOLE_LOCAL_ADMIN,
    }
    return render(request, "console/signin.html", context, status=status)


@require_POST
def signout_view(request):
    auth_events.record_signout(request)
    logout(request)
    return redirect("signin")


@never_cache
@require_GET
def dashboard(request):
    return render(request, "console/dashboard.html", {"status": connection_status()})


@never_cache
@require_GET
def connection_panel(request):
    return render(request, "console/_connection.html", {"status": connection_status()})


def healthz(request):
    """Normally answered earlier by HealthCheckMiddleware, before host checks and redirects."""
    return health_response()


def error_page(status: int):
    def view(request, exception=None):
        return error_response(request, status)

    return view


bad_request = error_page(400)
permission_denied = error_page(403)
page_not_found = error_page(404)
server_error = error_page(500)


def csrf_failure(request, reason=""):
    response = render(
        request,
        "console/error.html",
        {
            "status": 403,
            "title": "Form expired",
            "text": "The form's security token was missing or stale. Reload the page and retry.",
        },
    )
    response.status_code = 403
    return response


def robots(request):
    return HttpResponse("User-agent: *\nDisallow: /\n", content_type="text/plain")


__all__ = ["settings"]
