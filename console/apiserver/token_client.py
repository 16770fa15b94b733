"""A client that sends a bearer token (from `auth.login`) instead of the console's own key.

Used to act as a tenant's admin where the ClearML docs sign in first (administrator vaults):
the token comes from `auth.login` impersonating that admin, so the console never holds the
admin's secret. The token client has its own session: the thread's kept-alive session carries
the console's basic auth, which must not be replaced.
"""

import requests

from .client import ApiClient


def client_with_token(base: ApiClient, token: str) -> ApiClient:
    """A client of the same server, timeout and call log as `base`, authenticated by `token`."""
    session = requests.Session()
    session.trust_env = base.session.trust_env
    session.proxies.update(base.session.proxies)
    session.verify = base.session.verify
    session.headers["Authorization"] = f"Bearer {token}"
    return ApiClient(
        url=base.url,
        key="",
        secret="",
        timeout=base.timeout,
        on_call=base.on_call,
        retries=base.retries,
        session=session,
    )
