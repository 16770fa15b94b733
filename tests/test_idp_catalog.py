"""The provider catalog holds exactly the variables each docs page names, with the traps fixed.

The docs pages (shared/reference/clearml-docs/sso_*.md, seed 004) are read here and every
`CLEARML__…` name is compared with the catalog, so a field the console invents or forgets fails.
"""

import re
from pathlib import Path

import pytest

from sso.providers import catalog

DOCS = Path("/work/shared/reference/clearml-docs")
SEEDS = Path("/work/shared/seeds")
VARIABLE = re.compile(r"CLEARML__[A-Za-z0-9_]+")

PAGES = {
    "keycloak": ["sso_keycloak_oauth.md", "seed:004_"],
    "okta": ["sso_okta_oauth.md"],
    "azure_ad": ["sso_azure_ad_oauth.md"],
    "ad_oauth": ["sso_microsoft_ad_oauth.md"],
    "google": ["sso_google_oauth.md"],
    "cognito": ["sso_amazon_cognito_oauth.md"],
    "ping": ["sso_ping_id_oauth.md"],
    "microsoft_ad": ["sso_microsoft_ad_saml.md"],
    "google_saml": ["sso_google_saml.md"],
    "duo": ["sso_duo_saml.md"],
    "jumpcloudsaml": ["sso_jumpcloud_saml.md"],
    "ldap": ["sso_ldap.md"],
}
# Auth0 has no page among the references; ClearML's Kubernetes SSO setup page names these.
AUTH0_VARIABLES = {
    "clearml__secure__login__sso__oauth_client__auth0__client_id",
    "clearml__secure__login__sso__oauth_client__auth0__client_secret",
    "clearml__services__login__sso__oauth_client__auth0__base_url",
    "clearml__services__login__sso__oauth_client__auth0__authorize_url",
    "clearml__services__login__sso__oauth_client__auth0__access_token_url",
    "clearml__services__login__sso__oauth_client__auth0__audience",
}
# Docs traps (LESSONS.md): the name on the page -> the variable the console writes instead.
CORRECTIONS = {
    # Azure AD's page puts default_company under Microsoft AD OAuth's key.
    "clearml__secure__login__sso__oauth_client__ad_oauth__default_company@azure_ad": (
        "clearml__secure__login__sso__oauth_client__azure_ad__default_company"
    ),
    # "groups__claimenv var": the words "env var" ran into the variable name.
    "clearml__services__login__sso__saml_client__microsoft_ad__groups__claimenv@microsoft_ad": (
        "clearml__services__login__sso__saml_client__microsoft_ad__groups__claim"
    ),
}


def docs_variables(key: str) -> set[str]:
    names = set()
    for page in PAGES[key]:
        if page.startswith("seed:"):
            text = next(SEEDS.glob(page[5:] + "*.txt")).read_text()
        else:
            text = (DOCS / page).read_text()
        for name in VARIABLE.findall(text):
            name = name.lower().rstrip("_")  # `attributes__<some_custom_attrib>` ends in __
            names.add(CORRECTIONS.get(f"{name}@{key}", name))
    return names


def catalog_variables(p: catalog.ProviderDef) -> tuple[set[str], set[str]]:
    """(names of fixed and plain fields, prefixes of MAP fields) in lower case."""
    names = {name.lower() for name, _ in p.fixed}
    prefixes = set()
    for f in p.fields:
        if f.type == catalog.MAP:
            prefixes.add(p.variable(f).lower())
        else:
            names.add(p.variable(f).lower())
    return names, prefixes


@pytest.mark.parametrize("key", sorted(PAGES))
def test_every_variable_the_page_names_is_in_the_catalog_and_nothing_else(key):
    p = catalog.PROVIDERS[key]
    names, prefixes = catalog_variables(p)
    documented = docs_variables(key)
    missing = {
        n for n in documented if n not in names and not any(n.startswith(x) for x in prefixes)
    }
    assert missing == set(), f"{key}: the page names variables the catalog lacks"
    invented = names - documented
    assert invented == set(), f"{key}: the catalog has variables the page does not name"
    for prefix in prefixes:
        assert prefix in documented, f"{key}: {prefix} (a mapping) is not on the page"


def test_auth0_has_the_variables_of_clearmls_kubernetes_sso_page():
    names, prefixes = catalog_variables(catalog.PROVIDERS["auth0"])
    assert names == AUTH0_VARIABLES and not prefixes
    assert catalog.PROVIDERS["auth0"].documented is False


def test_the_catalog_covers_the_contract_provider_keys_exactly():
    assert set(catalog.PROVIDERS) == {
        "keycloak", "auth0", "okta", "azure_ad", "ad_oauth", "google", "cognito", "ping",
        "microsoft_ad", "google_saml", "duo", "jumpcloudsaml", "ldap",
    }  # fmt: skip


def test_azure_ad_default_company_uses_its_own_key_and_says_why():
    p = catalog.PROVIDERS["azure_ad"]
    f = p.field("default_company")
    assert p.variable(f) == "CLEARML__secure__login__sso__oauth_client__azure_ad__default_company"
    assert "ad_oauth" in f.docs_note and "Microsoft AD OAuth" in f.docs_note


def test_saml_groups_claim_is_claim_not_claimenv():
    p = catalog.PROVIDERS["microsoft_ad"]
    f = p.field("groups.claim")
    assert p.variable(f).endswith("__groups__claim")
    assert "claimenv" in f.docs_note


def test_jumpcloud_is_written_in_lower_case_like_every_other_provider():
    p = catalog.PROVIDERS["jumpcloudsaml"]
    for f in p.fields:
        name = p.variable(f)
        assert name.startswith("CLEARML__secure__login__sso__saml_client__jumpcloudsaml__")
        assert name[len("CLEARML__") :] == name[len("CLEARML__") :].lower()
    assert any("upper case" in note for note in p.notes)


def test_keycloak_sections_follow_seed_004():
    p = catalog.PROVIDERS["keycloak"]
    secure = {f.key for f in p.fields if f.section == catalog.SECURE}
    assert secure == {"client_id", "client_secret", "default_company"}
    assert p.field("client_secret").is_secret and not p.field("client_id").is_secret
    assert p.callback == "/callback_keycloak"


def test_lists_say_they_are_written_as_json():
    for key in ("keycloak", "ping", "microsoft_ad", "ldap"):
        p = catalog.PROVIDERS[key]
        lists = [f for f in p.fields if f.type == catalog.LIST]
        assert lists and all("JSON list" in f.docs_note for f in lists), key


def test_discovery_is_offered_for_openid_providers_with_endpoints_only():
    offered = {k for k, p in catalog.PROVIDERS.items() if p.discovery}
    assert offered == {"keycloak", "auth0", "okta", "azure_ad", "ad_oauth", "cognito", "ping"}


@pytest.mark.parametrize("key", sorted(catalog.PROVIDERS))
def test_every_provider_page_except_ldap_gives_a_callback(key):
    p = catalog.PROVIDERS[key]
    assert bool(p.callback) == (key != "ldap")
    if p.callback:
        assert p.callback.startswith("/callback_")
