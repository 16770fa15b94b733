"""Apiserver clients for worker threads: one kept-alive HTTP session per thread.

A client per tenant keeps that tenant's call records apart (for its audit entry); the session
underneath is reused by every tenant the thread runs, so calls do not open a new connection.
"""

import os
import threading
import urllib.request
from collections.abc import Callable

import requests
from django.conf import settings

from console.apiserver import ApiClient, CallRecord

_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        _settle_environment(session)
    return session


def _settle_environment(session: requests.Session) -> None:
    """Read the proxy and CA bundle variables once, not again for every request.

    requests looks them up in the environment on each call, which costs more CPU than the call
    itself when the environment is large. The session gets the same values up front; only with
    NO_PROXY (per-host rules) does it keep looking each time.
    """
    if any(key.lower() == "no_proxy" for key in os.environ):
        return
    session.proxies.update(
        {k: v for k, v in urllib.request.getproxies_environment().items() if k != "no"}
    )
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    # The client sets basic auth itself, so ~/.netrc would not apply either.
    session.trust_env = False


def pooled_client(on_call: Callable[[CallRecord], None] | None = None) -> ApiClient:
    """Like client_from_settings, over this thread's session."""
    return ApiClient(
        url=settings.CLEARML_API_URL,
        key=settings.CLEARML_API_KEY,
        secret=settings.CLEARML_API_SECRET,
        timeout=settings.CLEARML_API_TIMEOUT,
        on_call=on_call,
        session=_session(),
    )
