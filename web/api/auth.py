"""Bearer-token authentication of the API, its failure throttle, and the role check per endpoint.

Every request but the OpenAPI document carries `Authorization: Bearer <token>`. The token is
looked up by its SHA-256 (changes.tokens); an unknown, expired or revoked token is refused with
401. A client address with too many failed attempts (API_TOKEN_MAX_FAILURES in
API_TOKEN_FAILURE_WINDOW seconds; the database cache, like the sign-in throttle) is refused with
429 and Retry-After before its token is even looked at, so guessing cannot go on at full speed.
"""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.security import HttpBearer

from changes.tokens import token_for_value, token_mark_used
from console.accounts.models import ApiToken
from console.roles import Role, has_role
from console.signin import client_address

from .errors import Forbidden, NotAuthenticated, TooManyFailures

MAX_FAILURES = 20
FAILURE_WINDOW = 300  # seconds


def _limits() -> tuple[int, int]:
    return (
        getattr(settings, "API_TOKEN_MAX_FAILURES", MAX_FAILURES),
        getattr(settings, "API_TOKEN_FAILURE_WINDOW", FAILURE_WINDOW),
    )


def _keys(address: str) -> tuple[str, str]:
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]
    return f"api-token-fail:{digest}", f"api-token-fail-since:{digest}"


def lockout_wait(address: str) -> int:
    """Seconds until this address may try again (0: it may now)."""
    most, window = _limits()
    count_key, since_key = _keys(address)
    values = cache.get_many([count_key, since_key])
    if (values.get(count_key) or 0) < most:
        return 0
    since = values.get(since_key) or time.time()
    return max(1, int(since + window - time.time() + 0.999))


def record_failure(address: str) -> None:
    _, window = _limits()
    count_key, since_key = _keys(address)
    if cache.add(count_key, 0, timeout=window):
        cache.set(since_key, time.time(), timeout=window)
    try:
        cache.incr(count_key)
    except ValueError:  # expired between add and incr
        cache.set(count_key, 1, timeout=window)
        cache.set(since_key, time.time(), timeout=window)


class TokenAuth(HttpBearer):
    """Sets `request.console_role` (console.roles) and `request.console_token_name`; the token
    is `request.auth`."""

    def __call__(self, request: HttpRequest) -> ApiToken:
        address = client_address(request)
        wait = lockout_wait(address)
        if wait:
            raise TooManyFailures(wait)
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.strip().partition(" ")
        if not header:
            raise NotAuthenticated("Send an API token: `Authorization: Bearer <token>`.")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotAuthenticated("The Authorization header must be `Bearer <token>`.")
        token, why = token_for_value(value.strip())
        if token is None:
            record_failure(address)
            raise NotAuthenticated(f"The API token is refused: {why}.")
        token_mark_used(token)
        request.console_role = Role.parse(token.role)
        request.console_token_name = token.name
        return token

    def authenticate(self, request: HttpRequest, token: str):  # pragma: no cover - see __call__
        raise NotImplementedError


def require(request: HttpRequest, role: Role) -> None:
    """403 unless the token's role is `role` or higher."""
    if not has_role(request, role):
        have = getattr(request, "console_role", None)
        have_label = have.label if have is not None else "none"
        raise Forbidden(
            f"This needs the {role.label} role; the token "
            f"'{getattr(request, 'console_token_name', '')}' has {have_label}."
        )
