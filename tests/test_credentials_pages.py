"""The credentials pages as people use them: operators relabel, admins revoke (typing a marked
key again) and rotate (the new secret shown once on a no-store page with the onboarding kit's
link, then the old key revoked after confirmation); with approvals on a revocation waits."""

import json
import re
import time

import pytest
from django.test import Client
from django.urls import reverse

from changes.models import Changeset
from changes.refresh import refresh_server_state
from console.accounts.sessions import SIGNED_IN_AT
from console.audit.models import AuditEntry
from console.roles import Role
from console.snapshot import credentials as inventory
from tenants.models import Tenant, TenantAdmin

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def acme(sandbox, sandbox_settings):
    company = sandbox.seed_company("Acme Research")
    admin = sandbox.seed_user(company, "alice@acme.io")
    bob = sandbox.seed_user(company, "bob@acme.io", role="user")
    sandbox.seed_credentials(admin, label="appgw eu-west")
    sandbox.seed_credentials(bob, label="laptop")
    tenant = Tenant.objects.create(name="Acme Research", company_id=company, status="active")
    TenantAdmin.objects.create(tenant=tenant, name="Alice", email="alice@acme.io", user_id=admin)
    refresh_server_state()
    return tenant


@pytest.fixture
def oidc_settings(settings):
    settings.CONSOLE_OIDC_ISSUER = "https://idp.example.com"
    settings.CONSOLE_OIDC_CLIENT_ID = "console"
    return settings


def person(role: Role, django_user_model) -> Client:
    user, _ = django_user_model.objects.get_or_create(
        username=f"oidc:{role.label}-sub", defaults={"email": f"{role.label}@example.com"}
    )
    user.console_signin = {"method": "oidc", "role": role.label}
    client = Client()
    client.force_login(user, backend="console.oidc.backend.ConsoleOIDCBackend")
    session = client.session
    session[SIGNED_IN_AT] = time.time()
    session.save()
    return client


def key(marked: bool) -> inventory.CredentialRow:
    return next(r for r in inventory.inventory().rows if bool(r.marked) == marked)


def test_an_operator_relabels_but_cannot_revoke(sandbox, acme, oidc_settings, django_user_model):
    operator = person(Role.OPERATOR, django_user_model)
    row = key(marked=False)
    answer = operator.post(reverse("credentials:relabel", args=[row.access_key]), {"label": "ci"})
    assert answer.status_code == 302
    assert inventory.find_key(row.access_key).label == "ci"
    changeset = Changeset.objects.get(kind="credentials.relabel")
    assert changeset.requested_by == "operator@example.com"

    refused = operator.post(reverse("credentials:revoke", args=[row.access_key]))
    assert refused.status_code == 403
    assert not Changeset.objects.filter(kind="credentials.revoke").exists()


def test_the_page_marks_the_gateway_key_and_asks_for_it_again(sandbox, acme, admin_client):
    listed = text(admin_client.get(reverse("credentials:list")))
    assert "App Gateway" in listed and "never used" in listed
    row = key(marked=True)
    page = text(admin_client.get(reverse("credentials:key", args=[row.access_key])))
    assert "Type the access key" in page

    wrong = admin_client.post(
        reverse("credentials:revoke", args=[row.access_key]), {"confirm": "yes"}, follow=True
    )
    assert "type the access key again" in text(wrong)
    assert inventory.find_key(row.access_key) is not None
    admin_client.post(
        reverse("credentials:revoke", args=[row.access_key]), {"confirm": row.access_key}
    )
    assert inventory.find_key(row.access_key) is None
    assert sandbox.credentials(row.user_id) == []


def test_rotate_shows_the_new_key_once_then_revokes_the_old_one(sandbox, acme, admin_client):
    session = admin_client.session
    session[SIGNED_IN_AT] = time.time()
    session.save()
    old = key(marked=False)

    shown = admin_client.post(reverse("credentials:rotate", args=[old.access_key]))

    assert shown.status_code == 200 and "no-store" in shown["Cache-Control"]
    body = text(shown)
    new = [c for c in sandbox.credentials(old.user_id) if c["access_key"] != old.access_key][0]
    assert new["access_key"] in body and "secret_key" in body
    assert reverse("tenants:onboarding", args=[acme.pk]) in body
    assert "shown only this once" in body
    revocation = Changeset.objects.get(kind="credentials.revoke", status="planned")
    assert old.access_key in {c["access_key"] for c in sandbox.credentials(old.user_id)}

    admin_client.post(reverse("credentials:rotation_finish", args=[revocation.pk]))
    assert [c["access_key"] for c in sandbox.credentials(old.user_id)] == [new["access_key"]]
    revocation.refresh_from_db()
    assert revocation.status == "applied"
    # the secret is nowhere but that one answer
    secret = re.search(r'<code id="rotated-secret">([^<]+)</code>', shown.content.decode())
    assert secret is not None
    stored = json.dumps(list(AuditEntry.objects.values("before", "after", "calls", "error")))
    assert secret.group(1) not in stored


def test_rotating_needs_a_recent_sign_in(sandbox, acme, admin_client):
    session = admin_client.session
    session[SIGNED_IN_AT] = time.time() - 24 * 3600
    session.save()
    answer = admin_client.post(reverse("credentials:rotate", args=[key(False).access_key]))
    assert answer.status_code == 302 and "reauth" in answer["Location"]
    assert "auth.create_credentials" not in sandbox.calls


def test_with_approvals_on_a_revocation_waits_for_a_second_admin(
    sandbox, acme, admin_client, settings
):
    settings.CONSOLE_APPROVALS = True
    row = key(marked=False)
    admin_client.post(reverse("credentials:revoke", args=[row.access_key]))
    held = Changeset.objects.get(kind="credentials.revoke")
    assert held.status == "awaiting_approval"
    assert "auth.revoke_credentials" not in sandbox.calls
    assert inventory.find_key(row.access_key) is not None


def test_htmx_gets_only_the_rows(sandbox, acme, admin_client):
    url = reverse("credentials:list")
    fragment = admin_client.get(url, {"usage": "never"}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and "<h1>" not in fragment.content.decode()
    assert "2 keys of 1 tenant" in text(fragment)
    assert "HX-Request" in fragment["Vary"]
