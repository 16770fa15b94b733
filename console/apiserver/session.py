"""One kept-alive HTTP session per thread for the apiserver client.

Every client the console builds (client_from_settings) sends over its thread's session, so a
worker thread running many tenants, or a web worker serving many requests, reuses connections.
"""

import os
import threading
import urllib.request

import requests

_local = threading.local()


def thread_session() -> requests.Session:
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
