"""Identity provider pages: a generated form per provider, write-only secrets, errors next to
their fields, optimistic locking, the snippet and its download, the audit trail."""

import pytest
from django.urls import reverse

from console.audit.models import AuditEntry
from sso.providers import catalog
from sso.providers.models import IdentityProvider
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

SECRET = "kc-Secret#42-never-shown"
KEYCLOAK_POST = {
    "action": "save",
    "base_url": "https://sso.example.com/realms/acme/",
    "authorize_url": "https://sso.example.com/realms/acme/protocol/openid-connect/auth",
    "access_token_url": "https://sso.example.com/realms/acme/protocol/openid-connect/token",
    "client_id": "clearml",
    "client_secret": SECRET,
    "groups.enabled": "true",
    "groups.claim": "groups",
    "groups.admins": "clearml-admins\nops",
    "groups.prohibit_user_signup_if_not_in_group": "true",
    "claims.name": "preferred_username",
    "admin_role": "",
    "admin_role.disabled": "on",
    "idp_logout": "true",
    "get_info_from_access_token": "false",
}


@pytest.fixture
def acme():
    return Tenant.objects.create(name="Acme Research", company_id="c0ffee01")


def add_keycloak(client, **changes):
    data = {**KEYCLOAK_POST, **changes}
    return client.post(reverse("sso:provider_add", args=["keycloak"]), data)


def everything_rendered(client, key="keycloak") -> str:
    pages = [reverse("sso:providers"), reverse("sso:provider_edit", args=[key])]
    html = "".join(client.get(url).content.decode() for url in pages)
    for fmt in ("helm", "compose", "env", "shell"):
        html += client.get(
            reverse("snippets:show", args=[f"idp-{key}"]) + f"?format={fmt}"
        ).content.decode()
    return html


def test_the_list_offers_every_provider_by_protocol(admin_client):
    response = admin_client.get(reverse("sso:providers"))
    assert response.status_code == 200
    html = response.content.decode()
    for key in catalog.PROVIDERS:
        assert reverse("sso:provider_add", args=[key]) in html, key
    assert "OAuth / OpenID Connect" in html and "SAML" in html and "LDAP" in html


@pytest.mark.parametrize("key", sorted(catalog.PROVIDERS))
def test_every_provider_form_is_generated_from_its_fields(admin_client, key):
    p = catalog.PROVIDERS[key]
    html = admin_client.get(reverse("sso:provider_add", args=[key])).content.decode()
    for f in p.fields:
        assert f'name="{f.key}"' in html, f.key
        assert p.variable(f, "<name>" if f.type == catalog.MAP else "")[:40] in html
    if p.callback:
        assert f"&lt;CLEARML_WEBAPP_URL&gt;{p.callback}" in html
    assert ("Fill from discovery" in html) == p.discovery


def test_keycloak_is_saved_with_every_field(admin_client, acme):
    response = add_keycloak(admin_client, default_company=acme.company_id)
    assert response.status_code == 302
    row = IdentityProvider.objects.get(provider="keycloak")
    assert row.secrets == {"client_secret": SECRET}
    assert row.settings == {
        "base_url": KEYCLOAK_POST["base_url"],
        "authorize_url": KEYCLOAK_POST["authorize_url"],
        "access_token_url": KEYCLOAK_POST["access_token_url"],
        "client_id": "clearml",
        "default_company": "c0ffee01",
        "groups": {
            "enabled": True,
            "claim": "groups",
            "admins": ["clearml-admins", "ops"],
            "prohibit_user_signup_if_not_in_group": True,
        },
        "claims": {"name": "preferred_username"},
        "admin_role": "",
        "idp_logout": True,
        "get_info_from_access_token": False,
    }
    entry = AuditEntry.objects.get(action="idp.create")
    assert entry.target_id == "keycloak"


def test_the_callback_url_uses_the_web_app_address(admin_client, settings):
    settings.CLEARML_WEBAPP_URL = "https://app.clearml.example.com"
    add_keycloak(admin_client)
    html = admin_client.get(reverse("sso:provider_edit", args=["keycloak"])).content.decode()
    assert "https://app.clearml.example.com/callback_keycloak" in html
    assert "Group membership" in html and "Evaluate" in html  # the Keycloak-side checklist


def test_a_secret_is_never_rendered_back_nor_audited(admin_client):
    add_keycloak(admin_client)
    html = everything_rendered(admin_client)
    assert SECRET not in html
    assert "Set</span>" in html
    for entry in AuditEntry.objects.all():
        assert SECRET not in str(entry.before) + str(entry.after) + entry.error
    response = admin_client.get(reverse("audit:list"))
    assert SECRET not in response.content.decode()


def test_an_empty_secret_keeps_it_typing_replaces_it_and_clear_removes_it(admin_client):
    add_keycloak(admin_client)
    url = reverse("sso:provider_edit", args=["keycloak"])
    row = IdentityProvider.objects.get()
    # The same form again with an empty secret changes nothing: no new version, no audit entry.
    response = admin_client.post(url, {**KEYCLOAK_POST, "client_secret": "", "version": 1})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.secrets == {"client_secret": SECRET} and row.version == 1
    assert not AuditEntry.objects.filter(action="idp.update").exists()
    # Changing another field with an empty secret keeps the secret.
    changed = {**KEYCLOAK_POST, "client_id": "clearml-2", "client_secret": "", "version": 1}
    assert admin_client.post(url, changed).status_code == 302
    row.refresh_from_db()
    assert row.secrets == {"client_secret": SECRET} and row.version == 2
    admin_client.post(url, {**KEYCLOAK_POST, "client_secret": "env:KC_SECRET", "version": 2})
    row.refresh_from_db()
    assert row.secrets == {"client_secret": "env:KC_SECRET"}
    html = admin_client.get(url).content.decode()
    assert "From $KC_SECRET" in html
    response = admin_client.post(
        url, {**KEYCLOAK_POST, "client_secret": "", "client_secret.clear": "on", "version": 3}
    )
    assert response.status_code == 400
    assert "is required for Keycloak" in response.content.decode()
    row.refresh_from_db()
    assert row.secrets == {"client_secret": "env:KC_SECRET"}
    updates = AuditEntry.objects.filter(action="idp.update").order_by("seq")
    assert [e.after["write_only"]["client_secret"] for e in updates] == [
        "•••• (unchanged)",
        "•••• (changed)",
    ]


def test_a_stale_form_is_refused(admin_client):
    add_keycloak(admin_client)
    url = reverse("sso:provider_edit", args=["keycloak"])
    admin_client.post(url, {**KEYCLOAK_POST, "client_id": "first", "version": 1})
    response = admin_client.post(url, {**KEYCLOAK_POST, "client_id": "second", "version": 1})
    assert response.status_code == 400
    assert "someone changed this provider" in response.content.decode()
    assert IdentityProvider.objects.get().settings["client_id"] == "first"


@pytest.mark.parametrize(
    "changes,field,reason",
    [
        ({"authorize_url": "http://sso.example.com/auth"}, "authorize_url", "uses http://"),
        ({"access_token_url": "not a url"}, "access_token_url", "contains a space"),
        ({"base_url": ""}, "base_url", "is required for Keycloak"),
        ({"default_company": "deadbeef"}, "default_company", "not the company of a known tenant"),
        ({"groups.enabled": "maybe"}, "groups.enabled", "must be true, false or not set"),
        ({"groups.admins": "a\na"}, "groups.admins", "listed twice"),
        ({"client_secret": "env:not-a-name"}, "client_secret", "does not name a variable"),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_saved(
    admin_client, changes, field, reason
):
    response = add_keycloak(admin_client, **changes)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was saved" in html
    marker = f'name="{field}"'
    after = html[html.index(marker) :]
    errors = after[after.index('<ul class="errorlist">') : after.index("</ul>")]
    assert reason in errors
    assert not IdentityProvider.objects.exists()
    # What was typed into a text input is kept (never a secret).
    if field in ("authorize_url", "access_token_url"):
        assert f'value="{changes[field]}"' in html
    assert SECRET not in html


def test_http_is_accepted_with_the_lab_box(admin_client):
    response = add_keycloak(
        admin_client, authorize_url="http://kc.lab:8080/realms/a/auth", allow_http="on"
    )
    assert response.status_code == 302
    assert IdentityProvider.objects.get().allow_http is True


def test_the_default_company_picker_lists_console_tenants(admin_client, acme):
    Tenant.objects.create(name="Not provisioned")
    html = admin_client.get(reverse("sso:provider_add", args=["keycloak"])).content.decode()
    assert '<option value="c0ffee01">Acme Research (c0ffee01)</option>' in html
    assert "Not provisioned" not in html


def test_adding_a_configured_provider_again_opens_it(admin_client):
    add_keycloak(admin_client)
    response = add_keycloak(admin_client)
    assert response.status_code == 302
    assert response["Location"] == reverse("sso:provider_edit", args=["keycloak"])
    assert IdentityProvider.objects.count() == 1


def test_the_snippet_hides_the_secret_and_the_download_carries_it(admin_client):
    add_keycloak(admin_client)
    page = admin_client.get(reverse("sso:provider_edit", args=["keycloak"])).content.decode()
    assert "CLEARML__services__login__sso__oauth_client__keycloak__groups__admins" in page
    assert SECRET not in page
    response = admin_client.get(reverse("snippets:download", args=["idp-keycloak"]) + "?format=env")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode()
    assert f'CLEARML__secure__login__sso__oauth_client__keycloak__client_secret="{SECRET}"' in text
    export = AuditEntry.objects.get(action="idp.export")
    assert export.target_id == "keycloak" and SECRET not in str(export.after)


def test_a_download_with_an_unset_env_secret_names_the_variable(admin_client, monkeypatch):
    monkeypatch.delenv("KC_UNSET_SECRET", raising=False)
    add_keycloak(admin_client, client_secret="env:KC_UNSET_SECRET")
    response = admin_client.get(reverse("snippets:download", args=["identity-providers"]))
    assert response.status_code == 400
    assert "env:KC_UNSET_SECRET is not set" in response.content.decode()
    # The page itself still renders: the secret is a marker there.
    page = admin_client.get(reverse("sso:providers"))
    assert page.status_code == 200
    monkeypatch.setenv("KC_UNSET_SECRET", "from-the-env")
    response = admin_client.get(
        reverse("snippets:download", args=["identity-providers"]) + "?format=env"
    )
    assert 'keycloak__client_secret="from-the-env"' in response.content.decode()


def test_saml_metadata_is_checked_and_mounted_through_additional_configs(admin_client):
    url = reverse("sso:provider_add", args=["google_saml"])
    data = {
        "action": "save",
        "entity_id": "clearml",
        "idp_metadata_file": "/opt/clearml/config/default/google_saml_metadata.xml",
    }
    response = admin_client.post(url, {**data, "metadata_xml": "<notxml"})
    assert response.status_code == 400
    assert "is not well-formed XML" in response.content.decode()
    response = admin_client.post(url, {**data, "metadata_xml": "<root/>"})
    assert "not a SAML &lt;EntityDescriptor&gt;" in response.content.decode()
    xml = '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>'
    response = admin_client.post(url, {**data, "metadata_xml": xml})
    assert response.status_code == 302
    html = admin_client.get(reverse("sso:provider_edit", args=["google_saml"])).content.decode()
    assert "additionalConfigs:" in html and "google_saml_metadata.xml: |" in html


def test_ldap_attributes_are_name_equals_attribute_lines(admin_client):
    url = reverse("sso:provider_add", args=["ldap"])
    data = {
        "action": "save",
        "server": "ldaps://ldap.example.com",
        "base_dn": "dc=example,dc=com",
        "dn": "cn=svc,dc=example,dc=com",
        "password": "pw-123456",
        "attributes": "name = cn\nmail: userPrincipalName",
        "admin_users": "alice\nbob",
    }
    assert admin_client.post(url, data).status_code == 302
    row = IdentityProvider.objects.get(provider="ldap")
    assert row.settings["attributes"] == {"name": "cn", "mail": "userPrincipalName"}
    assert row.secrets == {"password": "pw-123456"}
    response = admin_client.post(
        reverse("sso:provider_edit", args=["ldap"]),
        {**data, "attributes": "just text", "version": 1},
    )
    assert response.status_code == 400
    assert "line 1: &#x27;just text&#x27; is not a mapping line; write name = attribute." in (
        response.content.decode()
    )


def test_checklist_and_delete(admin_client):
    add_keycloak(admin_client)
    admin_client.post(reverse("sso:provider_checklist", args=["keycloak"]), {"step": ["0", "3"]})
    assert IdentityProvider.objects.get().checklist == [0, 3]
    html = admin_client.get(reverse("sso:provider_edit", args=["keycloak"])).content.decode()
    assert html.count('name="step"') == len(catalog.PROVIDERS["keycloak"].steps)
    assert html.count("checked>") >= 2
    response = admin_client.post(reverse("sso:provider_delete", args=["keycloak"]))
    assert response.status_code == 302
    assert not IdentityProvider.objects.exists()
    entry = AuditEntry.objects.get(action="idp.delete")
    assert SECRET not in str(entry.before)


def test_htmx_errors_come_back_as_the_form_fragment(admin_client):
    response = admin_client.post(
        reverse("sso:provider_add", args=["keycloak"]),
        {**KEYCLOAK_POST, "base_url": "http://x"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert html.lstrip().startswith('<div id="idp-form">') and "<html" not in html
    assert "uses http://" in html and "Nothing was saved" in html
    response = add_keycloak(admin_client, HTTP_HX_REQUEST="true")
    response = admin_client.post(
        reverse("sso:provider_edit", args=["keycloak"]),
        {**KEYCLOAK_POST, "version": 1},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("sso:provider_edit", args=["keycloak"])


def test_the_list_page_query_count_does_not_grow_with_providers(
    admin_client, django_assert_max_num_queries
):
    add_keycloak(admin_client)
    admin_client.post(
        reverse("sso:provider_add", args=["google"]),
        {"action": "save", "client_id": "g", "client_secret": "gs-123456"},
    )
    with django_assert_max_num_queries(12):
        assert admin_client.get(reverse("sso:providers")).status_code == 200


def test_export_spec_sections_never_carry_a_literal_secret_and_validate_again(admin_client, acme):
    from sso.providers.spec import validate_identity_providers
    from sso.snippets import identity_providers_spec_section

    add_keycloak(admin_client, default_company=acme.company_id)
    admin_client.post(
        reverse("sso:provider_add", args=["ldap"]),
        {
            "action": "save",
            "server": "ldaps://ldap.example.com",
            "base_dn": "dc=example,dc=com",
            "dn": "cn=svc",
            "password": "env:LDAP_PW",
        },
    )
    section = identity_providers_spec_section()
    assert SECRET not in str(section)
    keycloak, ldap = section
    assert keycloak["client_secret"] == "env:KEYCLOAK_CLIENT_SECRET"
    assert keycloak["default_company"] == "tenant:Acme Research"
    assert keycloak["groups"]["admins"] == ["clearml-admins", "ops"]
    assert ldap["password"] == "env:LDAP_PW"
    entries = validate_identity_providers(section)
    assert [e.provider.key for e in entries] == ["keycloak", "ldap"]
