"""A NUL character (U+0000) in any query or form field is refused with a 400 that names the field:
PostgreSQL cannot store one (a DataError, a 500, found by the form fuzzer on PostgreSQL)."""

import json

import pytest

from tenants.groups.models import CrossTenantGroup

pytestmark = pytest.mark.django_db


def test_a_form_field_with_nul_is_refused_naming_it_and_nothing_is_saved(admin_client):
    response = admin_client.post("/tenants/groups/new/", {"name": "ops\x00team"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "The field \u201cname\u201d holds a NUL character" in page
    assert "remove it and send the form again" in page
    assert not CrossTenantGroup.objects.exists()


def test_a_query_parameter_with_nul_is_refused_naming_it(admin_client):
    response = admin_client.get("/changes/", {"q": "a\x00b"})
    assert response.status_code == 400
    assert "\u201cq\u201d holds a NUL character" in response.content.decode()


def test_a_field_name_with_nul_is_shown_escaped(admin_client):
    response = admin_client.get("/changes/", {"a\x00b": "1"})
    assert response.status_code == 400
    assert "\u201ca\\0b\u201d" in response.content.decode()


def test_the_api_answers_in_its_json_shape(client):
    response = client.get("/api/v1/tenants", {"q": "\x00"})
    assert response.status_code == 400
    body = json.loads(response.content)
    assert body["errors"][0]["field"] == "q" and "NUL character" in body["detail"]


def test_an_uploaded_file_may_hold_any_byte(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("values.yaml", b"apiserver:\n  x: 1\n\x00")
    response = admin_client.post("/security/audit/", {"files": [upload]})
    assert "holds a NUL character" not in response.content.decode()


def test_ordinary_input_passes(admin_client):
    assert admin_client.get("/changes/", {"q": "caf\u00e9"}).status_code == 200


@pytest.mark.parametrize(
    "text",
    [
        'version: 1\ntenants:\n  - name: "a\\0b"\n    admins: [{name: A, email: a@b.io}]\n',
        '{"version": 1, "tenants": [{"name": "a\\u0000b", "admins": [{"name": "A", '
        '"email": "a@b.io"}]}]}',
    ],
    ids=["yaml", "json"],
)
def test_a_spec_value_with_nul_is_refused_naming_its_path(text):
    from console.spec import parse_spec_text
    from console.validation import InvalidInput

    with pytest.raises(InvalidInput) as info:
        parse_spec_text(text, "spec.yaml")
    [error] = info.value.errors
    assert error.path == "tenants[0].name" and "NUL character" in error.message


def test_the_api_refuses_a_spec_with_nul_before_planning(client):
    from changes.models import Changeset
    from changes.tokens import token_create

    token = token_create(name="nul-test", role="operator", expires_days=None, actor="test").value
    before = Changeset.objects.count()
    body = '{"version": 1, "tenants": [{"name": "a\\u0000b", "admins": []}]}'
    response = client.post(
        "/api/v1/plans",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert json.loads(response.content)["errors"][0]["field"] == "tenants[0].name"
    assert Changeset.objects.count() == before
