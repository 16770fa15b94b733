"""The two ends of an OpenID Connect sign-in: the redirect to the provider and the callback.

Both are mozilla-django-oidc's views: the state, nonce and PKCE verifier are made, stored in the
session and checked by the library. The console's part: the endpoints from discovery, `prompt=login`
for a re-authentication, and on the way back a page that says why a sign-in was refused
(no role, a token that failed a check, a provider that did not answer) instead of a bare redirect.
"""

import logging

import requests
from django.contrib import auth
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from console.accounts.sessions import session_signed_in
from console.audit import auth_events

from .backend import NO_ROLE
from .discovery import ProviderUnavailable, oidc_configured, provider_metadata, provider_name

logger = logging.getLogger(__name__)

REFUSALS = {
    NO_ROLE: (
        403,
        "No role in this console",
        "The identity provider signed you in, but you are in none of the groups that give a "
        "role in this console, so nothing was signed in here. Ask a console administrator to "
        "add you to the viewers', operators' or admins' group.",
    ),
    "failed": (
        400,
        "Sign-in not completed",
        "The answer from the identity provider did not pass the console's checks, so nothing "
        "was signed in. Start again from the sign-in page.",
    ),
    "denied": (
        403,
        "Sign-in cancelled",
        "The identity provider did not sign you in. Start again from the sign-in page.",
    ),
    "unavailable": (
        503,
        "Identity provider unavailable",
        "The console could not reach the identity provider. Try again in a minute, or use the "
        "local break-glass account if you hold it.",
    ),
}


@method_decorator(never_cache, name="dispatch")
class SigninStartView(OIDCAuthenticationRequestView):
    """`/oidc/authenticate/?next=…[&reauth=1]`: off to the provider."""

    def __init__(self, **kwargs):
        View.__init__(self, **kwargs)  # the library's reads settings the console does not set

    def get(self, request):
        if not oidc_configured():
            raise Http404("OpenID Connect is not configured.")
        try:
            metadata = provider_metadata()
        except ProviderUnavailable as exc:
            logger.warning("OpenID Connect sign-in not started: %s", exc)
            return refusal_page(request, "unavailable")
        self.OIDC_OP_AUTH_ENDPOINT = metadata["authorization_endpoint"]
        self.OIDC_RP_CLIENT_ID = self.get_settings("OIDC_RP_CLIENT_ID")
        return super().get(request)

    def get_extra_params(self, request):
        # A re-authentication must be a fresh one, not the provider's remembered session.
        return {"prompt": "login"} if request.GET.get("reauth") else {}


@method_decorator(never_cache, name="dispatch")
class SigninCallbackView(OIDCAuthenticationCallbackView):
    """`/oidc/callback/`: the code comes back; the library checks the state and the backend the
    token. Any failure shows a page and signs nothing in."""

    def get(self, request):
        if not oidc_configured():
            raise Http404("OpenID Connect is not configured.")
        try:
            return super().get(request)
        except (SuspiciousOperation, requests.RequestException) as exc:
            # A state not found, a nonce or signature that does not match, a wrong audience…
            logger.warning("OpenID Connect sign-in refused: %s", exc)
            request.console_oidc_reason = str(exc)
            return self.login_failure()

    def login_failure(self):
        request = self.request
        reason = getattr(request, "console_oidc_refusal", "")
        if not reason:
            reason = "denied" if request.GET.get("error") else "failed"
        claims = getattr(request, "console_oidc_claims", {}) or {}
        detail = getattr(request, "console_oidc_reason", "") or request.GET.get("error", "")
        auth_events.record_oidc_signin_failed(request, reason=reason, claims=claims, detail=detail)
        return refusal_page(request, reason, claims=claims)

    def login_success(self):
        request = self.request
        if request.user.is_authenticated and request.user == self.user:
            # A re-authentication of the same person: Django's login() would keep the session
            # key, so record the fresh sign-in directly (the library skips login() here).
            request.session.cycle_key()
            session_signed_in(request, self.user)
        else:
            auth.login(request, self.user, backend="console.oidc.backend.ConsoleOIDCBackend")
        auth_events.record_signin(request, method="oidc")
        return HttpResponseRedirect(self.success_url)


def refusal_page(request, reason: str, *, claims: dict | None = None):
    status, title, text = REFUSALS.get(reason, REFUSALS["failed"])
    context = {
        "title": title,
        "text": text,
        "provider": provider_name(),
        "who": (claims or {}).get("email") or (claims or {}).get("sub") or "",
        "groups": (claims or {}).get("groups") or [],
        "no_role": reason == NO_ROLE,
    }
    return render(request, "console/signin_refused.html", context, status=status)
