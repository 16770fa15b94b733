"""The identity provider's endpoints, read from its discovery document and kept for an hour.

Fetched on first use (the sign-in page, the start of a sign-in), with CONSOLE_OIDC_TIMEOUT, so a
provider that is down makes the sign-in button say so instead of stopping the console's start.
"""

import logging
import threading
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

CACHE_SECONDS = 3600
REQUIRED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")

_lock = threading.Lock()
_cache: dict[str, tuple[float, dict]] = {}


class ProviderUnavailable(Exception):
    """The discovery document could not be read or is not usable; the message says why."""


def oidc_configured() -> bool:
    return bool(settings.CONSOLE_OIDC_ISSUER and settings.CONSOLE_OIDC_CLIENT_ID)


def provider_name() -> str:
    """What the sign-in button calls the provider: CONSOLE_OIDC_NAME, else the issuer's host."""
    return settings.CONSOLE_OIDC_NAME or urlsplit(settings.CONSOLE_OIDC_ISSUER).hostname or ""


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def provider_metadata() -> dict:
    """The issuer's discovery document (checked: it names the same issuer and the endpoints the
    code flow needs). Raises ProviderUnavailable."""
    issuer = settings.CONSOLE_OIDC_ISSUER
    if not issuer:
        raise ProviderUnavailable("OpenID Connect is not configured (CONSOLE_OIDC_ISSUER).")
    with _lock:
        cached = _cache.get(issuer)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
    metadata = _fetch(issuer)
    with _lock:
        _cache[issuer] = (time.monotonic(), metadata)
    return metadata


def forget_metadata() -> None:
    """Drop the cached documents (tests; a provider that moved its endpoints)."""
    with _lock:
        _cache.clear()


def _fetch(issuer: str) -> dict:
    url = discovery_url(issuer)
    try:
        response = requests.get(url, timeout=settings.CONSOLE_OIDC_TIMEOUT)
        response.raise_for_status()
        metadata = response.json()
    except (requests.RequestException, ValueError) as exc:
        logger.warning("OpenID Connect discovery failed: %s: %s", url, exc)
        raise ProviderUnavailable(f"{url} could not be read ({type(exc).__name__}).") from None
    if not isinstance(metadata, dict):
        raise ProviderUnavailable(f"{url} is not a JSON object.")
    missing = [key for key in REQUIRED if not metadata.get(key)]
    if missing:
        raise ProviderUnavailable(f"{url} does not name {', '.join(missing)}.")
    # OpenID Connect Discovery 1.0, section 4.3: the issuer must be the one asked for exactly,
    # or tokens of another issuer could be accepted.
    if metadata["issuer"].rstrip("/") != issuer.rstrip("/"):
        raise ProviderUnavailable(
            f"{url} names the issuer {metadata['issuer']!r}, not {issuer!r}: "
            "set CONSOLE_OIDC_ISSUER to the provider's issuer exactly."
        )
    return metadata
