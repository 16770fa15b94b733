"""API tokens: `manage.py api_token create/list/revoke`, the admins' /account/tokens/ page,
hash-only storage, expiry and revocation, each change audited without the token."""

import hashlib
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from changes.models import Changeset
from console.accounts.models import ApiToken
from console.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def tenants_status(token: str) -> int:
    return Client().get("/api/v1/tenants", HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def assert_nowhere(value: str) -> None:
    """The token is in no table the console writes: the token row, the audit log, changesets."""
    for row in ApiToken.objects.values():
        assert value not in json.dumps(row, default=str)
    for entry in AuditEntry.objects.values():
        assert value not in json.dumps(entry, default=str)
    for changeset in Changeset.objects.values():
        assert value not in json.dumps(changeset, default=str)


def test_create_prints_the_token_once_on_the_last_line_and_stores_its_hash():
    out = run("create", "--name", "ci-deploy", "--role", "operator", "--expires-days", "30")
    token = out.strip().splitlines()[-1]
    assert token.startswith("ctc_") and len(token) >= 40
    row = ApiToken.objects.get(name="ci-deploy")
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.prefix == token[:12] and row.role == "operator"
    assert row.created_by.startswith("cli:")
    assert 29 <= (row.expires_at - timezone.now()).days <= 30
    assert_nowhere(token)
    [entry] = AuditEntry.objects.filter(action="api_token.create")
    assert entry.target_repr == "token:ci-deploy" and entry.after["role"] == "operator"
    changeset = Changeset.objects.get(kind="api_token.create")
    assert changeset.status == "applied" and changeset.face == "command"
    assert tenants_status(token) == 200


@pytest.mark.parametrize(
    "args, field",
    [
        (["--name", "bad name", "--role", "viewer"], "name"),
        (["--name", "x", "--role", "viewer", "--expires-days", "0"], "expires_days"),
    ],
)
def test_create_refuses_bad_input_with_exit_2_naming_the_field(args, field):
    with pytest.raises(CommandError) as exc:
        run("create", *args)
    assert exc.value.returncode == 2 and f"api_token: {field}:" in str(exc.value)
    assert not ApiToken.objects.exists()


def test_a_name_is_taken_once():
    run("create", "--name", "ci", "--role", "viewer")
    with pytest.raises(CommandError, match="exists already"):
        run("create", "--name", "ci", "--role", "admin")


def test_list_shows_every_token_without_its_value():
    token = run("create", "--name", "reader", "--role", "viewer").strip().splitlines()[-1]
    run("create", "--name", "writer", "--role", "operator")
    run("revoke", "writer")
    Client().get("/api/v1/groups", HTTP_AUTHORIZATION=f"Bearer {token}")
    out = run("list")
    header, *rows = out.strip().splitlines()
    assert header.split()[:3] == ["NAME", "ROLE", "PREFIX"]
    reader = next(r for r in rows if r.startswith("reader"))
    writer = next(r for r in rows if r.startswith("writer"))
    assert "viewer" in reader and token[:12] in reader and token not in out
    assert reader.split()[-1] == "-"  # not revoked; last used is set
    assert writer.split()[-1] != "-"  # revoked (a time)
    assert "No API tokens" in run_empty()


def run_empty() -> str:
    ApiToken.objects.all().delete()
    return run("list")


def test_revoke_refuses_the_token_from_then_on_and_is_audited():
    token = run("create", "--name", "ci", "--role", "admin").strip().splitlines()[-1]
    assert tenants_status(token) == 200
    assert "Revoked API token ci" in run("revoke", "ci")
    assert tenants_status(token) == 401
    [entry] = AuditEntry.objects.filter(action="api_token.revoke")
    assert entry.before["revoked_at"] is None and entry.after["revoked_at"]
    with pytest.raises(CommandError, match="was revoked on"):
        run("revoke", "ci")
    with pytest.raises(CommandError, match="no API token named"):
        run("revoke", "nobody")


def test_an_expired_token_is_refused():
    token = run("create", "--name", "short", "--role", "viewer", "--expires-days", "1")
    token = token.strip().splitlines()[-1]
    assert tenants_status(token) == 200
    ApiToken.objects.update(expires_at=timezone.now() - timezone.timedelta(minutes=1))
    assert tenants_status(token) == 401


# --- the page ----------------------------------------------------------------------------------


def test_the_page_creates_a_token_shown_once_with_no_store(admin_client):
    url = reverse("account:tokens")
    response = admin_client.post(
        url, {"action": "create", "name": "ci", "role": "operator", "expires_days": ""}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    row = ApiToken.objects.get(name="ci")
    token = page.split('<code id="new-token">', 1)[1].split("<", 1)[0]
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (
        row.expires_at is None
        and row.created_by == AuditEntry.objects.get(action="api_token.create").actor
    )
    assert_nowhere(token)
    listing = admin_client.get(url).content.decode()
    assert "ci" in listing and token not in listing and row.prefix in listing


def test_the_page_names_a_bad_field(admin_client):
    response = admin_client.post(
        reverse("account:tokens"),
        {"action": "create", "name": "", "role": "root", "expires_days": "soon"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'href="#id_name"' in page and 'href="#id_role"' in page
    assert 'href="#id_expires_days"' in page
    assert not ApiToken.objects.exists()


def test_the_page_revokes_a_token(admin_client):
    run("create", "--name", "ci", "--role", "viewer")
    response = admin_client.post(reverse("account:tokens"), {"action": "revoke", "name": "ci"})
    assert response.status_code == 302
    assert ApiToken.objects.get(name="ci").revoked_at is not None
    assert "revoked" in admin_client.get(reverse("account:tokens")).content.decode()


def test_the_page_is_for_signed_in_people():
    response = Client().get(reverse("account:tokens"))
    assert response.status_code == 302 and "/signin/" in response["Location"]
