"""The SPEC's `identity_providers` and `multi_tenant_login` sections: what is accepted and why
the rest is refused (each error names its field path and the reason)."""

import textwrap

import pytest

from console.spec import parse_spec_text
from console.validation import InvalidInput
from sso.multitenant.spec import (
    check_external_tenants_unique,
    tenant_sso_validate,
    validate_multi_tenant_login,
)
from sso.providers.spec import validate_identity_providers
from tenants.models import Tenant

CONTRACT_EXAMPLE = textwrap.dedent(
    """
    version: 1
    tenants:
      - name: Acme Research
    identity_providers:
      - provider: keycloak               # see the provider pages in reference/clearml-docs/
        base_url: https://sso.example.com/realms/acme
        authorize_url: https://sso.example.com/realms/acme/protocol/openid-connect/auth
        access_token_url: https://sso.example.com/realms/acme/protocol/openid-connect/token
        client_id: clearml
        client_secret: env:KEYCLOAK_CLIENT_SECRET   # a literal, or env:NAME read when exporting
        default_company: tenant:Acme Research       # a company id, or tenant:<name>
        groups: {enabled: true, claim: groups, admins: [clearml-admins],
                 prohibit_user_signup_if_not_in_group: true}
        claims: {name: preferred_username}
        admin_role: admin
        idp_logout: true
        get_info_from_access_token: false
    """
)

KEYCLOAK = {
    "provider": "keycloak",
    "base_url": "https://sso.example.com/realms/acme/",
    "authorize_url": "https://sso.example.com/realms/acme/protocol/openid-connect/auth",
    "access_token_url": "https://sso.example.com/realms/acme/protocol/openid-connect/token",
    "client_id": "clearml",
    "client_secret": "s3cret",
}


def errors_of(items, tenants=()):
    with pytest.raises(InvalidInput) as info:
        validate_identity_providers(items, spec_tenant_names=tenants)
    return {e.path: e.message for e in info.value.errors}


@pytest.mark.django_db
def test_the_contract_example_validates():
    spec = parse_spec_text(CONTRACT_EXAMPLE)
    [entry] = validate_identity_providers(
        spec["identity_providers"], spec_tenant_names=["Acme Research"]
    )
    assert entry.provider.key == "keycloak"
    assert entry.values["groups.admins"] == ["clearml-admins"]
    assert entry.values["client_secret"] == "env:KEYCLOAK_CLIENT_SECRET"
    assert entry.values["default_company"] == "tenant:Acme Research"
    assert entry.values["get_info_from_access_token"] is False
    assert entry.as_spec()["groups"]["enabled"] is True


@pytest.mark.django_db
def test_default_company_may_name_a_tenant_of_the_console_ignoring_case():
    Tenant.objects.create(name="Beta Labs", company_id="c0ffee")
    [entry] = validate_identity_providers([{**KEYCLOAK, "default_company": "tenant:beta labs"}])
    assert entry.values["default_company"] == "tenant:beta labs"


@pytest.mark.django_db
def test_a_company_id_is_accepted_as_is():
    [entry] = validate_identity_providers([{**KEYCLOAK, "default_company": "d1bd92a3b039400c"}])
    assert entry.values["default_company"] == "d1bd92a3b039400c"


@pytest.mark.django_db
def test_keycloak_admin_role_may_be_empty_to_disable_it():
    [entry] = validate_identity_providers([{**KEYCLOAK, "admin_role": ""}])
    assert entry.values["admin_role"] == ""
    [entry] = validate_identity_providers([{**KEYCLOAK, "admin_role": None}])
    assert entry.values["admin_role"] == ""


@pytest.mark.django_db
def test_http_endpoints_are_accepted_only_with_allow_http():
    lab = {**KEYCLOAK, "authorize_url": "http://kc.lab:8080/realms/a/auth", "allow_http": True}
    [entry] = validate_identity_providers([lab])
    assert entry.allow_http and "allow_http" not in entry.values


@pytest.mark.django_db
def test_ldap_with_plain_ldap_needs_tls():
    ldap = {
        "provider": "ldap",
        "server": "ldap://ipa.example.org",
        "base_dn": "dc=example,dc=org",
        "dn": "uid=admin,cn=users,dc=example,dc=org",
        "password": "env:LDAP_PASSWORD",
    }
    with pytest.raises(InvalidInput) as info:
        validate_identity_providers([ldap])
    assert info.value.errors[0].path == "identity_providers[0].server"
    assert "use_tls" in info.value.errors[0].message
    [entry] = validate_identity_providers([{**ldap, "use_tls": True}])
    assert entry.values["server"] == "ldap://ipa.example.org"
    validate_identity_providers([{**ldap, "server": "ldaps://ipa.example.org:636"}])
    validate_identity_providers([{**ldap, "server": "ipa.demo1.freeipa.org"}])


@pytest.mark.django_db
def test_ldap_attributes_take_custom_names_lower_cased():
    ldap = {
        "provider": "ldap",
        "server": "ldaps://ipa.example.org",
        "base_dn": "dc=example,dc=org",
        "dn": "uid=admin",
        "password": "pw",
        "attributes": {"name": "cn", "Department": "departmentNumber"},
    }
    [entry] = validate_identity_providers([ldap])
    assert entry.values["attributes"] == {"name": "cn", "department": "departmentNumber"}


BAD = [
    pytest.param(
        [{**KEYCLOAK, "base_urll": "https://x.example"}],
        "identity_providers[0].base_urll",
        "is an unknown key: no variable the Keycloak page names",
        id="typo-key",
    ),
    pytest.param(
        [{**KEYCLOAK, "groups__enabled": True}],
        "identity_providers[0].groups__enabled",
        "write each __ as a nested mapping",
        id="double-underscore-key",
    ),
    pytest.param(
        [{**KEYCLOAK, "groups": {"enabled": True, "claimenv": "groups"}}],
        "identity_providers[0].groups.claimenv",
        "the known keys here are admins, claim, enabled",
        id="nested-typo",
    ),
    pytest.param(
        [{**KEYCLOAK, "BASE_URL": "https://x.example"}],
        "identity_providers[0].BASE_URL",
        "keys are lower case: base_url",
        id="upper-case-key",
    ),
    pytest.param(
        [{**KEYCLOAK, "groups": True}],
        "identity_providers[0].groups",
        "must be a mapping",
        id="container-not-mapping",
    ),
    pytest.param(
        [{**KEYCLOAK, "audience": "x"}],
        "identity_providers[0].audience",
        "no variable the Keycloak page names",
        id="other-providers-key",
    ),
    pytest.param(
        [{**KEYCLOAK, "authorize_url": "http://sso.example.com/auth"}],
        "identity_providers[0].authorize_url",
        "uses http://",
        id="http-endpoint",
    ),
    pytest.param(
        [{**KEYCLOAK, "access_token_url": "sso.example.com/token"}],
        "identity_providers[0].access_token_url",
        "is not an absolute URL",
        id="url-without-scheme",
    ),
    pytest.param(
        [{**KEYCLOAK, "base_url": "https://sso.example.com:99999/"}],
        "identity_providers[0].base_url",
        "is not a valid URL",
        id="url-bad-port",
    ),
    pytest.param(
        [{**KEYCLOAK, "base_url": "https://sso example.com/"}],
        "identity_providers[0].base_url",
        "contains a space",
        id="url-with-space",
    ),
    pytest.param(
        [{**KEYCLOAK, "base_url": "https://user:pw@sso.example.com/"}],
        "identity_providers[0].base_url",
        "carries a user name or password; remove them",
        id="url-with-credentials",
    ),
    pytest.param(
        [{**KEYCLOAK, "base_url": "ftp://sso.example.com/"}],
        "identity_providers[0].base_url",
        "is not an absolute URL",
        id="url-other-scheme",
    ),
    pytest.param(
        [{**KEYCLOAK, "default_company": "tenant:Nobody"}],
        "identity_providers[0].default_company",
        "names the tenant 'Nobody', which is neither in this SPEC's tenants nor in the console",
        id="unknown-tenant",
    ),
    pytest.param(
        [{**KEYCLOAK, "default_company": "Acme Research"}],
        "identity_providers[0].default_company",
        "to name the tenant write tenant:Acme Research",
        id="tenant-name-without-prefix",
    ),
    pytest.param(
        [KEYCLOAK, {**KEYCLOAK}],
        "identity_providers[1].provider",
        "'keycloak' is configured twice (first at identity_providers[0])",
        id="provider-twice",
    ),
    pytest.param(
        [{**KEYCLOAK, "provider": "keycloack"}],
        "identity_providers[0].provider",
        "'keycloack' is not a provider the console knows",
        id="unknown-provider",
    ),
    pytest.param(
        [{"base_url": "https://x.example"}],
        "identity_providers[0].provider",
        "is required",
        id="no-provider",
    ),
    pytest.param(
        [{k: v for k, v in KEYCLOAK.items() if k != "client_secret"}],
        "identity_providers[0].client_secret",
        "is required for Keycloak",
        id="missing-required",
    ),
    pytest.param(
        [{**KEYCLOAK, "idp_logout": "true"}],
        "identity_providers[0].idp_logout",
        "must be true or false",
        id="bool-as-string",
    ),
    pytest.param(
        [{**KEYCLOAK, "groups": {"admins": "clearml-admins"}}],
        "identity_providers[0].groups.admins",
        "must be a list of strings",
        id="list-as-string",
    ),
    pytest.param(
        [{**KEYCLOAK, "groups": {"admins": ["a", "a"]}}],
        "identity_providers[0].groups.admins[1]",
        "listed twice",
        id="list-duplicate",
    ),
    pytest.param(
        [{**KEYCLOAK, "client_id": 12345}],
        "identity_providers[0].client_id",
        "must be a string, not int; quote it in YAML",
        id="number-for-string",
    ),
    pytest.param(
        [{**KEYCLOAK, "client_secret": "env:1BAD-NAME"}],
        "identity_providers[0].client_secret",
        "does not name a variable",
        id="bad-env-name",
    ),
    pytest.param(
        [{**KEYCLOAK, "claims": {"name": "a\nb"}}],
        "identity_providers[0].claims.name",
        "control character",
        id="line-break",
    ),
    pytest.param(
        [{**KEYCLOAK, "allow_http": "yes"}],
        "identity_providers[0].allow_http",
        "must be true or false",
        id="allow-http-not-bool",
    ),
    pytest.param(
        [
            {
                "provider": "ping",
                "authorize_url": "https://p.example/as/authorization.oauth2",
                "access_token_url": "https://p.example/as/token.oauth2",
                "client_id": "c",
                "client_secret": "s",
                "code_challenge_method": "S512",
            }
        ],
        "identity_providers[0].code_challenge_method",
        "must be one of S256, plain",
        id="bad-choice",
    ),
    pytest.param(
        [
            {
                "provider": "duo",
                "entity_id": "clearml",
                "idp_metadata_file": "metadata.xml",
            }
        ],
        "identity_providers[0].idp_metadata_file",
        "is not an absolute path",
        id="relative-path",
    ),
    pytest.param(
        [
            {
                "provider": "ldap",
                "server": "ldaps://x.example",
                "base_dn": "dc=x",
                "dn": "uid=a",
                "password": "p",
                "attributes": {"bad__name": "cn"},
            }
        ],
        "identity_providers[0].attributes.bad__name",
        "letters and digits joined by single _",
        id="map-bad-key",
    ),
    pytest.param(
        [
            {
                "provider": "okta",
                **{k: v for k, v in KEYCLOAK.items() if k != "provider"},
                "default_company": "abc",
            }
        ],
        "identity_providers[0].default_company",
        "no variable the Okta page names",
        id="okta-has-no-default-company",
    ),
    pytest.param("keycloak", "identity_providers", "must be a list", id="not-a-list"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("items,path,reason", BAD)
def test_bad_input_is_refused_with_its_path(items, path, reason):
    errors = errors_of(items, tenants=["Acme Research"])
    assert path in errors, errors
    assert reason in errors[path]


@pytest.mark.django_db
def test_every_problem_is_reported_at_once():
    errors = errors_of(
        [
            {**KEYCLOAK, "base_url": "http://x", "idp_logout": "yes"},
            {"provider": "google", "client_id": "c"},
        ]
    )
    assert set(errors) == {
        "identity_providers[0].base_url",
        "identity_providers[0].idp_logout",
        "identity_providers[1].client_secret",
    }


# ---- multi_tenant_login and tenants[].sso ------------------------------------------------------


def test_multi_tenant_login_keys():
    assert validate_multi_tenant_login(
        {"enabled": True, "allow_settings_providers": False, "only_password_login": True}
    ) == {"enabled": True, "allow_settings_providers": False, "only_password_login": True}
    assert validate_multi_tenant_login(None) == {}


@pytest.mark.parametrize(
    "data,path,reason",
    [
        ({"enabled": "true"}, "multi_tenant_login.enabled", "must be true or false"),
        ({"enabled": True, "tenant_login": True}, "multi_tenant_login.tenant_login", "unknown key"),
        ({"only_password_login": True}, "multi_tenant_login.enabled", "is required"),
        ([True], "multi_tenant_login", "must be a mapping"),
    ],
)
def test_multi_tenant_login_bad_input(data, path, reason):
    with pytest.raises(InvalidInput) as info:
        validate_multi_tenant_login(data)
    errors = {e.path: e.message for e in info.value.errors}
    assert reason in errors[path]


def test_tenant_sso_section_of_the_contract_validates():
    sso = tenant_sso_validate(
        {
            "tenant": "acme-external-id",
            "group_mapping": {"IdP Group": "ClearML Group"},
            "admin_groups": ["IdP Admins"],
        },
        "tenants[0].sso",
    )
    assert sso.company_body("c1") == {
        "company": "c1",
        "sso": {
            "tenant": "acme-external-id",
            "group_mapping": {"IdP Group": "ClearML Group"},
            "admin_groups": ["IdP Admins"],
        },
    }


TENANT_CONFIG = {
    "client_id": "acme",
    "client_secret": "env:ACME_SECRET",
    "authorization_endpoint": "https://kc.example/realms/acme/protocol/openid-connect/auth",
    "token_endpoint": "https://kc.example/realms/acme/protocol/openid-connect/token",
}


@pytest.mark.parametrize(
    "data,path,reason",
    [
        ({}, "tenants[0].sso.tenant", "is required"),
        ({"tenant": "acme/x"}, "tenants[0].sso.tenant", "The external tenant id 'acme/x' cannot"),
        (
            {"tenant": "a", "group_mapping": ["x"]},
            "tenants[0].sso.group_mapping",
            "must be a mapping",
        ),
        (
            {"tenant": "a", "group_mapping": {"x": ""}},
            "tenants[0].sso.group_mapping['x']",
            "ClearML group name",
        ),
        (
            {"tenant": "a", "admin_groups": "admins"},
            "tenants[0].sso.admin_groups",
            "must be a list",
        ),
        ({"tenant": "a", "admins": ["x"]}, "tenants[0].sso.admins", "unknown key"),
        (
            {"tenant": "a", "provider": "keycloak"},
            "tenants[0].sso.provider",
            "without a configuration",
        ),
        (
            {"tenant": "a", "provider": "duo", "configuration": TENANT_CONFIG},
            "tenants[0].sso.provider",
            "is not an OAuth provider key",
        ),
        (
            {"tenant": "a", "configuration": {**TENANT_CONFIG, "claim_tenantt": "x"}},
            "tenants[0].sso.configuration.claim_tenantt",
            "not a key of sso.save_provider",
        ),
        (
            {"tenant": "a", "configuration": {**TENANT_CONFIG, "token_endpoint": "http://x/t"}},
            "tenants[0].sso.configuration.token_endpoint",
            "uses http://",
        ),
        (
            {"tenant": "a", "configuration": {"client_id": "x"}},
            "tenants[0].sso.configuration.client_secret",
            "is required",
        ),
    ],
)
def test_tenant_sso_bad_input(data, path, reason):
    with pytest.raises(InvalidInput) as info:
        tenant_sso_validate(data, "tenants[0].sso")
    errors = {e.path: e.message for e in info.value.errors}
    assert path in errors, errors
    assert reason in errors[path]


def test_an_external_tenant_belongs_to_one_tenant_only():
    with pytest.raises(InvalidInput) as info:
        check_external_tenants_unique(
            [
                {"name": "Acme", "sso": {"tenant": "ext-1"}},
                {"name": "Beta", "sso": {"tenant": "EXT-1"}},
            ]
        )
    [error] = info.value.errors
    assert error.path == "tenants[1].sso.tenant"
    assert "already used by tenant 'Acme'" in error.message
