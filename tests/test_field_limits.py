"""One length limit per field (issue "The first hour", finding 5).

Each limit is defined once, next to its model field; the model, the validation layer and the
form's `maxlength` use that constant. A value one past the limit, posted to each form (as a
crafted POST would: maxlength stops only a browser) or written in a SPEC, is refused with a
message naming the field, the value and the limit: a 400 page, or `plan` exiting 2 with the
field path. Never a 500: a name far past its limit never reaches a LIKE query (SQLite refuses
patterns over 50,000 bytes, "LIKE or GLOB pattern too complex").
"""

import re

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils.html import escape

from console.identifiers import MAX_COMPANY_ID, MAX_DOMAIN_LENGTH, MAX_EMAIL_LENGTH
from console.security.forms import GenerateForm
from sso.models import LoginDomain, WhitelistEntry
from sso.multitenant.models import MAX_EXTERNAL_TENANT, MAX_IDP_GROUP_NAME, TenantSSOConfig
from sso.providers.models import MAX_SETTING_VALUE, IdentityProvider
from sso.providers.spec import CompanyResolver
from tenants.groups.models import MAX_DISPLAY_NAME, MAX_GROUP_NAME, CrossTenantGroup
from tenants.models import MAX_ADMIN_NAME, MAX_TENANT_NAME, Tenant, TenantAdmin
from tenants.validation import name_taken_by

pytestmark = pytest.mark.django_db

HUGE = 60_000  # past SQLite's LIKE pattern limit (50,000 bytes)


def email_of_length(n: int) -> str:
    """A valid-looking address of exactly n characters (labels of at most 63)."""
    domain = ".".join(["d" * 60] * 3) + ".io"  # 186 characters
    return "a" * (n - len(domain) - 1) + "@" + domain


def domain_of_length(n: int) -> str:
    labels, left = [], n - 3  # ".io"
    while left > 0:
        size = min(63, left if left <= 63 else 62)
        labels.append("d" * size)
        left -= size + 1
    domain = ".".join(labels) + ".io"
    return domain[len(domain) - n :] if len(domain) > n else domain


# --- one definition per limit ----------------------------------------------------------------


@pytest.mark.parametrize(
    "model,field,limit",
    [
        (Tenant, "name", MAX_TENANT_NAME),
        (Tenant, "company_id", MAX_COMPANY_ID),
        (TenantAdmin, "name", MAX_ADMIN_NAME),
        (TenantAdmin, "email", MAX_EMAIL_LENGTH),
        (LoginDomain, "domain", MAX_DOMAIN_LENGTH),
        (WhitelistEntry, "email", MAX_EMAIL_LENGTH),
        (CrossTenantGroup, "name", MAX_GROUP_NAME),
        (CrossTenantGroup, "display_name", MAX_DISPLAY_NAME),
        (TenantSSOConfig, "external_tenant", MAX_EXTERNAL_TENANT),
    ],
)
def test_the_model_field_uses_the_limit(model, field, limit):
    assert model._meta.get_field(field).max_length == limit


def test_the_forms_maxlength_is_the_limit(admin_client):
    def maxlength(html: str, input_id: str) -> int:
        tag = re.search(rf'<input[^>]*id="{re.escape(input_id)}"[^>]*>', html).group()
        return int(re.search(r'maxlength="(\d+)"', tag).group(1))

    create = admin_client.get(reverse("tenants:create")).content.decode()
    assert maxlength(create, "id_name") == MAX_TENANT_NAME
    assert maxlength(create, "id_admin-0-name") == MAX_ADMIN_NAME
    assert maxlength(create, "id_admin-0-email") == MAX_EMAIL_LENGTH
    assert 'id="id_name"' in create and "data-counter" in create
    group = admin_client.get(reverse("tenants:group_create")).content.decode()
    assert maxlength(group, "id_name") == MAX_GROUP_NAME
    assert maxlength(group, "id_display_name") == MAX_DISPLAY_NAME
    idp = admin_client.get(reverse("sso:provider_add", args=["keycloak"])).content.decode()
    assert maxlength(idp, "f-client-id") == MAX_SETTING_VALUE
    assert maxlength(idp, "f-base-url") == MAX_SETTING_VALUE
    assert GenerateForm().fields["supervisor_email"].max_length == MAX_EMAIL_LENGTH


# --- forms: one past the limit ---------------------------------------------------------------

TENANT_POST = {
    "name": "Acme Research",
    "allowed_users": "",
    "admin_rows": "1",
    "admin-0-name": "Alice Admin",
    "admin-0-email": "alice@acme.io",
    "admin-0-internal": "on",
    "domains": "acme.io",
    "whitelist_admins": "",
    "whitelist_users": "",
}


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("name", "n" * (MAX_TENANT_NAME + 1), "The tenant name"),
        ("admin-0-name", "a" * (MAX_ADMIN_NAME + 1), "The admin&#x27;s name"),
        ("admin-0-email", email_of_length(MAX_EMAIL_LENGTH + 1), "The email address"),
        ("domains", domain_of_length(MAX_DOMAIN_LENGTH + 1), "The domain"),
        ("whitelist_users", email_of_length(MAX_EMAIL_LENGTH + 1), "The email address"),
        ("name", "n" * HUGE, "The tenant name"),
    ],
)
def test_the_tenant_form_refuses_a_value_past_its_limit(admin_client, field, value, message):
    response = admin_client.post(reverse("tenants:create"), {**TENANT_POST, field: value})
    assert response.status_code == 400
    html = response.content.decode()
    limit = {
        "name": MAX_TENANT_NAME,
        "admin-0-name": MAX_ADMIN_NAME,
        "admin-0-email": MAX_EMAIL_LENGTH,
        "domains": MAX_DOMAIN_LENGTH,
        "whitelist_users": MAX_EMAIL_LENGTH,
    }[field]
    assert message in html
    assert f"{len(value):,} characters long" in html and f"at most {limit}" in html
    assert 'class="alert alert-error error-summary"' in html  # the summary at the top
    assert not Tenant.objects.exists()


def test_the_error_summary_links_each_message_to_its_field(admin_client):
    response = admin_client.post(
        reverse("tenants:create"),
        {**TENANT_POST, "name": "", "admin-0-email": "bob@", "domains": "not a domain"},
    )
    html = response.content.decode()
    summary = html[html.index('class="alert alert-error error-summary"') :]
    summary = summary[: summary.index("</div>")]
    assert 'role="alert"' in html and 'tabindex="-1"' in summary
    assert "<h2" in summary
    for target in ("id_name", "id_admin-0-email", "id_domains"):
        assert f'<a href="#{target}">' in summary
        assert f'id="{target}"' in html
    assert "Admin 1: The email address &#x27;bob@&#x27; has nothing after the @" in summary


@pytest.mark.parametrize(
    "field,value,what,limit",
    [
        ("name", "g" * (MAX_GROUP_NAME + 1), "The group name", MAX_GROUP_NAME),
        ("display_name", "D" * (MAX_DISPLAY_NAME + 1), "The display name", MAX_DISPLAY_NAME),
    ],
)
def test_the_group_form_refuses_a_value_past_its_limit(admin_client, field, value, what, limit):
    post = {"name": "data_scientists", "display_name": "", "id": "", field: value}
    response = admin_client.post(reverse("tenants:group_create"), post)
    assert response.status_code == 400
    html = response.content.decode()
    assert f"{what} " in html and f"{len(value):,} characters long" in html
    assert f"at most {limit}" in html and f'<a href="#id_{field}">' in html
    assert not CrossTenantGroup.objects.exists()


KEYCLOAK_POST = {
    "action": "save",
    "base_url": "https://sso.example.com/realms/acme/",
    "authorize_url": "https://sso.example.com/realms/acme/protocol/openid-connect/auth",
    "access_token_url": "https://sso.example.com/realms/acme/protocol/openid-connect/token",
    "client_id": "clearml",
    "client_secret": "s3cret-value",
}


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("client_id", "c" * (MAX_SETTING_VALUE + 1), "Client ID"),
        ("groups.claim", "c" * (MAX_SETTING_VALUE + 1), "Groups claim"),
        (
            "base_url",
            "https://sso.example.com/" + "p" * MAX_SETTING_VALUE,
            "Base URL",
        ),
        ("client_secret", "s" * (MAX_SETTING_VALUE + 1), "Client secret"),
    ],
)
def test_the_provider_form_refuses_a_value_past_its_limit(admin_client, field, value, message):
    url = reverse("sso:provider_add", args=["keycloak"])
    response = admin_client.post(url, {**KEYCLOAK_POST, field: value})
    assert response.status_code == 400
    html = response.content.decode()
    assert f"{message} " in html and f"{len(value):,} characters long" in html
    assert f"at most {MAX_SETTING_VALUE:,}" in html
    if field == "client_secret":
        assert value not in html  # a secret is never repeated
    assert not IdentityProvider.objects.exists()


@pytest.mark.parametrize("value", ["tenant:" + "a" * HUGE, "tenant:" + "a" * (MAX_TENANT_NAME + 1)])
def test_a_crafted_default_company_is_refused_not_a_500(admin_client, value):
    """The select offers only tenants; a crafted POST can send anything."""
    Tenant.objects.create(name="Acme Research", company_id="c0ffee")
    url = reverse("sso:provider_add", args=["keycloak"])
    response = admin_client.post(url, {**KEYCLOAK_POST, "default_company": value})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Default company names the tenant" in html
    assert f"at most {MAX_TENANT_NAME}" in html
    summary = html[html.index("error-summary-list") :]
    assert "a" * 100 not in summary[: summary.index("</ul>")]  # the message cuts the value
    assert not IdentityProvider.objects.exists()


def test_the_tenant_sso_form_refuses_values_past_their_limits(admin_client):
    tenant = Tenant.objects.create(name="Acme Research", company_id="c0ffee")
    url = reverse("sso:tenant_sso", args=[tenant.pk])
    long_group = "g" * (MAX_IDP_GROUP_NAME + 1)
    response = admin_client.post(
        url,
        {
            "action": "save",
            "tenant": "t" * (MAX_EXTERNAL_TENANT + 1),
            "group_mapping": f"{long_group} = Researchers",
            "admin_groups": long_group,
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "The external tenant id" in html and f"at most {MAX_EXTERNAL_TENANT}" in html
    assert "The IdP group name" in html and f"at most {MAX_IDP_GROUP_NAME}" in html
    assert not TenantSSOConfig.objects.exists()


def test_the_security_form_refuses_values_past_their_limits(admin_client):
    response = admin_client.post(
        reverse("security_generate"),
        {
            "supervisor": "on",
            "supervisor_email": email_of_length(MAX_EMAIL_LENGTH + 1),
            "supervisor_company": "c" * (MAX_COMPANY_ID + 1),
            "secret_name": "s" * 254,
            "chart_secret_name": "clearml-conf",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert f"The supervisor email is {MAX_EMAIL_LENGTH + 1} characters long" in html
    assert f"The supervisor company id is {MAX_COMPANY_ID + 1} characters long" in html
    assert "The extraEnvs Secret&#x27;s name is 254 characters long" in html


def test_the_delete_confirmation_and_the_lists_take_a_huge_value(admin_client):
    tenant = Tenant.objects.create(name="Acme Research", company_id="c0ffee", status="active")
    huge = "x" * HUGE
    response = admin_client.post(
        reverse("tenants:delete", args=[tenant.pk]), {"step": "confirm", "confirm_name": huge}
    )
    assert response.status_code == 400
    for name, params in (
        ("tenants:list", {"q": huge}),
        ("changes:list", {"q": huge, "requested_by": huge}),
        ("audit:list", {"target": huge, "q": huge}),
        ("sso:routing_map", {"q": huge}),
        ("sso:simulator", {"email": huge}),
    ):
        assert admin_client.get(reverse(name), params).status_code in (200, 400), name


def test_a_huge_name_never_reaches_a_like_query():
    Tenant.objects.create(name="Acme Research", company_id="c0ffee")
    assert name_taken_by("a" * HUGE, None) is None
    with pytest.raises(Exception) as info:
        CompanyResolver().check("tenant:" + "a" * HUGE, "default_company")
    assert type(info.value).__name__ == "InvalidInput"
    assert CompanyResolver().company_id("tenant:" + "a" * HUGE, "x") is None


# --- SPECs: plan exits 2 naming the field path -------------------------------------------------


def _plan(tmp_path, spec: dict) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, width=10**6), encoding="utf-8")
    with pytest.raises(CommandError) as info:
        call_command("plan", str(path))
    assert info.value.returncode == 2
    return str(info.value)


def _tenant(**overrides) -> dict:
    tenant = {"name": "Acme Research", "admins": [{"name": "Alice", "email": "alice@acme.io"}]}
    tenant.update(overrides)
    return tenant


SAML = {
    "provider": "google_saml",
    "entity_id": "https://app.clearml.example.com",
    "idp_metadata_file": "/mnt/idp/metadata.xml",
}


@pytest.mark.parametrize(
    "spec,path,limit",
    [
        (
            {"tenants": [_tenant(name="n" * (MAX_TENANT_NAME + 1))]},
            "tenants[0].name",
            MAX_TENANT_NAME,
        ),
        (
            {"tenants": [_tenant(admins=[{"name": "a" * 201, "email": "a@acme.io"}])]},
            "tenants[0].admins[0].name",
            MAX_ADMIN_NAME,
        ),
        (
            {"tenants": [_tenant(admins=[{"name": "A", "email": email_of_length(255)}])]},
            "tenants[0].admins[0].email",
            MAX_EMAIL_LENGTH,
        ),
        (
            {"tenants": [_tenant(login={"domains": [domain_of_length(254)]})]},
            "tenants[0].login.domains[0]",
            MAX_DOMAIN_LENGTH,
        ),
        (
            {"tenants": [_tenant(login={"whitelist": {"users": [email_of_length(255)]}})]},
            "tenants[0].login.whitelist.users[0]",
            MAX_EMAIL_LENGTH,
        ),
        (
            {"tenants": [_tenant(sso={"tenant": "t" * (MAX_EXTERNAL_TENANT + 1)})]},
            "tenants[0].sso.tenant",
            MAX_EXTERNAL_TENANT,
        ),
        (
            {"tenants": [_tenant(sso={"tenant": "acme", "admin_groups": ["g" * 201]})]},
            "tenants[0].sso.admin_groups[0]",
            MAX_IDP_GROUP_NAME,
        ),
        (
            {"groups": [{"name": "g" * (MAX_GROUP_NAME + 1)}]},
            "groups[0].name",
            MAX_GROUP_NAME,
        ),
        (
            {"groups": [{"name": "ops", "display_name": "D" * (MAX_DISPLAY_NAME + 1)}]},
            "groups[0].display_name",
            MAX_DISPLAY_NAME,
        ),
        (
            {"identity_providers": [{**SAML, "entity_id": "https://x.io/" + "p" * 4096}]},
            "identity_providers[0].entity_id",
            MAX_SETTING_VALUE,
        ),
        (
            {"identity_providers": [{**SAML, "default_company": "tenant:" + "a" * HUGE}]},
            "identity_providers[0].default_company",
            MAX_TENANT_NAME,
        ),
    ],
)
def test_a_spec_value_past_its_limit_exits_2_naming_the_field(tmp_path, spec, path, limit):
    Tenant.objects.create(name="Globex", company_id="c0ffee")  # so a LIKE would scan a row
    shown = _plan(tmp_path, {"version": 1, **spec})
    assert f"{path}: " in shown
    assert f"at most {limit:,}" in shown
    assert len(shown) < 2_000  # the value is cut, not printed whole


def test_every_message_of_a_bad_tenant_names_the_field_and_what_to_do(tmp_path):
    shown = _plan(
        tmp_path,
        {
            "version": 1,
            "tenants": [
                {"name": "", "allowed_users": 0, "admins": [{"email": "x"}], "color": "red"}
            ],
        },
    )
    lines = dict(
        line.split("spec.yaml: ", 1)[1].split(": ", 1)
        for line in shown.splitlines()
        if "spec.yaml: " in line
    )
    assert lines["tenants[0].name"].startswith("The tenant name is required")
    assert lines["tenants[0].allowed_users"].startswith("Allowed users must be at least 1")
    assert lines["tenants[0].admins[0].name"].startswith("The admin's name is required")
    assert lines["tenants[0].color"].startswith("'color' is an unknown key for a tenant")
    for message in lines.values():
        assert message.endswith((".", "?")), message


def test_escape_is_used_for_values_in_pages(admin_client):
    response = admin_client.post(
        reverse("tenants:create"), {**TENANT_POST, "name": "<b>x</b>" + "y" * MAX_TENANT_NAME}
    )
    assert escape("<b>x</b>") in response.content.decode()
    assert "<b>x</b>" not in response.content.decode()


def test_a_message_quotes_a_value_on_one_line(tmp_path):
    """A value with a line break or another control character is written with escapes: each
    message stays one line (plan's output goes to a terminal)."""
    from console.validation import shown

    assert shown("a:\n b") == "'a:\\n b'" and shown("ok") == "'ok'"
    assert shown("x" * 100).endswith("… (100 characters)")
    shown_lines = _plan(
        tmp_path,
        {
            "version": 1,
            "groups": ["a:\n a:\n a:"],
            "identity_providers": ["x\ny"],
            "tenants": [{"name": "Bad\u0007name", "admins": [{"name": "A", "email": "a@x.io"}]}],
        },
    ).splitlines()
    assert all("spec.yaml: " in line for line in shown_lines), shown_lines
    assert any("A group must be a mapping" in line for line in shown_lines)
