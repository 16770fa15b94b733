"""Reading an OpenID provider's discovery document (`<issuer>/.well-known/openid-configuration`).

The one place the console fetches an identity provider's URL. The admin types the issuer, so the
fetch is kept small and strict: https only (http only with the form's explicit 'allow http' for a
lab), a short timeout, at most a few redirects each checked the same way, a size cap, and a JSON
object whose endpoints are themselves acceptable URLs. Every failure is a `DiscoveryError` whose
message can be shown as is.
"""

import json
import time
import urllib.parse
from dataclasses import dataclass, field

import requests
import urllib3

from console.validation import InvalidInput

from .spec import check_url

WELL_KNOWN = "/.well-known/openid-configuration"
TIMEOUT = (4.0, 8.0)
# The read timeout bounds each wait for a byte; a server that sends one byte every few seconds
# never trips it. The whole fetch (redirects and body) gets this many seconds.
TOTAL_SECONDS = 12.0
MAX_BYTES = 256 * 1024
MAX_REDIRECTS = 3
USER_AGENT = "clearml-tenant-console/1 (openid discovery)"
# Discovery keys -> what they are called in the console (provider variables and tenant config).
ENDPOINT_KEYS = (
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "revocation_endpoint",
    "end_session_endpoint",
    "jwks_uri",
)


class DiscoveryError(Exception):
    """The document could not be fetched or is not a usable OpenID configuration."""


@dataclass
class Discovery:
    url: str
    issuer: str
    endpoints: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def discovery_url(issuer: str) -> str:
    """The document's URL for an issuer, or the URL itself when it already ends with it."""
    text = issuer.strip()
    if text.rstrip("/").endswith(WELL_KNOWN):
        return text.rstrip("/")
    return text.rstrip("/") + WELL_KNOWN


def _check(url: str, allow_http: bool, what: str) -> str:
    try:
        return check_url(url, "", allow_http=allow_http)
    except InvalidInput as exc:
        raise DiscoveryError(f"{what}: {exc.errors[0].message}") from None


def fetch_discovery(issuer: str, *, allow_http: bool = False, timeout=TIMEOUT) -> Discovery:
    """Fetch and check the discovery document of `issuer`; raise DiscoveryError on any problem."""
    start = _check(issuer, allow_http, "The issuer URL")
    url = discovery_url(start)
    deadline = time.monotonic() + TOTAL_SECONDS
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    # An explicit (empty) auth: requests would otherwise add ~/.netrc credentials for the host.
    session.auth = _no_credentials
    try:
        for _ in range(MAX_REDIRECTS + 1):
            _check_deadline(deadline, url)
            response = session.get(url, timeout=timeout, allow_redirects=False, stream=True)
            if response.is_redirect:
                target = urllib.parse.urljoin(url, response.headers.get("Location", ""))
                response.close()
                url = _check(target, allow_http, f"{url} redirects to {target}")
                continue
            break
        else:
            raise DiscoveryError(f"{url}: more than {MAX_REDIRECTS} redirects")
        with response:
            if response.status_code != 200:
                raise DiscoveryError(
                    f"{url} answered HTTP {response.status_code} {response.reason or ''}".rstrip()
                    + "; check the issuer URL (for Keycloak: https://host/realms/<realm>)"
                )
            body = _read_capped(response, url, deadline, timeout[1])
    except requests.Timeout:
        raise DiscoveryError(f"{url}: no answer within {timeout[1]:g} seconds") from None
    except requests.exceptions.SSLError as exc:
        raise DiscoveryError(
            f"{url}: the TLS certificate was not accepted ({_reason(exc)})"
        ) from None
    except requests.ConnectionError as exc:
        raise DiscoveryError(f"{url}: cannot connect ({_reason(exc)})") from None
    except requests.RequestException as exc:
        raise DiscoveryError(f"{url}: the request failed ({_reason(exc)})") from None
    finally:
        session.close()
    expected = start.rstrip("/")
    if expected.endswith(WELL_KNOWN):
        expected = expected[: -len(WELL_KNOWN)]
    return parse_discovery(body, url=url, issuer=expected, allow_http=allow_http)


def _no_credentials(request):
    return request


def _reason(exc: Exception) -> str:
    text = str(exc.args[0] if exc.args else exc)
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return str(reason or text)[:300]


def _check_deadline(deadline: float, url: str) -> None:
    if time.monotonic() > deadline:
        raise DiscoveryError(f"{url}: no complete answer within {TOTAL_SECONDS:g} seconds")


def _read_capped(
    response: requests.Response, url: str, deadline: float, read_timeout: float
) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > MAX_BYTES:
        raise DiscoveryError(f"{url}: the document is {declared} bytes, over the {MAX_BYTES} limit")
    # read1 returns whatever has arrived (read would wait for a whole chunk), so the deadline is
    # checked at least once per read timeout.
    read = getattr(response.raw, "read1", None) or response.raw.read
    chunks, size = [], 0
    while True:
        _check_deadline(deadline, url)
        try:
            chunk = read(16 * 1024, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError:
            raise DiscoveryError(f"{url}: no answer within {read_timeout:g} seconds") from None
        except urllib3.exceptions.HTTPError as exc:
            raise DiscoveryError(f"{url}: the answer broke off ({type(exc).__name__})") from None
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BYTES:
            raise DiscoveryError(f"{url}: the document is over the {MAX_BYTES} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_discovery(body: bytes, *, url: str, issuer: str, allow_http: bool) -> Discovery:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DiscoveryError(
            f"{url} did not return JSON; is this the issuer URL of an OpenID provider?"
        ) from None
    if not isinstance(data, dict):
        raise DiscoveryError(f"{url}: the document is not a JSON object")
    missing = [k for k in ("issuer", "authorization_endpoint", "token_endpoint") if k not in data]
    if missing:
        raise DiscoveryError(f"{url}: not an OpenID configuration (no {', '.join(missing)})")
    found = Discovery(url=url, issuer="")
    if not isinstance(data["issuer"], str):
        raise DiscoveryError(f"{url}: issuer is not a string")
    found.issuer = data["issuer"]
    for key in ENDPOINT_KEYS:
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise DiscoveryError(f"{url}: {key} is not a string")
        found.endpoints[key] = _check(value, allow_http, f"{url}: {key}")
    if found.issuer.rstrip("/") != issuer.rstrip("/"):
        found.warnings.append(
            f"The document names the issuer {found.issuer}, not {issuer}; OpenID Connect expects "
            "them to be the same. Check that this is the provider you meant."
        )
    return found
