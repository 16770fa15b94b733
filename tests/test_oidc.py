"""Console sign-in through a real OpenID provider (oidc-provider-mock, in-process): discovery,
JWKS, the code flow with PKCE; roles from groups; and every way a sign-in must be refused."""

import base64
import hashlib
import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from oidc_provider_mock import run_server_in_thread

from console.accounts.models import UserSession
from console.audit import AuditEntry
from console.oidc import discovery
from console.oidc.backend import ConsoleOIDCBackend

pytestmark = pytest.mark.django_db

CLIENT_ID = "clearml-console"
CLIENT_SECRET = "console-client-secret"  # the mock accepts any


@pytest.fixture(scope="module")
def provider():
    with run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def short_lived_provider():
    """A provider whose ID tokens expire one second after they are issued."""
    with run_server_in_thread(access_token_max_age=timedelta(seconds=1)) as server:
        yield f"http://localhost:{server.server_port}"


def configure(settings, issuer: str) -> None:
    settings.CONSOLE_OIDC_ISSUER = issuer
    settings.CONSOLE_OIDC_CLIENT_ID = CLIENT_ID
    settings.CONSOLE_OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.CONSOLE_OIDC_GROUPS_CLAIM = "groups"
    settings.CONSOLE_ROLE_ADMINS = ["console-admins"]
    settings.CONSOLE_ROLE_OPERATORS = ["console-operators"]
    settings.CONSOLE_ROLE_VIEWERS = ["console-viewers", "everyone"]
    discovery.forget_metadata()


@pytest.fixture
def oidc(settings, provider):
    configure(settings, provider)
    yield provider
    discovery.forget_metadata()


def person(issuer: str, sub: str, **claims) -> str:
    response = requests.put(f"{issuer}/users/{sub}", json=claims, timeout=5)
    assert response.status_code == 204
    return sub


def start(client: Client, query: str = "") -> tuple[str, dict]:
    """The console's redirect to the provider: its URL and query parameters."""
    response = client.get("/oidc/authenticate/" + query)
    assert response.status_code == 302, response.content
    location = response["Location"]
    return location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def approve(authorize_url: str, sub: str) -> dict:
    """The person signs in at the provider; the provider's redirect back (code, state)."""
    response = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["Location"])
    assert back.path == "/oidc/callback/"
    return {k: v[0] for k, v in parse_qs(back.query).items()}


def sign_in(client: Client, sub: str, query: str = ""):
    url, _ = start(client, query)
    return client.get("/oidc/callback/", approve(url, sub))


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- the happy paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        (["console-viewers"], "viewer"),
        (["console-operators"], "operator"),
        (["console-admins"], "admin"),
        (["everyone", "console-operators", "console-admins"], "admin"),  # the highest wins
        (["everyone", "console-operators"], "operator"),
    ],
)
def test_each_role_group_signs_in_with_its_role(oidc, groups, role):
    sub = person(oidc, f"sub-{role}-{len(groups)}", email=f"{role}@example.com", groups=groups)
    client = Client()
    response = sign_in(client, sub, "?next=/tenants/")
    assert response.status_code == 302 and response["Location"] == "/tenants/"
    assert signed_in(client)
    assert client.session["console_role"] == role
    row = UserSession.objects.get(session_key=client.session.session_key)
    assert (row.method, row.role, row.user.email) == ("oidc", role, f"{role}@example.com")
    entry = AuditEntry.objects.get(action="auth.signin")
    assert entry.actor == f"{role}@example.com"
    assert entry.after["method"] == "oidc" and entry.after["role"] == role
    assert client.get("/").status_code == 200


def test_the_redirect_uses_pkce_s256_a_nonce_and_the_right_scopes(oidc, monkeypatch):
    sub = person(oidc, "pkce", email="pkce@example.com", groups=["console-viewers"])
    client = Client()
    url, params = start(client)
    assert url.startswith(oidc + "/oauth2/authorize?")
    assert params["response_type"] == "code" and params["client_id"] == CLIENT_ID
    assert params["scope"] == "openid email profile"
    assert params["redirect_uri"] == "http://testserver/oidc/callback/"
    assert params["code_challenge_method"] == "S256" and params["nonce"] and params["state"]
    sent = []
    real_post = requests.post

    def spy(url, **kwargs):
        if url.endswith("/oauth2/token"):
            sent.append(kwargs)
        return real_post(url, **kwargs)

    monkeypatch.setattr("console.oidc.backend.requests.post", spy)
    assert client.get("/oidc/callback/", approve(url, sub)).status_code == 302
    [token_request] = sent
    verifier = token_request["data"]["code_verifier"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert challenge.decode().rstrip("=") == params["code_challenge"]
    # The client secret goes in HTTP Basic, never in the body.
    assert "client_secret" not in token_request["data"] and token_request["auth"] is not None


def test_roles_are_read_again_at_every_sign_in(oidc):
    sub = person(oidc, "mover", email="mover@example.com", groups=["console-admins"])
    client = Client()
    sign_in(client, sub)
    assert client.session["console_role"] == "admin"
    person(oidc, sub, email="mover@example.com", groups=["console-viewers"])
    client.post("/signout/")
    sign_in(client, sub)
    assert client.session["console_role"] == "viewer"


def test_a_person_without_an_email_is_audited_by_their_subject(oidc):
    sub = person(oidc, "no-email-subject", groups=["console-operators"])
    client = Client()
    sign_in(client, sub)
    assert signed_in(client)
    assert AuditEntry.objects.get(action="auth.signin").actor == "no-email-subject"


def test_the_sign_in_page_offers_the_provider(oidc, settings, client):
    html = client.get("/signin/?next=/audit/").content.decode()
    assert "Sign in with localhost" in html
    assert 'href="/oidc/authenticate/?next=%2Faudit%2F"' in html
    settings.CONSOLE_OIDC_NAME = "Acme SSO"
    assert "Sign in with Acme SSO" in client.get("/signin/").content.decode()


def test_a_reauthentication_asks_the_provider_for_a_fresh_login(oidc):
    _, params = start(Client(), "?next=/security/&reauth=1")
    assert params["prompt"] == "login"


# --- refusals -------------------------------------------------------------------------------------


def assert_refused(client: Client, response, status: int, text: str) -> None:
    assert response.status_code == status
    assert text in response.content.decode()
    assert not signed_in(client)
    assert client.get("/").status_code == 302


def test_a_person_in_no_role_group_is_refused_with_a_page_that_says_so(oidc, django_user_model):
    sub = person(oidc, "outsider", email="outsider@example.com", groups=["finance"])
    client = Client()
    response = sign_in(client, sub)
    assert_refused(client, response, 403, "none of the groups that give a role")
    assert "outsider@example.com" in response.content.decode()
    assert not django_user_model.objects.filter(username__startswith="oidc:").exists()
    assert not UserSession.objects.exists()
    entry = AuditEntry.objects.get(action="auth.signin.failed")
    assert (entry.outcome, entry.target_id) == ("refused", "outsider@example.com")
    assert entry.after["groups"] == ["finance"]


def test_a_person_with_no_groups_claim_is_refused(oidc):
    client = Client()
    response = sign_in(client, person(oidc, "groupless", email="groupless@example.com"))
    assert_refused(client, response, 403, "No role in this console")


def test_a_tampered_token_is_refused(oidc, monkeypatch):
    sub = person(oidc, "tamper", email="tamper@example.com", groups=["console-viewers"])
    real_get_token = ConsoleOIDCBackend.get_token

    def tampered(self, payload):
        answer = real_get_token(self, payload)
        header, body, signature = answer["id_token"].split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        claims["groups"] = ["console-admins"]  # promote ourselves, keep the signature
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return {**answer, "id_token": f"{header}.{forged}.{signature}"}

    monkeypatch.setattr(ConsoleOIDCBackend, "get_token", tampered)
    client = Client()
    assert_refused(client, sign_in(client, sub), 400, "did not pass the console")
    entry = AuditEntry.objects.get(action="auth.signin.failed")
    assert "Signature verification failed" in entry.error


def test_a_token_for_another_audience_is_refused(oidc, monkeypatch):
    sub = person(oidc, "aud", email="aud@example.com", groups=["console-admins"])
    client = Client()
    url, params = start(client)

    def token_for_another_client(self, payload):
        # A genuine token of this provider, for the same person and nonce, issued to another
        # client (what a malicious relying party could replay at us).
        other = url.replace(f"client_id={CLIENT_ID}", "client_id=another-app")
        code = approve(other, sub)["code"]
        answer = requests.post(
            f"{oidc}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": params["redirect_uri"],
                "client_id": "another-app",
                "client_secret": "x",
            },
            timeout=5,
        )
        return answer.json()

    monkeypatch.setattr(ConsoleOIDCBackend, "get_token", token_for_another_client)
    response = client.get("/oidc/callback/", approve(url, sub))
    assert_refused(client, response, 400, "did not pass the console")
    assert "Audience" in AuditEntry.objects.get(action="auth.signin.failed").error


def test_an_expired_token_is_refused(settings, short_lived_provider):
    configure(settings, short_lived_provider)
    settings.OIDC_LEEWAY = 0
    sub = person(short_lived_provider, "late", email="late@example.com", groups=["console-admins"])
    client = Client()
    url, _ = start(client)
    back = approve(url, sub)
    real_post = requests.post

    def slow_token(url, **kwargs):
        answer = real_post(url, **kwargs)
        time.sleep(1.5)  # the token expires before the console checks it
        return answer

    import console.oidc.backend as backend

    backend.requests.post, saved = slow_token, backend.requests.post
    try:
        response = client.get("/oidc/callback/", back)
    finally:
        backend.requests.post = saved
    assert_refused(client, response, 400, "did not pass the console")
    assert "expired" in AuditEntry.objects.get(action="auth.signin.failed").error


def test_a_nonce_that_does_not_match_is_refused(oidc):
    sub = person(oidc, "nonce", email="nonce@example.com", groups=["console-admins"])
    client = Client()
    url, params = start(client)
    session = client.session
    session["oidc_states"][params["state"]]["nonce"] = "not-the-nonce-sent"
    session.save()
    response = client.get("/oidc/callback/", approve(url, sub))
    assert_refused(client, response, 400, "did not pass the console")
    assert "nonce" in AuditEntry.objects.get(action="auth.signin.failed").error


def test_a_state_that_was_not_sent_is_refused(oidc):
    sub = person(oidc, "state", email="state@example.com", groups=["console-admins"])
    client = Client()
    url, _ = start(client)
    back = approve(url, sub)
    response = client.get("/oidc/callback/", {**back, "state": "forged-state"})
    assert_refused(client, response, 400, "did not pass the console")


def test_a_code_from_another_browser_is_refused(oidc):
    """The state is kept in the session that started the sign-in: a code and state carried to
    another browser (login CSRF, a stolen redirect) find no state there."""
    sub = person(oidc, "csrf", email="csrf@example.com", groups=["console-admins"])
    url, _ = start(Client())
    victim = Client()
    assert_refused(victim, victim.get("/oidc/callback/", approve(url, sub)), 400, "did not")


def test_a_provider_that_cannot_be_reached_is_said_so(settings):
    configure(settings, "http://127.0.0.1:9")  # nothing listens on the discard port
    settings.CONSOLE_OIDC_TIMEOUT = 2
    response = Client().get("/oidc/authenticate/")
    assert response.status_code == 503
    assert "could not reach the identity provider" in response.content.decode()


def test_without_oidc_configured_the_oidc_urls_are_not_found(client):
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404
    assert "Sign in with" not in client.get("/signin/").content.decode()


def test_the_local_admin_can_be_switched_off(oidc, settings, admin_client):
    from tests.conftest import TEST_ADMIN_PASSWORD

    settings.CONSOLE_LOCAL_ADMIN = False
    # Its existing session ends, and the password no longer signs in.
    assert admin_client.get("/").status_code == 302
    response = Client().post("/signin/", {"username": "admin", "password": TEST_ADMIN_PASSWORD})
    assert response.status_code == 200 and "not right" in response.content.decode()
    assert "Break-glass" not in Client().get("/signin/").content.decode()
