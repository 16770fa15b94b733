"""Sign-in of the single `admin` account (Clace's model), throttled before any hashing."""

import functools
import hashlib

import bcrypt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.core.cache import cache
from django.views.decorators.debug import sensitive_variables

from .admin_password import check_password, configured_hash

ADMIN_USERNAME = "admin"
SLOWDOWN_AFTER = 2


class AdminPasswordBackend(BaseBackend):
    # An error report of any frame below must not show the typed password.
    @sensitive_variables("password")
    def authenticate(self, request, username=None, password=None, **kwargs):
        password_hash = configured_hash()
        if username != ADMIN_USERNAME or not password or not password_hash:
            # Spend the same time as a real check, so the answer does not reveal the user name.
            check_password(password or "", _dummy_hash(_rounds(password_hash)))
            return None
        if not check_password(password, password_hash):
            return None
        return admin_user()

    def get_user(self, user_id):
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is None or user.username != ADMIN_USERNAME:
            return None
        _keep_marker_current(user)
        return user


def password_marker() -> str:
    """What the admin's `password` column holds: derived from the configured hash, and not a
    usable password. Django ties every session to this column (the session auth hash), so when
    the hash in the environment changes, sessions made before it no longer verify."""
    digest = hashlib.sha256(configured_hash().encode()).hexdigest()
    return f"!console-admin${digest}"


def _keep_marker_current(user) -> None:
    marker = password_marker()
    if user.password != marker:
        user.password = marker
        user.save(update_fields=["password"])


def admin_user():
    """The `admin` user row, its password marker current (a sign-in, or a test's force_login)."""
    user, _ = get_user_model().objects.get_or_create(
        username=ADMIN_USERNAME, defaults={"is_staff": True, "is_superuser": True}
    )
    _keep_marker_current(user)
    return user


@functools.lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    """A real bcrypt hash of the configured cost: bcrypt refuses a malformed one at once, which
    would answer an unknown user name a thousand times faster than a wrong password."""
    return bcrypt.hashpw(b"never the password", bcrypt.gensalt(rounds)).decode()


def _rounds(password_hash: str) -> int:
    try:
        rounds = int(password_hash.split("$")[2])
    except (IndexError, ValueError):
        return 12
    return rounds if 4 <= rounds <= 31 else 12


def client_address(request) -> str:
    """The client's address, trusting X-Forwarded-For only from the configured proxies."""
    hops = settings.CONSOLE_TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        chain = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(chain) >= hops:
            return chain[-hops]
    return request.META.get("REMOTE_ADDR", "")


def _keys(username: str, address: str) -> list[str]:
    def key(kind: str, value: str) -> str:
        return "signin-fail:" + kind + ":" + hashlib.sha256(value.encode()).hexdigest()[:32]

    return [key("user", username.strip().lower()), key("addr", address)]


def lockout_remaining(username: str, address: str) -> bool:
    return any(
        (cache.get(k) or 0) >= settings.SIGNIN_MAX_FAILURES for k in _keys(username, address)
    )


def should_slow_down(username: str, address: str) -> bool:
    """After a couple of failures each further one is answered late (the view waits)."""
    return any((cache.get(k) or 0) > SLOWDOWN_AFTER for k in _keys(username, address))


def record_failure(username: str, address: str) -> None:
    for k in _keys(username, address):
        cache.add(k, 0, timeout=settings.SIGNIN_LOCKOUT_SECONDS)
        try:
            cache.incr(k)
        except ValueError:
            cache.set(k, 1, timeout=settings.SIGNIN_LOCKOUT_SECONDS)


def clear_failures(username: str, address: str) -> None:
    cache.delete_many(_keys(username, address))
