"""Multi-tenant login mode end to end against the real sandbox apiserver over HTTP."""

import pytest
from django.urls import reverse

from console.apiserver import ApiClient
from console.audit.models import AuditEntry
from console.validation import InvalidInput
from sandbox.state import fingerprint
from sso.multitenant.models import MultiTenantLogin, TenantSSOConfig
from sso.multitenant.services import SecretPlannedCall, tenant_sso_calls, tenant_sso_record_pushed
from sso.multitenant.spec import tenant_sso_validate
from tenants.models import Tenant, TenantAdmin

pytestmark = pytest.mark.django_db

SECRET = "acme-Client-Secret#7"
TENANT_POST = {
    "action": "save_push",
    "tenant": "acme-ext",
    "group_mapping": "IdP Researchers = Researchers\nIdP Ops = Ops",
    "admin_groups": "IdP Admins",
    "has_provider": "on",
    "provider": "keycloak",
    "configuration.display_name": "Acme SSO",
    "configuration.client_id": "acme-clearml",
    "configuration.client_secret": SECRET,
    "configuration.authorization_endpoint": "https://kc.example/realms/acme/protocol/openid-connect/auth",
    "configuration.token_endpoint": "https://kc.example/realms/acme/protocol/openid-connect/token",
    "configuration.end_session_endpoint": "https://kc.example/realms/acme/protocol/openid-connect/logout",
    "configuration.logout_from_provider": "true",
    "configuration.claim_tenant": "tenant_key",
    "configuration.claim_name": "name",
    "configuration.group_enabled": "true",
    "configuration.claim_groups": "ad_groups_trusted",
    "configuration.group_prohibit_user_login_if_not_in_group": "true",
}


@pytest.fixture
def acme(sandbox, sandbox_settings):
    """A tenant made the way provisioning makes one: company and admin through the apiserver."""
    client = ApiClient(url=sandbox.url, key=sandbox.key, secret=sandbox.secret)
    company = client.call("system.create_company", {"name": "Acme Research"})["id"]
    user = client.call(
        "auth.create_user",
        {"name": "Alice Admin", "company": company, "email": "alice@acme.io", "role": "admin"},
    )["id"]
    tenant = Tenant.objects.create(
        name="Acme Research", company_id=company, status=Tenant.Status.ACTIVE
    )
    TenantAdmin.objects.create(
        tenant=tenant, name="Alice Admin", email="alice@acme.io", user_id=user
    )
    return tenant


def tenant_url(tenant):
    return reverse("sso:tenant_sso", args=[tenant.pk])


def test_multi_tenant_login_end_to_end(admin_client, sandbox, acme, settings):
    settings.CLEARML_WEBAPP_URL = "https://app.clearml.example"
    # 1. The server switches, and their snippet for the apiserver and the webserver.
    response = admin_client.post(
        reverse("sso:multitenant"), {"enabled": "on", "only_password_login": "on"}
    )
    assert response.status_code == 302
    row = MultiTenantLogin.objects.get()
    assert (row.enabled, row.allow_settings_providers, row.only_password_login) == (
        True, False, True
    )  # fmt: skip
    html = admin_client.get(reverse("sso:multitenant")).content.decode()
    assert "CLEARML__services__login__sso__tenant_login" in html
    assert "CLEARML__services__login__sso__allow_settings_providers" in html
    assert "WEBSERVER__onlyPasswordLogin" in html and "webserver:" in html

    # 2. The tenant's configuration, saved and pushed from the browser.
    response = admin_client.post(tenant_url(acme), TENANT_POST)
    assert response.status_code == 302
    assert sandbox.sso_config(acme.company_id) == {
        "tenant": "acme-ext",
        "group_mapping": {"IdP Researchers": "Researchers", "IdP Ops": "Ops"},
        "admin_groups": ["IdP Admins"],
    }
    [provider] = sandbox.providers(acme.company_id)
    assert provider["provider"] == "keycloak"
    conf = provider["configuration"]
    assert conf["id"] == acme.company_id  # the page suggests the company id
    assert conf["client_secret"] == fingerprint(SECRET)  # the real secret was sent
    assert conf["claim_tenant"] == "tenant_key" and conf["group_enabled"] is True
    assert conf["logout_from_provider"] is True
    assert conf["authorization_endpoint"].endswith("/openid-connect/auth")
    assert sandbox.calls[-2:] == [
        "system.update_company_sso_config",
        "sso.save_provider_configuration",
    ]
    config = TenantSSOConfig.objects.get(tenant=acme)
    assert config.push_status == TenantSSOConfig.PushStatus.OK and config.pushed_at

    # 3. The login link and the IdP-side URIs; the secret is nowhere on the pages or in the log.
    page = admin_client.get(tenant_url(acme)).content.decode()
    assert "https://app.clearml.example/login/acme-ext" in page
    assert "https://app.clearml.example/callback_acme-clearml" in page
    overview = admin_client.get(reverse("sso:multitenant")).content.decode()
    assert "https://app.clearml.example/login/acme-ext" in overview and "Pushed" in overview
    assert SECRET not in page + overview
    entries = AuditEntry.objects.filter(action__startswith="sso.tenant_config").order_by("seq")
    assert [(e.action, e.outcome) for e in entries] == [
        ("sso.tenant_config.update", "success"),
        ("sso.tenant_config.push", "pending"),
        ("sso.tenant_config.push", "success"),
    ]
    assert entries[2].outcome_of == entries[1].seq  # the outcome names its pending entry
    assert [c["endpoint"] for c in entries[2].calls] == [
        "system.update_company_sso_config",
        "sso.save_provider_configuration",
    ]
    for e in AuditEntry.objects.all():
        assert SECRET not in str(e.before) + str(e.after) + str(e.calls) + e.error


def test_a_failed_push_is_shown_and_pushing_again_finishes(admin_client, sandbox, acme):
    sandbox.fail_next("sso.save_provider_configuration", status=500)
    response = admin_client.post(tenant_url(acme), TENANT_POST, follow=True)
    html = response.content.decode()
    assert "The push failed: sso.save_provider_configuration: server error" in html
    config = TenantSSOConfig.objects.get(tenant=acme)
    assert config.push_status == TenantSSOConfig.PushStatus.FAILED
    assert sandbox.sso_config(acme.company_id)["tenant"] == "acme-ext"
    assert sandbox.providers(acme.company_id) == []
    assert AuditEntry.objects.filter(action="sso.tenant_config.push", outcome="failure").exists()
    response = admin_client.post(reverse("sso:tenant_sso_push", args=[acme.pk]), follow=True)
    assert "Pushed 2 call(s)" in response.content.decode()
    assert len(sandbox.providers(acme.company_id)) == 1
    config.refresh_from_db()
    assert config.push_status == TenantSSOConfig.PushStatus.OK and config.push_error == ""


def test_an_env_secret_is_read_when_pushing(admin_client, sandbox, acme, monkeypatch):
    monkeypatch.delenv("ACME_IDP_SECRET", raising=False)
    data = {**TENANT_POST, "configuration.client_secret": "env:ACME_IDP_SECRET"}
    response = admin_client.post(tenant_url(acme), data, follow=True)
    assert "Not pushed: configuration.client_secret: env:ACME_IDP_SECRET is not set" in (
        response.content.decode()
    )
    assert "sso.save_provider_configuration" not in sandbox.calls
    monkeypatch.setenv("ACME_IDP_SECRET", "from-env-secret")
    admin_client.post(reverse("sso:tenant_sso_push", args=[acme.pk]))
    [provider] = sandbox.providers(acme.company_id)
    assert provider["configuration"]["client_secret"] == fingerprint("from-env-secret")


def test_tenant_settings_without_a_provider_send_one_call(admin_client, sandbox, acme):
    data = {k: v for k, v in TENANT_POST.items() if not k.startswith("configuration.")}
    data.pop("has_provider")
    assert admin_client.post(tenant_url(acme), data).status_code == 302
    assert "sso.save_provider_configuration" not in sandbox.calls
    assert sandbox.sso_config(acme.company_id)["admin_groups"] == ["IdP Admins"]


def test_the_secret_is_write_only_on_the_tenant_form(admin_client, sandbox, acme):
    admin_client.post(tenant_url(acme), {**TENANT_POST, "action": "save"})
    config = TenantSSOConfig.objects.get(tenant=acme)
    assert config.client_secret == SECRET and config.push_status == "pending"
    html = admin_client.get(tenant_url(acme)).content.decode()
    assert SECRET not in html and "Set</span>" in html
    # Saving again with an empty secret keeps it; with nothing else changed, nothing is saved
    # (no new version, no audit entry).
    data = {**TENANT_POST, "action": "save", "configuration.client_secret": "", "version": 1}
    assert admin_client.post(tenant_url(acme), data).status_code == 302
    config.refresh_from_db()
    assert config.client_secret == SECRET and config.version == 1
    assert AuditEntry.objects.filter(action="sso.tenant_config.update").count() == 1
    data["admin_groups"] = "IdP Admins\nIdP Owners"
    assert admin_client.post(tenant_url(acme), data).status_code == 302
    config.refresh_from_db()
    assert config.client_secret == SECRET and config.version == 2


def test_a_stale_tenant_form_says_someone_else_saved_and_keeps_the_input(
    admin_client, sandbox, acme
):
    admin_client.post(tenant_url(acme), {**TENANT_POST, "action": "save"})  # version 1
    renamed = {**TENANT_POST, "action": "save", "version": 1, "tenant": "acme-ext-2"}
    admin_client.post(tenant_url(acme), renamed)  # version 2
    stale = {**TENANT_POST, "action": "save", "version": 1, "admin_groups": "IdP Owners"}
    response = admin_client.post(tenant_url(acme), stale)
    html = response.content.decode()
    assert response.status_code == 400
    assert "someone changed this tenant&#x27;s SSO configuration" in html
    assert "IdP Owners" in html
    assert TenantSSOConfig.objects.get(tenant=acme).admin_groups == ["IdP Admins"]


@pytest.mark.parametrize(
    "changes,field,reason",
    [
        (
            {"tenant": "acme ext"},
            "tenant",
            "The external tenant id &#x27;acme ext&#x27; cannot be used",
        ),
        ({"group_mapping": "no equals sign"}, "group_mapping", "write IdP group = ClearML group"),
        (
            {"configuration.token_endpoint": "http://kc/t"},
            "configuration.token_endpoint",
            "uses http://",
        ),
        ({"configuration.client_secret": ""}, "configuration.client_secret", "is required"),
    ],
)
def test_bad_tenant_input_is_shown_next_to_its_field(admin_client, acme, changes, field, reason):
    response = admin_client.post(tenant_url(acme), {**TENANT_POST, **changes})
    assert response.status_code == 400
    html = response.content.decode()
    after = html[html.index(f'name="{field}"') :]
    assert reason in after[after.index('<ul class="errorlist">') : after.index("</ul>")]
    assert not TenantSSOConfig.objects.exists()


def test_an_external_tenant_cannot_serve_two_tenants(admin_client, sandbox, acme):
    other = Tenant.objects.create(name="Beta", company_id=sandbox.seed_company("Beta"))
    admin_client.post(tenant_url(acme), {**TENANT_POST, "action": "save"})
    response = admin_client.post(tenant_url(other), {**TENANT_POST, "tenant": "ACME-EXT"})
    assert response.status_code == 400
    assert "already associated with tenant &#x27;Acme Research&#x27;" in response.content.decode()


def test_planned_calls_hide_the_secret_and_send_it(sandbox, acme):
    sso = {
        "tenant": "acme-ext",
        "admin_groups": ["IdP Admins"],
        "configuration": {
            "client_id": "acme",
            "client_secret": "env:PLAN_SECRET",
            "authorization_endpoint": "https://kc.example/auth",
            "token_endpoint": "https://kc.example/token",
        },
    }
    with pytest.raises(InvalidInput) as info:
        tenant_sso_calls(tenant=acme, sso=sso, environ={}, path="tenants[0].sso")
    assert info.value.errors[0].path == "tenants[0].sso.configuration.client_secret"
    calls = tenant_sso_calls(tenant=acme, sso=sso, environ={"PLAN_SECRET": "plan-secret-1"})
    assert [c.endpoint for c in calls] == [
        "system.update_company_sso_config",
        "sso.save_provider_configuration",
    ]
    assert calls[0].body == {
        "company": acme.company_id,
        "sso": {"tenant": "acme-ext", "group_mapping": {}, "admin_groups": ["IdP Admins"]},
    }
    save = calls[1]
    assert isinstance(save, SecretPlannedCall)
    assert "plan-secret-1" not in save.curl() + str(save.as_dict()) + repr(save)
    client = ApiClient(url=sandbox.url, key=sandbox.key, secret=sandbox.secret)
    for call in calls:
        call.execute(client)
    sent = [r for r in sandbox.requests if r["endpoint"] == "sso.save_provider_configuration"]
    assert sent[-1]["body"]["configuration"]["client_secret"] == "plan-secret-1"
    assert sent[-1]["body"]["provider"] == "keycloak"


def test_apply_sends_nothing_the_second_time(sandbox, acme):
    sso = {"tenant": "acme-ext", "group_mapping": {"A": "B"}}
    calls = tenant_sso_calls(tenant=acme, sso=sso)
    client = ApiClient(url=sandbox.url, key=sandbox.key, secret=sandbox.secret)
    for call in calls:
        call.execute(client)
    tenant_sso_record_pushed(actor="cli:test", tenant=acme, sso=sso, calls=calls)
    assert tenant_sso_calls(tenant=acme, sso=sso) == []
    changed = tenant_sso_calls(tenant=acme, sso={**sso, "admin_groups": ["X"]})
    assert [c.endpoint for c in changed] == ["system.update_company_sso_config"]


def test_a_tenant_without_a_company_cannot_be_pushed(admin_client, sandbox_settings):
    tenant = Tenant.objects.create(name="Planned")
    response = admin_client.post(tenant_url(tenant), TENANT_POST, follow=True)
    html = response.content.decode()
    assert "has no ClearML company yet" in html
    assert TenantSSOConfig.objects.get(tenant=tenant).push_status == "pending"
    calls = tenant_sso_calls(tenant=tenant, sso={"tenant": "x"}, resolve=False)
    assert calls[0].body["company"] == "<company id of tenant Planned>"


def test_forgetting_a_configuration_keeps_the_server_side(admin_client, sandbox, acme):
    admin_client.post(tenant_url(acme), TENANT_POST)
    response = admin_client.post(reverse("sso:tenant_sso_delete", args=[acme.pk]), follow=True)
    assert "The apiserver keeps what was pushed" in response.content.decode()
    assert not TenantSSOConfig.objects.exists()
    assert sandbox.sso_config(acme.company_id)["tenant"] == "acme-ext"


def test_the_tenant_sso_spec_section_hides_the_literal_secret(admin_client, acme):
    from sso.snippets import tenant_sso_spec_section

    admin_client.post(tenant_url(acme), {**TENANT_POST, "action": "save"})
    section = tenant_sso_spec_section(acme)
    assert SECRET not in str(section)
    assert section["configuration"]["client_secret"] == "env:SSO_ACME_EXT_SECRET"
    assert section["group_mapping"] == {"IdP Researchers": "Researchers", "IdP Ops": "Ops"}
    assert tenant_sso_validate(section, "tenants[0].sso").tenant == "acme-ext"
