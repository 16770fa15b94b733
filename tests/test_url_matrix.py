"""Every URL the console serves: anonymous visitors go to sign-in, POSTs need a CSRF token."""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from console.middleware import PUBLIC_URL_NAMES

pytestmark = pytest.mark.django_db

SAMPLE_ARGS = {
    "int": "1",
    "str": "sample",
    "slug": "sample",
    "uuid": "00000000-0000-0000-0000-000000000001",
    "path": "sample",
}


def walk(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or ""
            yield from walk(pattern, route, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name or ''}", route


def concrete(route: str) -> str:
    import re

    def substitute(match):
        converter = match.group(1) or "str"
        return SAMPLE_ARGS.get(converter, "sample")

    path = re.sub(r"<(?:(\w+):)?\w+>", substitute, route)
    return "/" + path.lstrip("^").rstrip("$")


ROUTES = sorted(set(walk(get_resolver())))
# The JSON API (/api/) takes bearer tokens, not sessions: it answers 401 in JSON, needs no CSRF
# token and is checked by tests/test_api.py (and fuzzed by tests/test_api_schema.py).
PAGES = [(name, route) for name, route in ROUTES if not route.startswith("api/")]
# /healthz is answered by middleware before CSRF and changes nothing; every other route is checked.
POSTABLE = [(name, route) for name, route in PAGES if name != "healthz"]
PRIVATE = [(name, route) for name, route in PAGES if name.split(":")[-1] not in PUBLIC_URL_NAMES]


def test_the_matrix_covers_the_console():
    names = {name for name, _ in ROUTES}
    assert {"dashboard", "signin", "healthz"} <= names


@pytest.mark.parametrize(("name", "route"), PRIVATE, ids=[n or r for n, r in PRIVATE])
def test_an_anonymous_visitor_is_sent_to_sign_in(name, route):
    response = Client().get(concrete(route))
    assert response.status_code == 302, f"{name} answered {response.status_code}"
    assert response["Location"].startswith("/signin/")


@pytest.mark.parametrize(("name", "route"), PRIVATE, ids=[n or r for n, r in PRIVATE])
def test_an_anonymous_htmx_request_is_told_to_sign_in(name, route):
    response = Client().get(concrete(route), headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response["HX-Redirect"] == "/signin/"


@pytest.mark.parametrize(("name", "route"), POSTABLE, ids=[n or r for n, r in POSTABLE])
def test_a_post_without_a_csrf_token_is_refused(name, route, django_user_model):
    client = Client(enforce_csrf_checks=True)
    from console.signin import admin_user

    user = admin_user()
    client.force_login(user, backend="console.signin.AdminPasswordBackend")
    response = client.post(concrete(route), {})
    assert response.status_code in {403, 405}, f"{name} answered {response.status_code}"
