"""`manage.py snippets SPEC` prints the identity provider and multi-tenant login variables."""

import pytest
from django.core.management import CommandError, call_command

from tests.snippet_readers import apiserver_reads, read_env_file, read_helm
from tests.test_idp_spec import CONTRACT_EXAMPLE

pytestmark = pytest.mark.django_db

SPEC = CONTRACT_EXAMPLE.replace(
    "default_company: tenant:Acme Research", "default_company: d1bd92a3b039400c"
) + (
    "multi_tenant_login: {enabled: true, allow_settings_providers: false, "
    "only_password_login: true}\n"
)


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return path


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("snippets", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_contract_example_prints_every_keycloak_variable(spec_file, monkeypatch):
    monkeypatch.setenv("KEYCLOAK_CLIENT_SECRET", "kc #secret ${x}")
    seen = read_env_file(run(str(spec_file), "--format", "env"))
    prefix = "CLEARML__services__login__sso__oauth_client__keycloak__"
    secure = "CLEARML__secure__login__sso__oauth_client__keycloak__"
    expected = {
        prefix + "base_url": "https://sso.example.com/realms/acme",
        prefix
        + "authorize_url": "https://sso.example.com/realms/acme/protocol/openid-connect/auth",
        prefix + "access_token_url": (
            "https://sso.example.com/realms/acme/protocol/openid-connect/token"
        ),
        secure + "client_id": "clearml",
        secure + "client_secret": "kc #secret ${x}",
        secure + "default_company": "d1bd92a3b039400c",
        prefix + "groups__enabled": True,
        prefix + "groups__claim": "groups",
        prefix + "groups__admins": ["clearml-admins"],
        prefix + "groups__prohibit_user_signup_if_not_in_group": True,
        prefix + "claims__name": "preferred_username",
        prefix + "admin_role": "admin",
        prefix + "idp_logout": True,
        prefix + "get_info_from_access_token": False,
        "CLEARML__services__login__sso__tenant_login": True,
        "CLEARML__services__login__sso__allow_settings_providers": False,
    }
    for name, value in expected.items():
        assert apiserver_reads(name, seen[name]) == value, name
    assert seen["WEBSERVER__onlyPasswordLogin"] == "true"


def test_secret_ref_puts_the_client_secret_in_a_kubernetes_secret(spec_file, monkeypatch):
    monkeypatch.setenv("KEYCLOAK_CLIENT_SECRET", "kc-secret")
    text = run(str(spec_file), "--format", "helm", "--secrets", "secret-ref")
    values, refs, documents = read_helm(text)
    name = "CLEARML__secure__login__sso__oauth_client__keycloak__client_secret"
    assert refs[name]["name"] == "clearml-console"
    assert documents[1]["stringData"][name] == '"kc-secret"'
    assert read_helm(text, "webserver")[0] == {"WEBSERVER__onlyPasswordLogin": "true"}


def test_an_unset_env_secret_exits_2_naming_the_variable(spec_file, monkeypatch):
    monkeypatch.delenv("KEYCLOAK_CLIENT_SECRET", raising=False)
    with pytest.raises(CommandError) as info:
        run(str(spec_file), "--format", "env")
    assert info.value.returncode == 2
    message = str(info.value)
    assert f"{spec_file}: identity_providers[0].client_secret: env:KEYCLOAK_CLIENT_SECRET" in (
        message
    )
    assert "is not set" in message


def test_a_bad_provider_entry_exits_2_with_its_path(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "version: 1\nidentity_providers:\n  - provider: keycloak\n    base_urll: https://x\n"
    )
    with pytest.raises(CommandError) as info:
        run(str(path))
    assert info.value.returncode == 2
    assert "identity_providers[0].base_urll: 'base_urll' is an unknown key" in str(info.value)
