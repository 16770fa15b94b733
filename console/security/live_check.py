"""Does the connected apiserver still accept a publicly known default credential pair?

For each pair in known_defaults.json (the server's `tests`, `webserver`, `apiserver` and
`fileserver` defaults and the Helm chart's), call `auth.login` with basic auth and report
accepted / refused / unreachable. The pairs never leave this module: results carry only the
pair's id and label.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache

from console.apiserver import (
    ApiCannotConnect,
    ApiClient,
    ApiError,
    ApiForbidden,
    ApiNotConfigured,
    ApiTimeout,
    ApiUnauthorized,
)

from .catalog import known_pairs

log = logging.getLogger(__name__)

CACHE_KEY = "security:live-check:"
CACHE_SECONDS = 300
MAX_TIMEOUT = 5.0

ACCEPTED = "accepted"
REFUSED = "refused"
UNREACHABLE = "unreachable"
ERROR = "error"


@dataclass
class PairResult:
    id: str
    label: str
    status: str
    detail: str = ""


@dataclass
class LiveCheck:
    url: str
    configured: bool
    results: list[PairResult] = field(default_factory=list)
    checked_at: datetime | None = None
    cached: bool = False

    @property
    def accepted(self) -> list[PairResult]:
        return [r for r in self.results if r.status == ACCEPTED]

    @property
    def verdict(self) -> str:
        """bad: a default pair works; ok: every pair refused; unknown: could not tell."""
        if self.accepted:
            return "bad"
        if self.results and all(r.status == REFUSED for r in self.results):
            return "ok"
        return "unknown"


def _try_pair(url: str, key: str, secret: str, timeout: float) -> tuple[str, str]:
    client = ApiClient(url=url, key=key, secret=secret, timeout=timeout, retries=0)
    try:
        client.call("auth.login", {}, read=False)
    except ApiUnauthorized as exc:
        return REFUSED, f"HTTP {exc.status or 401}"
    except ApiForbidden as exc:
        return REFUSED, f"HTTP {exc.status or 403} (forbidden)"
    except (ApiCannotConnect, ApiTimeout, ApiNotConfigured) as exc:
        return UNREACHABLE, exc.kind
    except ApiError as exc:
        return ERROR, f"{exc.kind}" + (f", HTTP {exc.status}" if exc.status else "")
    finally:
        client.session.close()
    return ACCEPTED, "auth.login returned a token"


def check_default_credentials(*, refresh: bool = False) -> LiveCheck:
    """Try every known default pair against settings.CLEARML_API_URL (cached for 5 minutes)."""
    url = settings.CLEARML_API_URL or ""
    if not url:
        return LiveCheck(url="", configured=False)
    cache_key = CACHE_KEY + url
    if not refresh:
        cached = cache.get(cache_key)
        if cached is not None:
            cached.cached = True
            return cached
    timeout = min(float(settings.CLEARML_API_TIMEOUT or MAX_TIMEOUT), MAX_TIMEOUT)
    check = LiveCheck(url=url, configured=True, checked_at=datetime.now(UTC))
    unreachable = ""
    for pair in known_pairs():
        if unreachable:
            check.results.append(PairResult(pair.id, pair.label, UNREACHABLE, unreachable))
            continue
        status, detail = _try_pair(url, pair.key, pair.secret, timeout)
        if status == UNREACHABLE:
            unreachable = detail  # no point in waiting for a timeout per pair
        check.results.append(PairResult(pair.id, pair.label, status, detail))
        log.info("default credential check %s: %s", pair.id, status)
    if not unreachable:
        cache.set(cache_key, check, CACHE_SECONDS)
    return check
