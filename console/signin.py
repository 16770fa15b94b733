"""Sign-in of the local `admin` account (the break-glass account when people sign in through
OpenID Connect), throttled before any hashing.

Throttling counts failures by client address and account together, as Django's guidance and
django-axes do, so that nobody can lock the admin out from somewhere else:

- a pair (client address, user name as typed) is refused for SIGNIN_LOCKOUT_SECONDS after
  SIGNIN_MAX_FAILURES failures: an attacker locks out only their own address for that name;
- a client address is slowed down after a few failures, whatever names it tries, and refused
  after SIGNIN_MAX_ADDRESS_FAILURES (four times as many by default), so spraying many names
  from one address does not get more guesses;
- there is no counter per account alone; a request that names no user (an empty name, an
  unknown one) counts only against its own pair and its address, never against `admin`;
- an unknown name and a wrong password get the same answer and the same bcrypt work, and a
  refused pair answers the same whether the name exists or not.
"""

import functools
import hashlib

import bcrypt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.core.cache import cache
from django.views.decorators.debug import sensitive_variables

from .admin_password import check_password, configured_hash
from .request_reads import user_by_id

ADMIN_USERNAME = "admin"
SLOWDOWN_AFTER = 2


class AdminPasswordBackend(BaseBackend):
    # An error report of any frame below must not show the typed password.
    # No **kwargs: Django then offers this backend only a user name and password, never the
    # OpenID Connect callback's credentials.
    @sensitive_variables("password")
    def authenticate(self, request, username=None, password=None):
        password_hash = configured_hash()
        if (
            username != ADMIN_USERNAME
            or not password
            or not password_hash
            or not settings.CONSOLE_LOCAL_ADMIN
        ):
            # Spend the same time as a real check, so the answer does not reveal the user name.
            check_password(password or "", _dummy_hash(_rounds(password_hash)))
            return None
        if not check_password(password, password_hash):
            return None
        return admin_user()

    def get_user(self, user_id):
        if not settings.CONSOLE_LOCAL_ADMIN:
            return None  # break-glass switched off: its sessions end too
        user = user_by_id(user_id)
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


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
    return f"signin-fail:{kind}:{digest}"


def _pair_key(username: str, address: str) -> str:
    return _key("pair", address, (username or "").strip().lower())


def _address_key(address: str) -> str:
    return _key("addr", address)


def _count(key: str) -> int:
    value = cache.get(key)
    return value if isinstance(value, int) else 0


def lockout_remaining(username: str, address: str) -> bool:
    """Whether this address may not try this name now (its pair, or the address itself, has
    failed too often). Checked before any hashing."""
    return (
        _count(_pair_key(username, address)) >= settings.SIGNIN_MAX_FAILURES
        or _count(_address_key(address)) >= settings.SIGNIN_MAX_ADDRESS_FAILURES
    )


def should_slow_down(username: str, address: str) -> bool:
    """After a couple of failures of the pair, or of the address across names, each further one
    is answered late (the view waits)."""
    return (
        _count(_pair_key(username, address)) > SLOWDOWN_AFTER
        or _count(_address_key(address)) > SLOWDOWN_AFTER
    )


def record_failure(username: str, address: str) -> None:
    for key in (_pair_key(username, address), _address_key(address)):
        cache.add(key, 0, timeout=settings.SIGNIN_LOCKOUT_SECONDS)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=settings.SIGNIN_LOCKOUT_SECONDS)


def clear_failures(username: str, address: str) -> None:
    """A successful sign-in clears its pair; the address keeps what other names cost it."""
    cache.delete(_pair_key(username, address))
