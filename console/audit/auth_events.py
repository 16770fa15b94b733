"""Audit entries for signing in and out (`auth.signin`, `auth.signin.failed`, `auth.signout`).

Local (break-glass) and OpenID Connect sign-ins are told apart by the actor (`admin (local)`)
and the entry's name and values (`method`).

A failed sign-in records neither the password nor an unknown user name (people type their
password into the user name field), only whether the name was the admin's, and the address.
While an account is locked out, one refused attempt per lockout window is recorded, so a
password-guessing burst cannot flood the log.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache

from console import signin

from .service import actor_for_request, audit_record


def _details(request, username: str) -> dict:
    known = username == signin.ADMIN_USERNAME
    return {
        "username": username if known else "(not a console user)",
        "address": signin.client_address(request),
    }


def record_signin(request, *, method: str = "local") -> None:
    """A sign-in: the local break-glass account (`admin (local)`, marked `local break-glass` in
    the entry's name) or an OpenID Connect one (method and role in the entry's values)."""
    after = {"address": signin.client_address(request)}
    actor = actor_for_request(request)
    if method == "local":
        target_repr = f"{request.user.get_username()} (local break-glass)"
    else:
        after.update({"method": method, "role": request.session.get("console_role", "")})
        target_repr = f"{actor} (OpenID Connect)"
    audit_record(
        actor=actor,
        action="auth.signin",
        target_type="user",
        target_id=request.user.get_username(),
        target_repr=target_repr,
        after=after,
    )


def record_oidc_signin_failed(request, *, reason: str, claims: dict, detail: str = "") -> None:
    """An OpenID Connect sign-in that signed nothing in: no role (who, and the groups the
    provider sent), or an answer that failed a check (which one; never a token or a code)."""
    who = claims.get("email") or claims.get("sub") or "(unknown)"
    after = {"address": signin.client_address(request), "method": "oidc", "reason": reason}
    if claims.get("groups") is not None and claims:
        after["groups"] = list(claims.get("groups") or [])[:50]
    audit_record(
        actor="anonymous",
        action="auth.signin.failed",
        target_type="user",
        target_id=who[:200],
        target_repr=f"{who} (OpenID Connect)"[:200],
        after=after,
        outcome="refused" if reason == "no_role" else "failure",
        error=(
            "in none of the role groups: no role"
            if reason == "no_role"
            else (detail or "the identity provider's answer failed a check")[:500]
        ),
    )


def record_signin_failed(request, username: str, *, locked_out: bool = False) -> None:
    details = _details(request, username)
    if locked_out:
        key = (
            "audit:signin-refused:"
            + hashlib.sha256(f"{username}\0{details['address']}".encode()).hexdigest()
        )
        if not cache.add(key, 1, timeout=settings.SIGNIN_LOCKOUT_SECONDS):
            return
    audit_record(
        actor="anonymous",
        action="auth.signin.failed",
        target_type="user",
        target_id=details["username"],
        target_repr=details["username"],
        after=details,
        outcome="refused" if locked_out else "failure",
        error=(
            "too many failed sign-ins: locked out (later refusals in this window not recorded)"
            if locked_out
            else "wrong user name or password"
        ),
    )


def record_signout(request) -> None:
    if not request.user.is_authenticated:
        return
    audit_record(
        actor=actor_for_request(request),
        action="auth.signout",
        target_type="user",
        target_id=request.user.get_username(),
        target_repr=request.user.get_username(),
    )
