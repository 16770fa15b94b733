"""Every provider's variables, exported from a SPEC, read back exactly as the apiserver reads them
(pyhocon on `<path>: <value>`), in every format; env:NAME secrets read at export time."""

import pytest

from console.snippets import render
from console.validation import InvalidInput
from sso.providers import catalog
from sso.snippets import identity_provider_settings
from tenants.models import Tenant
from tests.snippet_readers import (
    apiserver_reads,
    read_compose,
    read_env_file,
    read_helm,
    read_shell,
)

# Values chosen to break a naive encoder: '#' starts a HOCON comment, '${' a substitution,
# quotes, an '@', digits that would read as a number, words that would read as booleans.
SAMPLES = {
    catalog.STR: "clearml #1 ${x} \"q\" 's' @acme",
    catalog.URL: "https://idp.example.com:8443/realms/acme/auth?prompt=login&x=%23",
    catalog.BOOL: False,
    catalog.LIST: ["Admins #1", "true", "42", "ops@acme"],
    catalog.SECRET: "s3cr#t ${HOME} 'q\" end",
    catalog.PATH: "/opt/clearml/config/default/idp metadata.xml",
    catalog.MAP: {"name": "cn", "custom_attr": "department#1"},
}


def full_entry(p: catalog.ProviderDef) -> tuple[dict, dict]:
    """A SPEC entry with every field set, and the Python value each variable must read back as."""
    entry: dict = {"provider": p.key}
    expected: dict = {name: value for name, value in p.fixed}
    for f in p.fields:
        if f.type == catalog.COMPANY:
            value, read = "tenant:Acme Research", "0123456789"
        elif f.type == catalog.CHOICE:
            value = read = f.choices[0]
        elif p.key == "ldap" and f.key == "server":
            value = read = "ldaps://ldap.example.com:636"
        else:
            value = read = SAMPLES[f.type]
        node = entry
        *parents, last = f.key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
        if f.type == catalog.MAP:
            for k, v in value.items():
                expected[p.variable(f, k)] = v
        else:
            expected[p.variable(f)] = read
    return entry, expected


@pytest.fixture
def acme(db):
    return Tenant.objects.create(name="Acme Research", company_id="0123456789")


def spec_with(*entries, **sections):
    return {"version": 1, "identity_providers": list(entries), **sections}


@pytest.mark.parametrize("key", sorted(catalog.PROVIDERS))
@pytest.mark.parametrize("fmt", ["env", "helm", "compose", "shell"])
def test_every_variable_of_every_provider_round_trips_through_pyhocon(key, fmt, acme):
    entry, expected = full_entry(catalog.PROVIDERS[key])
    settings = identity_provider_settings(spec_with(entry), environ={})
    assert [s.name for s in settings] == list(expected)
    text = render(settings, fmt)
    if fmt == "env":
        seen = read_env_file(text)
    elif fmt == "helm":
        seen, refs, _ = read_helm(text)
        assert refs == {}
    elif fmt == "compose":
        seen = read_compose(text)
    else:
        seen = read_shell(text, list(expected))
    assert set(seen) == set(expected)
    for name, value in expected.items():
        assert apiserver_reads(name, seen[name]) == value, name


def test_secrets_are_marked_secret_and_move_to_a_kubernetes_secret(acme):
    entry, expected = full_entry(catalog.PROVIDERS["keycloak"])
    settings = identity_provider_settings(spec_with(entry), environ={})
    secret_names = [s.name for s in settings if s.secret]
    assert secret_names == ["CLEARML__secure__login__sso__oauth_client__keycloak__client_secret"]
    values, refs, documents = read_helm(render(settings, "helm", secrets="secret-ref"))
    [name] = secret_names
    assert refs[name] == {"name": "clearml-console", "key": name}
    secret_doc = documents[1]
    assert secret_doc["kind"] == "Secret"
    assert apiserver_reads(name, secret_doc["stringData"][name]) == SAMPLES[catalog.SECRET]
    assert name not in values


def test_env_secrets_are_read_from_the_environment_at_export_time(acme):
    entry = {
        **full_entry(catalog.PROVIDERS["keycloak"])[0],
        "client_secret": "env:KC_SECRET",
        "client_id": "env:KC_CLIENT_ID",
    }
    settings = identity_provider_settings(
        spec_with(entry), environ={"KC_SECRET": "from #env ${x}", "KC_CLIENT_ID": "clearml-01"}
    )
    values = {s.name: s.value for s in settings}
    assert values["CLEARML__secure__login__sso__oauth_client__keycloak__client_secret"] == (
        "from #env ${x}"
    )
    assert values["CLEARML__secure__login__sso__oauth_client__keycloak__client_id"] == "clearml-01"


def test_an_unset_env_secret_fails_naming_the_variable_and_the_field(acme):
    entry = {**full_entry(catalog.PROVIDERS["ldap"])[0], "password": "env:LDAP_ADMIN_PASSWORD"}
    keycloak = {**full_entry(catalog.PROVIDERS["keycloak"])[0], "client_secret": "env:KC_SECRET"}
    with pytest.raises(InvalidInput) as info:
        identity_provider_settings(spec_with(keycloak, entry), environ={"KC_SECRET": ""})
    errors = {e.path: e.message for e in info.value.errors}
    assert errors == {
        "identity_providers[0].client_secret": (
            "env:KC_SECRET is set but empty: give KC_SECRET the secret's value"
        ),
        "identity_providers[1].password": (
            "env:LDAP_ADMIN_PASSWORD is not set: export LDAP_ADMIN_PASSWORD in the environment "
            "of this command (the value is read when the snippet is made)"
        ),
    }


def test_plan_placeholders_never_read_or_show_a_secret(db):
    entry = {**full_entry(catalog.PROVIDERS["keycloak"])[0], "client_secret": "env:KC_SECRET"}
    spec = spec_with(entry, tenants=[{"name": "Acme Research"}])
    settings = identity_provider_settings(spec, environ={"KC_SECRET": "real"}, placeholders=True)
    values = {s.name: s.value for s in settings}
    assert "real" not in values.values()
    assert values["CLEARML__secure__login__sso__oauth_client__keycloak__client_secret"] == (
        "<read from $KC_SECRET when exported>"
    )
    # The tenant is in the SPEC but has no company yet: a marker for plan, an error for export.
    assert values["CLEARML__secure__login__sso__oauth_client__keycloak__default_company"] == (
        "<company id of tenant Acme Research>"
    )
    with pytest.raises(InvalidInput) as info:
        identity_provider_settings(spec, environ={"KC_SECRET": "real"})
    [error] = info.value.errors
    assert error.path == "identity_providers[0].default_company"
    assert "has no company id yet" in error.message


def test_a_company_id_is_exported_as_is_and_read_back_as_a_string(db):
    entry = {**full_entry(catalog.PROVIDERS["google"])[0], "default_company": "1234567"}
    settings = identity_provider_settings(spec_with(entry), environ={})
    [company] = [s for s in settings if s.name.endswith("default_company")]
    assert apiserver_reads(company.name, company.env_value) == "1234567"


def test_keycloak_admin_role_disabled_is_an_empty_string(acme):
    entry = {**full_entry(catalog.PROVIDERS["keycloak"])[0], "admin_role": ""}
    settings = identity_provider_settings(spec_with(entry), environ={})
    [role] = [s for s in settings if s.name.endswith("__admin_role")]
    assert role.env_value == '""'
    assert apiserver_reads(role.name, role.env_value) == ""


def test_ldap_sets_the_fixed_user_switches_and_quotes_the_search_filter(acme):
    entry = {
        "provider": "ldap",
        "server": "ldaps://ad.example.com",
        "base_dn": "dc=example,dc=com",
        "dn": "cn=svc,dc=example,dc=com",
        "password": "pw",
        "search_filter": "(&(objectclass=user)(sAMAccountName={0}))",
        "admin_users": ["user1_id", "user2_id"],
    }
    settings = identity_provider_settings(spec_with(entry), environ={})
    seen = read_env_file(render(settings, "env"))
    assert (
        apiserver_reads(
            "CLEARML__apiserver__auth__fixed_users__enabled",
            seen["CLEARML__apiserver__auth__fixed_users__enabled"],
        )
        is True
    )
    assert (
        apiserver_reads(
            "CLEARML__apiserver__auth__fixed_users__provider",
            seen["CLEARML__apiserver__auth__fixed_users__provider"],
        )
        == "ldap"
    )
    name = "CLEARML__apiserver__auth__fixed_user_providers__ldap__search_filter"
    assert apiserver_reads(name, seen[name]) == "(&(objectclass=user)(sAMAccountName={0}))"
    name = "CLEARML__apiserver__auth__fixed_user_providers__ldap__admin_users"
    assert apiserver_reads(name, seen[name]) == ["user1_id", "user2_id"]
    assert "CLEARML__secure__fixed_user_providers__ldap__password" in seen


def test_multi_tenant_login_switches_go_to_apiserver_and_webserver(db):
    spec = spec_with(
        multi_tenant_login={
            "enabled": True,
            "allow_settings_providers": False,
            "only_password_login": True,
        }
    )
    settings = identity_provider_settings(spec)
    text = render(settings, "helm")
    api, _, _ = read_helm(text, "apiserver")
    web, _, _ = read_helm(text, "webserver")
    assert (
        apiserver_reads(
            "CLEARML__services__login__sso__tenant_login",
            api["CLEARML__services__login__sso__tenant_login"],
        )
        is True
    )
    assert (
        apiserver_reads(
            "CLEARML__services__login__sso__allow_settings_providers",
            api["CLEARML__services__login__sso__allow_settings_providers"],
        )
        is False
    )
    assert web == {"WEBSERVER__onlyPasswordLogin": "true"}
    compose = read_compose(render(settings, "compose"), "webserver")
    assert compose == {"WEBSERVER__onlyPasswordLogin": "true"}


def test_only_the_switches_given_are_exported(db):
    settings = identity_provider_settings(spec_with(multi_tenant_login={"enabled": False}))
    assert [(s.name, s.value) for s in settings] == [
        ("CLEARML__services__login__sso__tenant_login", False)
    ]


def test_a_spec_without_these_sections_exports_nothing(db):
    assert identity_provider_settings({"version": 1}) == []


def test_bad_sections_fail_together_with_paths(db):
    with pytest.raises(InvalidInput) as info:
        identity_provider_settings(
            spec_with({"provider": "nope"}, multi_tenant_login={"enabled": "yes"})
        )
    assert {e.path for e in info.value.errors} == {
        "identity_providers[0].provider",
        "multi_tenant_login.enabled",
    }
