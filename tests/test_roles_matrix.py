"""Every URL × every role × GET and POST against the role policy (console/policy.py).

Every URL must have an entry in the table: a new route without one fails here (and the
middleware refuses it at run time). For each signed-in role the answer must be the policy's:
405 for a method the table does not give, the console's 403 below the least role, and anything
but a policy refusal from that role up. Anonymous visitors are sent to sign in.
"""

import pytest
from django.test import Client
from django.urls import resolve

from console import policy
from console.roles import Role
from console.signin import admin_user
from tests.test_url_matrix import ROUTES, concrete

pytestmark = pytest.mark.django_db

PATHS = sorted({(name, concrete(route)) for name, route in ROUTES})
ROLES = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]


def view_name(path: str) -> str:
    return resolve(path).view_name


def rule(path: str) -> policy.Rule:
    return policy.rule_for(view_name(path))


@pytest.fixture
def oidc_settings(settings):
    settings.CONSOLE_OIDC_ISSUER = "https://idp.example.com"
    settings.CONSOLE_OIDC_CLIENT_ID = "console"
    return settings


def person_client(role: Role, django_user_model) -> Client:
    """A client signed in through OpenID Connect with `role` (the backend's sign-in record)."""
    user, _ = django_user_model.objects.get_or_create(
        username=f"oidc:{role.label}-sub", defaults={"email": f"{role.label}@example.com"}
    )
    user.console_signin = {"method": "oidc", "role": role.label}
    client = Client()
    client.force_login(user, backend="console.oidc.backend.ConsoleOIDCBackend")
    return client


@pytest.mark.parametrize(("name", "path"), PATHS, ids=[p for _, p in PATHS])
def test_every_url_has_an_entry_in_the_role_policy(name, path):
    assert rule(path) is not None, (
        f"{path} ({view_name(path)}) has no entry in console/policy.py POLICY: give it the "
        "least role for GET and for POST"
    )


def test_the_policy_names_no_url_that_does_not_exist():
    names = {view_name(path) for _, path in PATHS}
    expected_elsewhere = {"changes:approve", "changes:reject"}  # the approvals' pages, to come
    stale = [
        key
        for key, entry in policy.POLICY.items()
        if not key.endswith(":*")
        and not entry.token  # the API's routes come and go with web/api/
        and key not in names
        and key not in expected_elsewhere
    ]
    assert stale == []


@pytest.mark.parametrize(("name", "path"), PATHS, ids=[p for _, p in PATHS])
def test_a_method_the_policy_does_not_give_is_one_the_view_refuses(name, path, rf):
    """The middleware answers 405 for a method without a role; the view must refuse it too,
    or the table hides a page (a GET confirmation page marked POST-only, say)."""
    entry = rule(path)
    if entry is None or entry.public or entry.token:
        return
    match = resolve(path)
    for method, needed in (("GET", entry.get), ("POST", entry.post)):
        if needed is not None:
            continue
        request = rf.generic(method, path)
        request.user = admin_user()
        request.session = {}
        request.htmx = False
        try:
            response = match.func(request, *match.args, **match.kwargs)
        except Exception as exc:  # noqa: BLE001 - the view ran: it takes the method
            pytest.fail(
                f"{method} {path}: the view takes it ({type(exc).__name__}); give it a role"
            )
        assert response.status_code == 405, f"{method} {path}: the view answered it"


def expected(path: str, method: str, role: Role | None) -> str:
    entry = rule(path)
    if entry.public or entry.token:
        return "not-checked"
    if role is None:
        return "sign-in"
    needed = entry.least_role(method)
    if needed is None:
        return "405"
    return "allowed" if role >= needed else "403"


def assert_answer(response, want: str, where: str) -> None:
    refused = getattr(response, "console_policy_refusal", False)
    if want == "sign-in":
        assert response.status_code == 302, where
        assert response["Location"].startswith("/signin/"), where
    elif want == "405":
        assert response.status_code == 405, where
    elif want == "403":
        assert response.status_code == 403 and refused, f"{where}: {response.status_code}"
        assert "needs the" in response.content.decode(), where
    elif want == "allowed":
        assert not refused, f"{where}: refused by the policy"


CASES = [(name, path, role) for name, path in PATHS for role in [*ROLES, None]]


@pytest.mark.parametrize(
    ("name", "path", "role"),
    CASES,
    ids=[f"{p}-{r.label if r else 'anonymous'}" for _, p, r in CASES],
)
def test_each_role_gets_the_policys_answer(name, path, role, oidc_settings, django_user_model):
    if rule(path) is None:
        pytest.fail(f"{path} has no entry in the role policy")
    client = person_client(role, django_user_model) if role else Client()
    for method in ("GET", "POST"):
        want = expected(path, method, role)
        if want == "not-checked":
            continue
        response = client.get(path) if method == "GET" else client.post(path, {})
        assert_answer(response, want, f"{method} {path} as {role.label if role else 'anonymous'}")


def test_the_local_admin_is_an_admin_everywhere(admin_client):
    response = admin_client.post("/security/generate/", {})
    assert not getattr(response, "console_policy_refusal", False)


def test_a_viewer_cannot_generate_server_secrets_and_is_told_why(oidc_settings, django_user_model):
    response = person_client(Role.VIEWER, django_user_model).post("/security/generate/", {})
    assert response.status_code == 403
    html = response.content.decode()
    assert "This needs the admin role; you are signed in as a viewer." in html
    assert '<link rel="stylesheet"' in html  # the console's own page


def test_a_signed_in_person_without_a_role_is_refused(oidc_settings, django_user_model):
    user = django_user_model.objects.create(username="oidc:nobody", email="n@example.com")
    client = Client()
    client.force_login(user, backend="console.oidc.backend.ConsoleOIDCBackend")
    response = client.get("/")
    assert response.status_code == 403 and "no role" in response.content.decode()


def test_a_url_without_an_entry_is_refused(admin_client, monkeypatch):
    monkeypatch.delitem(policy.POLICY, "dashboard")
    response = admin_client.get("/")
    assert response.status_code == 403
    assert "no entry in the role policy" in response.content.decode()
