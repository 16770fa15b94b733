"""People's sessions (/account/sessions/), their longest life, and re-authentication before
secrets (console/reauth.py), including the role check of snippet downloads with secrets."""

import time
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from console.accounts.models import UserSession
from console.accounts.sessions import LAST_SEEN, SIGNED_IN_AT
from console.audit import AuditEntry
from console.reauth import needs_reauth, require_recent_signin
from console.roles import Role
from tests.conftest import TEST_ADMIN_PASSWORD
from tests.test_security_review import IDP_SECRET, KEYCLOAK_FORM

pytestmark = pytest.mark.django_db

SESSIONS = "/account/sessions/"
GENERATE = {"secret_name": "clearml-server-secrets", "chart_secret_name": "clearml-conf-rotated"}


@pytest.fixture
def oidc_settings(settings):
    settings.CONSOLE_OIDC_ISSUER = "https://idp.example.com"
    settings.CONSOLE_OIDC_CLIENT_ID = "console"
    return settings


def person(role: Role, django_user_model, name: str = "") -> Client:
    name = name or role.label
    user, _ = django_user_model.objects.get_or_create(
        username=f"oidc:{name}", defaults={"email": f"{name}@example.com"}
    )
    user.console_signin = {"method": "oidc", "role": role.label}
    client = Client(HTTP_USER_AGENT=f"browser of {name}")
    client.force_login(user, backend="console.oidc.backend.ConsoleOIDCBackend")
    return client


def local_admin_signs_in(address: str = "127.0.0.1") -> Client:
    client = Client()
    response = client.post(
        reverse("signin"),
        {"username": "admin", "password": TEST_ADMIN_PASSWORD},
        REMOTE_ADDR=address,
        HTTP_USER_AGENT="Firefox on the admin desk",
    )
    assert response.status_code == 302
    return client


def age_sign_in(client: Client, minutes: float) -> None:
    session = client.session
    session[SIGNED_IN_AT] = time.time() - minutes * 60
    session.save()


# --- sessions ----------------------------------------------------------------------------------


def test_a_sign_in_records_a_session_that_lasts_at_most_the_configured_hours(settings):
    settings.CONSOLE_SESSION_HOURS = 12
    client = local_admin_signs_in("192.0.2.10")
    row = UserSession.objects.get()
    assert (row.method, row.role, row.client_address) == ("local", "admin", "192.0.2.10")
    assert row.user_agent == "Firefox on the admin desk"
    assert client.session["console_role"] == "admin"
    age = client.session.get_expiry_age()
    assert 12 * 3600 - 60 < age <= 12 * 3600
    stored = Session.objects.get(session_key=client.session.session_key)
    assert abs((stored.expire_date - row.signed_in_at) - timedelta(hours=12)) < timedelta(minutes=1)


def test_an_expired_session_is_signed_out():
    client = local_admin_signs_in()
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/").status_code == 302


def test_the_sessions_page_shows_your_sessions_only(oidc_settings, django_user_model):
    alice = person(Role.OPERATOR, django_user_model, "alice")
    person(Role.OPERATOR, django_user_model, "alice")  # a second browser of alice
    person(Role.VIEWER, django_user_model, "bob")
    html = alice.get(SESSIONS).content.decode()
    assert "Your sessions" in html
    assert html.count('name="session"') == 2 and "bob" not in html
    assert "OpenID Connect" in html and "this browser" in html


def test_an_admin_sees_everyones_sessions(oidc_settings, django_user_model):
    person(Role.VIEWER, django_user_model, "bob")
    admin = local_admin_signs_in()
    html = admin.get(SESSIONS).content.decode()
    assert "Everyone's sessions" in html
    assert "bob@example.com" in html and "admin (local)" in html


def test_ending_one_of_your_sessions_signs_that_browser_out(oidc_settings, django_user_model):
    laptop = person(Role.VIEWER, django_user_model, "carol")
    phone = person(Role.VIEWER, django_user_model, "carol")
    row = UserSession.objects.get(session_key=phone.session.session_key)
    response = laptop.post(SESSIONS, {"session": row.pk})
    assert response.status_code == 302 and response["Location"] == SESSIONS
    assert not UserSession.objects.filter(pk=row.pk).exists()
    assert not Session.objects.filter(session_key=row.session_key).exists()
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 200
    entry = AuditEntry.objects.get(action="auth.session.end")
    assert entry.actor == "carol@example.com"


def test_ending_your_current_session_signs_you_out(oidc_settings, django_user_model):
    client = person(Role.VIEWER, django_user_model, "dave")
    row = UserSession.objects.get()
    response = client.post(SESSIONS, {"session": row.pk})
    assert response["Location"] == reverse("signin")
    assert client.get("/").status_code == 302


def test_a_viewer_cannot_end_someone_elses_session(oidc_settings, django_user_model):
    victim = person(Role.OPERATOR, django_user_model, "erin")
    row = UserSession.objects.get()
    response = person(Role.VIEWER, django_user_model, "mallory").post(SESSIONS, {"session": row.pk})
    assert response.status_code == 404
    assert victim.get("/").status_code == 200


def test_an_admin_ends_anyones_session(oidc_settings, django_user_model):
    victim = person(Role.OPERATOR, django_user_model, "frank")
    row = UserSession.objects.get()
    admin = person(Role.ADMIN, django_user_model, "root-person")
    assert admin.post(SESSIONS, {"session": row.pk}).status_code == 302
    assert victim.get("/").status_code == 302


def test_signing_out_removes_the_session_record():
    client = local_admin_signs_in()
    client.post(reverse("signout"))
    assert not UserSession.objects.exists()


def test_last_seen_is_written_at_most_once_a_minute(oidc_settings, django_user_model):
    client = person(Role.VIEWER, django_user_model, "gina")
    long_ago = timezone.now() - timedelta(hours=1)
    UserSession.objects.update(last_seen_at=long_ago)
    client.get("/")  # seen less than a minute ago (at sign-in): no write
    assert UserSession.objects.get().last_seen_at == long_ago
    session = client.session
    session[LAST_SEEN] = time.time() - 61
    session.save()
    client.get("/")
    assert UserSession.objects.get().last_seen_at > long_ago


# --- re-authentication -------------------------------------------------------------------------


def test_generating_server_secrets_needs_a_recent_sign_in(settings):
    settings.CONSOLE_REAUTH_MINUTES = 15
    client = local_admin_signs_in()
    age_sign_in(client, 16)
    response = client.post(
        reverse("security_generate"), {}, HTTP_REFERER="http://testserver/security/"
    )
    assert response.status_code == 302
    assert response["Location"] == "/signin/?next=%2Fsecurity%2F&reauth=1"
    page = client.get(response["Location"]).content.decode()
    assert "Sign in again" in page and "last 15 minutes" in page
    again = client.post(
        reverse("signin"),
        {"username": "admin", "password": TEST_ADMIN_PASSWORD, "next": "/security/", "reauth": "1"},
    )
    assert again["Location"] == "/security/"
    assert not needs_reauth_of(client)
    response = client.post(reverse("security_generate"), GENERATE)
    assert response.status_code == 200


def needs_reauth_of(client: Client) -> bool:
    request = RequestFactory().get("/")
    request.session = client.session
    request.user = type("U", (), {"is_authenticated": True})()
    return needs_reauth(request)


def test_an_htmx_request_is_told_where_to_sign_in_again(settings):
    client = local_admin_signs_in()
    age_sign_in(client, 60)
    response = client.post(
        reverse("security_generate"),
        {},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/security/",
    )
    assert response.status_code == 401
    assert response["HX-Redirect"] == "/signin/?next=%2Fsecurity%2F&reauth=1"


def test_a_recent_sign_in_is_not_asked_again(admin_client):
    response = admin_client.post(reverse("security_generate"), GENERATE)
    assert response.status_code == 200


def test_the_decorator_for_other_views(rf, settings):
    settings.CONSOLE_REAUTH_MINUTES = 15

    @require_recent_signin
    def approve(request, pk):
        return "approved"

    request = rf.post("/changes/3/approve/", HTTP_REFERER="http://testserver/changes/3/")
    request.user = type("U", (), {"is_authenticated": True})()
    request.session = {SIGNED_IN_AT: time.time() - 20 * 60}
    assert approve(request, 3)["Location"] == "/signin/?next=%2Fchanges%2F3%2F&reauth=1"
    request.session = {SIGNED_IN_AT: time.time() - 60}
    assert approve(request, 3) == "approved"
    request.console_role = Role.ADMIN  # an API token: the API decides
    request.session = {}
    assert approve(request, 3) == "approved"


# --- snippet downloads with secrets ------------------------------------------------------------


@pytest.fixture
def keycloak_with_a_secret(admin_client):
    response = admin_client.post(
        reverse("sso:provider_add", args=["keycloak"]),
        {**KEYCLOAK_FORM, "client_secret": IDP_SECRET},
    )
    assert response.status_code == 302
    return reverse("snippets:download", args=["idp-keycloak"]) + "?format=env"


def test_a_viewer_cannot_export_with_inline_secrets(
    keycloak_with_a_secret, oidc_settings, django_user_model
):
    response = person(Role.VIEWER, django_user_model).get(keycloak_with_a_secret)
    assert response.status_code == 403
    assert IDP_SECRET not in response.content.decode()
    assert "needs the operator role" in response.content.decode()
    assert not AuditEntry.objects.filter(action="idp.export").exists()


def test_an_operator_exports_with_secrets_after_a_recent_sign_in(
    keycloak_with_a_secret, oidc_settings, django_user_model
):
    operator = person(Role.OPERATOR, django_user_model)
    response = operator.get(keycloak_with_a_secret)
    assert response.status_code == 200 and IDP_SECRET in response.content.decode()
    age_sign_in(operator, 30)
    response = operator.get(keycloak_with_a_secret)
    assert response.status_code == 302 and "reauth=1" in response["Location"]


def test_a_viewer_downloads_a_snippet_without_secrets(oidc_settings, django_user_model):
    response = person(Role.VIEWER, django_user_model).get(
        reverse("snippets:download", args=["groups"]) + "?format=env"
    )
    assert response.status_code == 200


# --- audit actors ------------------------------------------------------------------------------


def test_audit_actors_name_people_the_local_account_and_tokens(rf, django_user_model):
    from django.contrib.auth.models import AnonymousUser

    from console.audit import actor_for_request

    request = rf.get("/")
    request.user = django_user_model(username="admin")
    assert actor_for_request(request) == "admin (local)"
    request.user = django_user_model(username="oidc:0f3a-sub", email="ana@example.com")
    assert actor_for_request(request) == "ana@example.com"
    request.user = django_user_model(username="oidc:0f3a-sub", email="")
    assert actor_for_request(request) == "0f3a-sub"
    request.user = AnonymousUser()
    request.console_role, request.console_token_name = Role.OPERATOR, "ci-pipeline"
    assert actor_for_request(request) == "token:ci-pipeline"
