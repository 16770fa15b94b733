"""HTTPS webhook: POST `{"entries": [...]}`, signed with HMAC-SHA256, acknowledged by a 2xx.

Headers: `X-Console-Timestamp` (Unix seconds) and `X-Console-Signature: sha256=<hex>`, the
HMAC-SHA256 of `"<timestamp>.<body>"` with the sink's secret (`env:NAME`), so a receiver can
refuse a forged body and an old one replayed (docs/audit.md has a receiver's check).
"""

import hashlib
import hmac
import threading
import time

import requests

from console.secret_ref import resolve_secret
from console.validation import InvalidInput

from .errors import DeliveryFailed
from .models import AuditSink
from .wire import dumps

TIMEOUT = (5.0, 30.0)  # connect, read (seconds)
USER_AGENT = "clearml-tenant-console-audit/1"
_local = threading.local()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
    return session


def sink_secret(sink: AuditSink) -> str:
    try:
        return resolve_secret(sink.secret_ref, "secret", where="the console and its worker")
    except InvalidInput as exc:
        raise DeliveryFailed(str(exc)) from None


def send(sink: AuditSink, entries: list[dict]) -> None:
    body = dumps({"entries": entries}).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Console-Timestamp": timestamp,
        "X-Console-Signature": signature(sink_secret(sink), timestamp, body),
    }
    try:
        response = _session().post(
            sink.url, data=body, headers=headers, timeout=TIMEOUT, verify=sink.ca_file or True
        )
    except requests.RequestException as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {_short(str(exc))}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"HTTP {response.status_code}: {_short(response.text)}")


def _short(text: str, limit: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
