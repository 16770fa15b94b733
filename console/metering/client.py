"""The client of ClearML's metering service (the Usage Aggregator): one function per call.

The service is not the apiserver: `POST <CLEARML_METERING_URL>/get_usages` with basic auth (the
key and secret of the usage-aggregator Kubernetes secret) answers plain JSON, not the apiserver's
`{"meta", "data"}` envelope. It goes over the apiserver client's kept-alive session of this
thread, with the credentials given per request (the session's own auth stays the apiserver's),
and fails with the apiserver client's typed errors (console/apiserver/errors.py).
"""

from dataclasses import dataclass
from datetime import date

import requests
from django.conf import settings

from console.apiserver import errors
from console.apiserver.client import CONNECT_TIMEOUT, USER_AGENT
from console.apiserver.session import thread_session

ENDPOINT = "metering.get_usages"
HOW_TO_ENABLE = (
    "Usage reports need ClearML's metering service: set CLEARML_METERING_URL, "
    "CLEARML_METERING_KEY and CLEARML_METERING_SECRET (the usage-aggregator secret of the "
    "clearml-enterprise chart, usageAggregator.enabled: true)."
)


class MeteringNotSupported(errors.ApiNotFound):
    """The address answers, but not as a metering service (no get_usages there)."""

    kind = "not supported"


@dataclass(repr=False)
class MeteringClient:
    url: str
    key: str
    secret: str
    timeout: float = 30.0
    session: requests.Session | None = None

    def __repr__(self) -> str:
        return f"MeteringClient(url={self.url!r}, key={self.key!r})"

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def get_usages(
        self,
        *,
        from_date: date,
        to_date: date,
        tenant: str | None = None,
        categories: list[str] | None = None,
        include_labels: bool = True,
    ) -> list[dict]:
        """Daily usage and cost per tenant (ClearML docs: event_metering, "Accessing Aggregated
        Data", `get_usages`). Returns the answer's `tenants` list: per tenant `tenant`,
        `currency`, `total_cost` and `categories` {name: {dates, usages, costs, total_usage,
        total_cost, labels, ...}}. Raises an ApiError subclass."""
        body: dict = {
            "from_date": from_date.isoformat(),
            "to_date": to_date.isoformat(),
            "include_labels": bool(include_labels),
        }
        if tenant:
            body["tenant"] = tenant
        if categories:
            body["categories"] = list(categories)
        answer = self._post("get_usages", body)
        tenants = answer.get("tenants")
        if not isinstance(tenants, list) or not all(isinstance(t, dict) for t in tenants):
            raise errors.ApiBadResponse(
                endpoint=ENDPOINT, status=200, result_msg="the answer has no `tenants` list"
            )
        return tenants

    def _post(self, action: str, body: dict) -> dict:
        if not self.configured:
            raise errors.ApiNotConfigured(endpoint=ENDPOINT, result_msg=HOW_TO_ENABLE)
        session = self.session or thread_session()
        try:
            response = session.post(
                f"{self.url}/{action}",
                json=body,
                auth=(self.key, self.secret),
                headers={"User-Agent": USER_AGENT},
                timeout=(min(CONNECT_TIMEOUT, self.timeout), self.timeout),
            )
        except requests.Timeout:
            raise errors.ApiTimeout(
                endpoint=ENDPOINT, result_msg=f"no answer within {self.timeout:g}s"
            ) from None
        except requests.RequestException as exc:
            raise errors.ApiCannotConnect(
                endpoint=ENDPOINT, result_msg=_connection_reason(exc)
            ) from None
        return _answer(response)


def _answer(response: requests.Response) -> dict:
    status = response.status_code
    try:
        payload = response.json()
    except ValueError:
        payload = None
    message = _message(payload) or response.reason or ""
    if status in (404, 405, 501) or "not supported" in message.lower():
        raise MeteringNotSupported(
            endpoint=ENDPOINT,
            status=status,
            result_msg=message or "the server has no metering service at this address",
        )
    if status >= 400:
        cls = errors.error_class_for_status(status)
        raise cls(endpoint=ENDPOINT, status=status, result_msg=message)
    if not isinstance(payload, dict):
        raise errors.ApiBadResponse(
            endpoint=ENDPOINT, status=status, result_msg="the answer is not a JSON object"
        )
    # Some deployments put the answer in the apiserver's envelope; accept both shapes.
    if "tenants" not in payload and isinstance(payload.get("data"), dict):
        payload = payload["data"]
    return payload


def _message(payload) -> str:
    if not isinstance(payload, dict):
        return ""
    meta = payload.get("meta")
    if isinstance(meta, dict) and meta.get("result_msg"):
        return str(meta["result_msg"])[:300]
    for key in ("error", "message", "detail"):
        if payload.get(key):
            return str(payload[key])[:300]
    return ""


def _connection_reason(exc: requests.RequestException) -> str:
    text = repr(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "NameResolutionError" in text:
        return "host name not found"
    if "SSLError" in text or "CERTIFICATE" in text:
        return "TLS handshake failed"
    return "cannot reach the metering service"


def metering_client_from_settings() -> MeteringClient:
    """The metering service of CLEARML_METERING_URL/KEY/SECRET (its timeout: the apiserver's
    CLEARML_API_TIMEOUT, at least 30 s: a report over many tenants takes a while)."""
    return MeteringClient(
        url=settings.CLEARML_METERING_URL,
        key=settings.CLEARML_METERING_KEY,
        secret=settings.CLEARML_METERING_SECRET,
        timeout=max(30.0, float(settings.CLEARML_API_TIMEOUT)),
    )
