"""Copy and Download of a snippet whose secret is `env:NAME` and NAME is not set in the console's
environment: both say which variable and which field are missing and offer the Helm form that
refers to a v1 Secret, through the test client (also without JavaScript) and in Chromium."""

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.urls import reverse
from playwright.sync_api import expect

from console.audit.models import AuditEntry
from console.snippets import EnvSetting
from console.snippets.web import build_snippet, env_references, register_snippet_source
from console.validation import InvalidInput
from sso.snippets import console_identity_provider_settings, env_value_references
from tests import snippet_readers as readers

ENV = "KC_CONSOLE_TEST_SECRET"
OTHER = "KC_CONSOLE_TEST_OTHER"
VARIABLE = "CLEARML__secure__login__sso__oauth_client__keycloak__client_secret"
FIELD = "Keycloak: Client secret"
KEYCLOAK_POST = {
    "action": "save",
    "base_url": "https://sso.example.com/realms/acme/",
    "authorize_url": "https://sso.example.com/realms/acme/protocol/openid-connect/auth",
    "access_token_url": "https://sso.example.com/realms/acme/protocol/openid-connect/token",
    "client_id": "clearml",
    "client_secret": f"env:{ENV}",
    "groups.enabled": "true",
    "groups.claim": "groups",
    "groups.admins": "clearml-admins",
}


def add_keycloak(client):
    response = client.post(reverse("sso:provider_add", args=["keycloak"]), KEYCLOAK_POST)
    assert response.status_code == 302, response.content.decode()[:2000]


def fragment(client, source="idp-keycloak", query="format=helm"):
    url = reverse("snippets:show", args=[source]) + "?" + query
    return client.get(url, headers={"HX-Request": "true"}).content.decode()


@pytest.fixture
def unset(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.delenv(OTHER, raising=False)


@pytest.fixture
def keycloak(admin_client, unset):
    add_keycloak(admin_client)
    return admin_client


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["helm", "compose", "env", "shell"])
def test_the_page_names_the_missing_variable_at_copy_and_download(keycloak, fmt):
    html = fragment(keycloak, query=f"format={fmt}")
    assert f"<code>{ENV}</code> is not set: {FIELD} (<code>{VARIABLE}</code>)" in html
    # Copy and Download do not act; they carry the message that says why.
    assert html.count('data-snippet-blocked="snippet-idp-keycloak-missing"') == 2
    assert f"Not copied: env:{ENV} is not set in the console&#x27;s environment" in html
    assert f"Not downloaded: env:{ENV} is not set" in html
    assert "download=" not in html  # without JavaScript the link shows the reason (below)
    # The form that needs no value from the console is offered, in place (htmx) and as a link.
    assert "Helm values with a v1 Secret" in html
    assert "format=helm&amp;secrets=secret-ref" in html
    assert "Secret values are hidden here" not in html


@pytest.mark.django_db
def test_the_secret_ref_form_is_not_blocked_and_ends_with_the_keys_to_create(keycloak):
    html = fragment(keycloak, query="format=helm&secrets=secret-ref")
    assert "data-snippet-blocked" not in html
    assert 'download="clearml-idp-keycloak.values.yaml"' in html
    assert f"the console cannot read <code>{ENV}</code>" in html
    assert "secretKeyRef" in html and "kind: Secret" not in html


@pytest.mark.django_db
def test_a_download_says_what_is_missing_and_where_the_secret_ref_form_is(keycloak):
    url = reverse("snippets:download", args=["idp-keycloak"])
    response = keycloak.get(url + "?format=env")
    assert response.status_code == 400
    text = response.content.decode()
    assert text.startswith("Cannot download clearml-idp-keycloak.env: ")
    assert f"env:{ENV} is not set in the console's environment ({FIELD}: {VARIABLE})" in text
    assert "Set it and restart the console." in text
    assert f"http://testserver{url}?format=helm&secrets=secret-ref" in text
    # Without JavaScript a browser follows the link: the snippet page says it, with the link.
    page = keycloak.get(url + "?format=helm", headers={"Accept": "text/html"})
    assert page.status_code == 400 and "no-store" in page["Cache-Control"]
    html = page.content.decode()
    assert "<html" in html and "The download of clearml-idp-keycloak.values.yaml" in html
    assert f"<code>{ENV}</code> is not set" in html
    assert reverse("snippets:show", args=["idp-keycloak"]) + "?format=helm&amp;secrets" in html
    assert AuditEntry.objects.filter(action="idp.export").count() == 0


@pytest.mark.django_db
def test_the_secret_ref_download_works_without_the_value(keycloak):
    url = reverse("snippets:download", args=["idp-keycloak"]) + "?format=helm&secrets=secret-ref"
    response = keycloak.get(url)
    assert response.status_code == 200
    assert (
        response["Content-Disposition"] == 'attachment; filename="clearml-idp-keycloak.values.yaml"'
    )
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode()
    [values] = [d for d in yaml.safe_load_all(text) if d is not None]  # one document: a values file
    entries = {e["name"]: e for e in values["apiserver"]["extraEnvs"]}
    assert entries[VARIABLE] == {
        "name": VARIABLE,
        "valueFrom": {"secretKeyRef": {"name": "clearml-console", "key": VARIABLE}},
    }
    assert "<read from" not in text and "<secret hidden" not in text
    assert f"#   env:{ENV} is not set in the console's environment" in text
    assert f"#   {VARIABLE}\n" in text
    # No secret left the console, so nothing was exported that needs an audit entry.
    assert AuditEntry.objects.filter(action="idp.export").count() == 0


@pytest.mark.django_db
def test_an_empty_variable_is_named_too_and_a_set_one_blocks_nothing(keycloak, monkeypatch):
    monkeypatch.setenv(ENV, "  ")
    assert f"<code>{ENV}</code> is set but empty" in fragment(keycloak)
    monkeypatch.setenv(ENV, "the-secret")
    html = fragment(keycloak)
    assert "data-snippet-blocked" not in html and 'download="' in html
    assert "the-secret" not in html
    response = keycloak.get(reverse("snippets:download", args=["idp-keycloak"]) + "?format=helm")
    values, _, _ = readers.read_helm(response.content.decode())
    assert readers.apiserver_reads(VARIABLE, values[VARIABLE]) == "the-secret"


@pytest.mark.django_db
def test_the_server_settings_export_names_it_as_well(keycloak):
    html = fragment(keycloak, source="server-settings", query="format=compose")
    assert f"<code>{ENV}</code> is not set: {FIELD}" in html
    response = keycloak.get(
        reverse("snippets:download", args=["server-settings"]) + "?format=helm&secrets=secret-ref"
    )
    assert response.status_code == 200 and "secretKeyRef" in response.content.decode()


@pytest.mark.django_db
def test_the_console_export_says_where_the_variable_must_be_set(keycloak):
    with pytest.raises(InvalidInput) as info:
        console_identity_provider_settings(reveal_secrets=True, environ={})
    [error] = info.value.errors
    assert error.path == "keycloak.client_secret"
    assert error.message == (
        f"env:{ENV} is not set in the console's environment ({FIELD}): set {ENV} where the "
        "console runs and restart it"
    )
    settings = console_identity_provider_settings(reveal_secrets=True, environ={ENV: "s3"})
    assert {s.name: s.value for s in settings}[VARIABLE] == "s3"


@register_snippet_source("test-env-client-id", title="Env client id")
def _env_client_id(request):
    return [
        EnvSetting(
            "CLEARML__secure__login__sso__oauth_client__keycloak__client_id",
            f"<read from ${ENV} when exported>",
        ),
        EnvSetting(VARIABLE, f"<read from ${OTHER} when exported>", secret=True),
    ]


@pytest.mark.django_db
def test_a_missing_non_secret_value_is_not_offered_the_secret_form(admin_client, unset):
    html = fragment(admin_client, source="test-env-client-id")
    assert "Keycloak: Client ID" in html or "Keycloak: Client id" in html
    assert "Helm values with a v1 Secret" not in html
    snippet = build_snippet(_page_request(), "test-env-client-id", secrets="secret-ref")
    # With a v1 Secret the secret is only a reference, but the client id is still needed, and
    # the console cannot write the values file without it: both stay blocked.
    assert [ref.env for ref in snippet.blocked] == [ENV, OTHER]
    assert snippet.secret_ref is None


def _page_request():
    request = RequestFactory().get("/")
    request.htmx = None
    return request


def test_the_check_reads_only_whether_a_variable_is_set(unset):
    settings = [
        EnvSetting(VARIABLE, f"<read from ${ENV} when exported>", secret=True),
        EnvSetting("CLEARML__a__b", f"<read from ${ENV} when exported>"),  # not a provider field
        EnvSetting("CLEARML__secure__login__sso__oauth_client__google__client_secret", "x"),
    ]
    [ref] = env_value_references(settings, environ={ENV: "value"})
    assert (ref.variable, ref.env, ref.field, ref.secret, ref.state) == (
        VARIABLE,
        ENV,
        FIELD,
        True,
        "set",
    )
    assert [r.state for r in env_value_references(settings, environ={})] == ["unset"]
    # Registered with the pages' snippets by sso.snippets.
    assert env_references(settings) == env_value_references(settings)


# ---- in Chromium --------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_copy_and_download_say_what_is_missing_in_the_browser(signed_in_page, live_server, unset):
    client = Client()
    user, _ = get_user_model().objects.get_or_create(username="admin")
    client.force_login(user, backend="console.signin.AdminPasswordBackend")
    add_keycloak(client)
    page = signed_in_page
    page.goto(live_server.url + reverse("sso:provider_edit", args=["keycloak"]))
    snippet = page.locator("#snippet-idp-keycloak")
    status = snippet.locator(".snippet-status")

    snippet.get_by_role("button", name="Copy").click()
    expect(status).to_contain_text(f"Not copied: env:{ENV} is not set")
    expect(status).to_contain_text(FIELD)
    expect(snippet.get_by_role("button", name="Copy")).to_have_text("Copy")  # nothing copied
    expect(page.locator("#snippet-idp-keycloak-missing")).to_be_focused()

    url = page.url
    snippet.get_by_role("link", name="Download clearml-idp-keycloak.values.yaml").click()
    expect(status).to_contain_text(f"Not downloaded: env:{ENV} is not set")
    assert page.url == url

    # The offered form: swapped in place, then downloaded with no value from the console.
    snippet.get_by_role("link", name="Helm values with a v1 Secret").click()
    expect(page.locator("#snippet-idp-keycloak pre")).to_contain_text("secretKeyRef")
    with page.expect_download() as info:
        page.locator("#snippet-idp-keycloak").get_by_role(
            "link", name="Download clearml-idp-keycloak.values.yaml"
        ).click()
    with open(info.value.path(), encoding="utf-8") as downloaded:
        text = downloaded.read()
    assert f"#   {VARIABLE}" in text and "secretKeyRef" in text
    assert page.js_errors == []
