"""Nothing is trimmed silently: white space at the start or end of a value is refused, naming the
field path, the value and what to do (docs/spec.md, "Round trip").

Cross-tenant groups: the SPEC (`plan`), the change the group form makes (changes.groups) and the
group page. Identity providers: the SPEC, for every kind of value (string, list item, mapping
value, URL, path, secret, company), and a tenant's SSO configuration, which shares the checker.
The identity-provider page's form trims what is typed into its inputs before the checker sees it
(sso/providers/forms.py), so there only a SPEC can bring such a value.

Values with inner spaces and punctuation are kept exactly, and the apiserver reads them back.
"""

import textwrap

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils.html import escape

from changes import groups as group_changes
from changes.management.commands._spec_command import read_spec
from changes.models import Changeset
from changes.spec.export import export_spec
from console.validation import InvalidInput
from sso.multitenant.spec import CONFIG_BY_KEY
from sso.providers import catalog
from sso.providers.export import entry_settings
from sso.providers.spec import CompanyResolver, validate_identity_providers
from tenants.groups.models import CrossTenantGroup
from tenants.groups.settings import stored_group_settings
from tenants.models import Tenant
from tests.snippet_readers import apiserver_reads

pytestmark = pytest.mark.django_db

GID = "3f1c9e62-8a53-4e0f-9f51-2d7c4b1a0e77"

# (how the white space is placed, the value, how the message says where it is)
SPACES = [
    pytest.param("{} ", "ends", id="trailing-space"),
    pytest.param(" {}", "starts", id="leading-space"),
    pytest.param("  {} ", "starts and ends", id="both-ends"),
    pytest.param("\t{}", "starts", id="tab"),
    pytest.param("{}\n", "ends", id="line-break-at-the-end"),
    pytest.param("\u00a0{}", "starts", id="no-break-space"),
    pytest.param("{}\u3000", "ends", id="ideographic-space"),
]

GROUP_WHY = {
    "name": "the name is part of the variable names "
    "CLEARML__services__auth__default_groups__<name>__…",
    "display_name": "the ClearML web app shows the display name exactly as written",
    "id": "an id is 8-4-4-4-12 hexadecimal digits and nothing else",
}
GROUP_BLANK = {
    "name": "write a name like data_scientists",
    "display_name": "leave display_name out (or empty) to show the group name",
    "id": "leave it out (or empty) to have one generated",
}
GROUP_VALUES = {"name": "data_scientists", "display_name": "Data Scientists", "id": GID}
GROUP_FIELDS = list(GROUP_VALUES)


def _group(field: str, value: str) -> dict:
    return {"name": "data_scientists", field: value}


GROUP_LABEL = {"name": "The group name", "display_name": "The display name", "id": "The group id"}


def _group_message(field: str, value: str, where: str) -> str:
    """The field, the value (white space written visibly) and what to do."""
    subject = f"{GROUP_LABEL[field]} {value!r}"
    if not value.strip():
        return f"{subject} is only white space; {GROUP_BLANK[field]}."
    return f"{subject} {where} with white space; remove it ({GROUP_WHY[field]})."


def _plan_errors(tmp_path, spec: dict) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CommandError) as info:
        call_command("plan", str(path))
    assert info.value.returncode == 2
    return str(info.value)


def _bad_groups():
    for field in GROUP_FIELDS:
        for param in SPACES:
            shape, where = param.values
            yield pytest.param(
                field, shape.format(GROUP_VALUES[field]), where, id=f"{field}-{param.id}"
            )
        yield pytest.param(field, "   ", "", id=f"{field}-only-spaces")


BAD_GROUPS = list(_bad_groups())


@pytest.mark.parametrize("field,value,where", BAD_GROUPS)
def test_a_spec_group_with_white_space_around_a_value_is_refused(tmp_path, field, value, where):
    shown = _plan_errors(tmp_path, {"version": 1, "groups": [_group(field, value)]})
    assert f"spec.yaml: groups[0].{field}: {_group_message(field, value, where)}" in shown
    assert not CrossTenantGroup.objects.exists()


@pytest.mark.parametrize("field,value,where", BAD_GROUPS)
def test_the_group_form_refuses_white_space_around_a_value(field, value, where):
    with pytest.raises(InvalidInput) as info:
        group_changes.group_create(data=_group(field, value), actor="test")
    assert [(e.path, e.message) for e in info.value.errors] == [
        (field, _group_message(field, value, where))
    ]
    assert not CrossTenantGroup.objects.exists() and not Changeset.objects.exists()


@pytest.mark.parametrize("field,value,where", BAD_GROUPS)
def test_the_group_page_shows_the_refusal_next_to_the_field(admin_client, field, value, where):
    post = {"name": "data_scientists", "display_name": "", "id": "", **{field: value}}
    response = admin_client.post(reverse("tenants:group_create"), post)
    assert response.status_code == 400
    html = response.content.decode()
    error_id = {"name": "err-name", "display_name": "err-display", "id": "err-id"}[field]
    message = escape(_group_message(field, value, where))
    assert f'<ul class="errorlist" id="{error_id}"><li>{message}</li></ul>' in html
    assert f'value="{escape(value)}"' in html  # what was typed is kept, as typed
    assert not CrossTenantGroup.objects.exists()


def test_a_display_name_is_kept_exactly_and_the_apiserver_reads_it_back(tmp_path):
    display = 'Data  Scientists #1 @ "Acme" (é)'
    group_changes.group_create(
        data={"name": "data_scientists", "display_name": display}, actor="test"
    )
    group = CrossTenantGroup.objects.get()
    assert group.display_name == display
    [name] = [s for s in stored_group_settings(group) if s.name.endswith("__name")]
    assert apiserver_reads(name.name, name.env_value) == display
    assert export_spec()["groups"] == [{"name": "data_scientists", "display_name": display}]


# --- identity providers -------------------------------------------------------------------------

KEYCLOAK = {
    "provider": "keycloak",
    "base_url": "https://sso.example.com/realms/acme/",
    "authorize_url": "https://sso.example.com/realms/acme/protocol/openid-connect/auth",
    "access_token_url": "https://sso.example.com/realms/acme/protocol/openid-connect/token",
    "client_id": "clearml",
    "client_secret": "s3cret-value",
    "groups": {"enabled": True, "admins": ["clearml-admins", "ops"]},
    "admin_role": "admin",
}
LDAP = {
    "provider": "ldap",
    "server": "ldaps://ldap.example.com",
    "base_dn": "dc=example,dc=com",
    "dn": "cn=clearml,dc=example,dc=com",
    "password": "env:LDAP_ADMIN_PASSWORD",
    "attributes": {"name": "cn", "mail": "userPrincipalName"},
    "admin_users": ["alice", "bob"],
}
SAML = {
    "provider": "google_saml",
    "entity_id": "https://app.clearml.example.com",
    "idp_metadata_file": "/mnt/idp/google-metadata.xml",
    "default_company": "tenant:Acme Research",
}
SENT = "the server receives the value exactly as written"

# (entry, the key path inside it, the kind of value)
IDP_FIELDS = [
    pytest.param(KEYCLOAK, "groups.admins[1]", "string", id="list-item"),
    pytest.param(LDAP, "admin_users[0]", "string", id="ldap-list-item"),
    pytest.param(LDAP, "attributes.mail", "string", id="mapping-value"),
    pytest.param(KEYCLOAK, "client_id", "string", id="string"),
    pytest.param(KEYCLOAK, "admin_role", "may-be-empty", id="string-that-may-be-empty"),
    pytest.param(KEYCLOAK, "base_url", "url", id="url"),
    pytest.param(LDAP, "server", "string", id="ldap-server"),
    pytest.param(SAML, "idp_metadata_file", "string", id="path"),
    pytest.param(KEYCLOAK, "client_secret", "secret", id="secret"),
    pytest.param(LDAP, "password", "secret", id="secret-env-reference"),
    pytest.param(SAML, "default_company", "company", id="company"),
]


def _get(entry: dict, key_path: str):
    node, *rest = key_path.replace("[", ".[").split(".")
    value = entry[node]
    for part in rest:
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    return value


def _set(entry: dict, key_path: str, value) -> dict:
    out = yaml.safe_load(yaml.safe_dump(entry))  # a deep copy
    *parents, last = key_path.replace("[", ".[").split(".")
    node = out
    for part in parents:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    if last.startswith("["):
        node[int(last[1:-1])] = value
    else:
        node[last] = value
    return out


def _label(entry: dict, key_path: str) -> str:
    """The label of the field a key path is in (a list item's or mapping value's field)."""
    provider = catalog.get_provider(entry["provider"])
    key = key_path.split("[")[0]
    while provider.field(key) is None:
        key = key.rsplit(".", 1)[0]
    return provider.field(key).label


def _idp_message(kind: str, value: str, where: str, label: str) -> str:
    subject = label if kind == "secret" else f"{label} {value!r}"
    if not value.strip():
        fix = {
            "may-be-empty": 'write "" for the empty value, or leave the key out',
            "url": "write an https:// URL",
        }.get(kind, "leave the key out instead")
        if kind == "company":
            return (
                f"{label} must be tenant:<name> or a company id, not '{value}'; leave it out "
                "for none."
            )
        return f"{subject} is only white space; {fix}."
    why = "a company id or tenant:<name> is used exactly as written" if kind == "company" else SENT
    return f"{subject} {where} with white space; remove it ({why})."


def _bad_idp_values():
    for field in IDP_FIELDS:
        entry, key_path, kind = field.values
        for param in SPACES:
            shape, where = param.values
            value = shape.format(_get(entry, key_path))
            yield pytest.param(entry, key_path, kind, value, where, id=f"{field.id}-{param.id}")
        yield pytest.param(entry, key_path, kind, "  ", "", id=f"{field.id}-only-spaces")


BAD_IDP_VALUES = list(_bad_idp_values())


@pytest.mark.parametrize("entry,key_path,kind,value,where", BAD_IDP_VALUES)
def test_a_spec_identity_provider_value_with_white_space_around_it_is_refused(
    tmp_path, entry, key_path, kind, value, where
):
    spec = {
        "version": 1,
        "tenants": [{"name": "Acme Research"}],
        "identity_providers": [_set(entry, key_path, value)],
    }
    shown = _plan_errors(tmp_path, spec)
    message = _idp_message(kind, value, where, _label(entry, key_path))
    assert f"spec.yaml: identity_providers[0].{key_path}: {message}" in shown
    if kind == "secret" and value.strip():
        assert value.strip() not in shown  # a secret is never repeated


@pytest.mark.parametrize("entry,key_path,kind,value,where", BAD_IDP_VALUES[:8])
def test_the_checker_behind_the_identity_provider_form_refuses_them_too(
    entry, key_path, kind, value, where
):
    with pytest.raises(InvalidInput) as info:
        validate_identity_providers([_set(entry, key_path, value)], spec_tenant_names=["Acme"])
    assert [(e.path, e.message) for e in info.value.errors] == [
        (
            f"identity_providers[0].{key_path}",
            _idp_message(kind, value, where, _label(entry, key_path)),
        )
    ]


@pytest.mark.parametrize(
    "key,value,where",
    [
        ("client_id", "acme-clearml ", "ends"),
        ("authorization_endpoint", " https://kc.example.com/auth", "starts"),
        ("display_name", "Acme SSO\t", "ends"),
    ],
)
def test_a_tenant_sso_configuration_value_with_white_space_around_it_is_refused(
    tmp_path, key, value, where
):
    configuration = {
        "client_id": "acme-clearml",
        "client_secret": "env:ACME_SSO_SECRET",
        "authorization_endpoint": "https://kc.example.com/auth",
        "token_endpoint": "https://kc.example.com/token",
        key: value,
    }
    spec = {
        "version": 1,
        "tenants": [
            {"name": "Acme", "sso": {"tenant": "acme-ext", "configuration": configuration}}
        ],
    }
    shown = _plan_errors(tmp_path, spec)
    label = CONFIG_BY_KEY[key].label
    message = f"{label} {value!r} {where} with white space; remove it ({SENT})."
    assert f"spec.yaml: tenants[0].sso.configuration.{key}: {message}" in shown


def test_a_tenant_reference_is_kept_as_written_and_names_the_tenant_as_names_compare():
    Tenant.objects.create(name="Acme Research", company_id="c0ffee")
    spaced = {**SAML, "default_company": "tenant:acme  Research"}
    [entry] = validate_identity_providers([spaced])
    assert entry.values["default_company"] == "tenant:acme  Research"
    [company] = [s for s in entry_settings(entry) if s.name.endswith("__default_company")]
    assert company.value == "c0ffee"
    # The one documented normalisation of the value: the prefix is written in lower case.
    [entry] = validate_identity_providers([{**SAML, "default_company": "TENANT:Acme Research"}])
    assert entry.values["default_company"] == "tenant:Acme Research"
    assert CompanyResolver().company_id("tenant:ACME RESEARCH", "x") == "c0ffee"


def test_a_spec_with_every_value_as_written_is_accepted(tmp_path):
    """The bad values above, without their white space, make a valid SPEC (so each refusal
    above is about the white space alone)."""
    spec = textwrap.dedent(
        f"""
        version: 1
        tenants:
          - name: Acme Research
        groups:
          - {{name: data_scientists, display_name: Data Scientists, id: {GID}}}
        identity_providers:
          - {yaml.safe_dump(KEYCLOAK, default_flow_style=True, width=1000).strip()}
          - {yaml.safe_dump(LDAP, default_flow_style=True, width=1000).strip()}
          - {yaml.safe_dump(SAML, default_flow_style=True, width=1000).strip()}
        """
    )
    path = tmp_path / "spec.yaml"
    path.write_text(spec, encoding="utf-8")
    model = read_spec(str(path))
    assert [g.display_name for g in model.server.groups] == ["Data Scientists"]
    assert [e.provider.key for e in model.server.identity_providers] == [
        "keycloak",
        "ldap",
        "google_saml",
    ]
