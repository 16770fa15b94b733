"""Four-eyes approvals (CONSOLE_APPROVALS): a risky or bulk change waits for a second admin.

Two signed-in people: `admin_client` (the local admin, "admin (local)") asks for changes and
`bob` (another admin, "bob@example.com") approves or rejects them. A held change changes nothing
(no row, no apiserver call, one `change.request` audit entry); an approval with the hash shown
applies it; the requester, a stale hash and a changeset changed after its approval are refused.
"""

import ast
import io
import textwrap
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

import changes
from changes import offboarding
from changes.apply import APPLIERS, NotApplicable, changeset_apply
from changes.approvals import (
    ApprovalRefused,
    HashMismatch,
    NotAllowed,
    NotDecidable,
    changeset_approve,
    changeset_reject,
)
from changes.models import Changeset
from changes.plan import RISKY_KINDS
from changes.tenant_input import validate_tenant_entry as validate_tenant
from changes.tenants import tenant_apply, tenant_create
from console.audit.models import AuditEntry
from console.roles import SESSION_KEY, Role
from sso.models import LoginDomain, WhitelistEntry
from sso.multitenant.models import MultiTenantLogin
from sso.providers.models import IdentityProvider
from tenants.groups.models import CrossTenantGroup
from tenants.groups.services import group_create
from tenants.models import IssuedCredential, ProvisioningStep, Tenant, TenantAdmin
from tests.test_idp_pages import KEYCLOAK_POST
from tests.test_idp_pages import SECRET as IDP_SECRET

pytestmark = pytest.mark.django_db

REQUESTER = "admin (local)"
APPROVER = "bob@example.com"


@pytest.fixture
def approvals(settings):
    settings.CONSOLE_APPROVALS = True
    return settings


MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def signed_in_admin(client, user) -> None:
    """Sign `user` in on `client` as an admin, with a fresh sign-in (CONSOLE_REAUTH_MINUTES)."""
    client.force_login(user, backend=MODEL_BACKEND)
    session = client.session
    session[SESSION_KEY] = Role.ADMIN.label
    session["console_signed_in_at"] = time.time()
    session.save()


@pytest.fixture
def bob(django_user_model, settings):
    """A second admin, a person other than the local admin (signed in with Django's model
    backend here; in the console, through OpenID Connect)."""
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, MODEL_BACKEND]
    user = django_user_model.objects.create_user(
        username="bob", email=APPROVER, password="not used here"
    )
    other = Client()
    signed_in_admin(other, user)
    return other


@pytest.fixture
def acme():
    tenant = Tenant.objects.create(name="Acme Research")
    LoginDomain.objects.create(tenant=tenant, domain="acme.io")
    return tenant


def remove_domain(client, tenant, key="acme.io"):
    url = reverse("sso:routing_remove", args=[tenant.pk, "domain"])
    return client.post(url, {"key": key}, follow=True)


def entries(changeset: Changeset) -> list[str]:
    return list(
        AuditEntry.objects.filter(changeset=changeset.audit_key)
        .order_by("seq")
        .values_list("action", flat=True)
    )


def approve_page(client, changeset: Changeset, content_hash: str | None = None):
    return client.post(
        reverse("changes:approve", args=[changeset.pk]),
        {"content_hash": changeset.content_hash if content_hash is None else content_hash},
        follow=True,
    )


# -- a risky change waits ----------------------------------------------------------------------
def test_a_risky_change_waits_and_changes_nothing(approvals, admin_client, acme):
    audit_before = AuditEntry.objects.count()
    page = remove_domain(admin_client, acme).content.decode()
    assert "Waiting for approval" in page and "an admin other than admin (local)" in page
    assert acme.login_domains.filter(domain="acme.io").exists()  # nothing removed
    [changeset] = Changeset.objects.filter(kind="routing.remove")
    assert changeset.status == "awaiting_approval" and changeset.requested_by == REQUESTER
    assert changeset.desired == {"tenant": acme.pk, "kind": "domain", "key": "acme.io"}
    assert [(s.kind, s.status, s.risky) for s in changeset.steps.all()] == [
        ("routing.remove", "planned", True)
    ]
    assert changeset.steps.get().before["domains"] == ["acme.io"]
    assert changeset.content_hash and not changeset.approved_hash
    # The audit has only the request, carrying the changeset's id.
    assert AuditEntry.objects.count() == audit_before + 1
    [request] = AuditEntry.objects.filter(changeset=changeset.audit_key)
    assert (request.action, request.actor, request.target_id) == (
        "change.request",
        REQUESTER,
        str(changeset.pk),
    )
    assert "routing.remove is a risky change" in request.after["reason"]


def test_applying_a_waiting_changeset_says_who_may_approve(approvals, admin_client, acme):
    remove_domain(admin_client, acme)
    changeset = Changeset.objects.get(kind="routing.remove")
    with pytest.raises(NotApplicable, match="waits for approval: an admin other than admin"):
        changeset_apply(changeset, actor=REQUESTER)
    page = admin_client.post(reverse("changes:apply", args=[changeset.pk]), follow=True)
    assert "an admin other than admin (local) approves it" in page.content.decode()
    assert acme.login_domains.exists()
    assert entries(changeset) == ["change.request"]


def test_the_same_request_again_is_the_waiting_changeset(approvals, admin_client, acme):
    remove_domain(admin_client, acme)
    remove_domain(admin_client, acme)
    assert Changeset.objects.filter(kind="routing.remove").count() == 1


# -- approve -----------------------------------------------------------------------------------
def test_a_second_admin_approves_with_the_shown_hash_and_it_applies(
    approvals, admin_client, bob, acme
):
    remove_domain(admin_client, acme)
    changeset = Changeset.objects.get(kind="routing.remove")
    # The requester sees no buttons; the other admin does, with the hash.
    mine = admin_client.get(reverse("changes:detail", args=[changeset.pk])).content.decode()
    assert "Waiting for approval" in mine and 'name="content_hash"' not in mine
    page = bob.get(reverse("changes:detail", args=[changeset.pk])).content.decode()
    assert f'name="content_hash" value="{changeset.content_hash}"' in page
    assert "Approve and apply" in page and "Reject" in page

    response = approve_page(bob, changeset)
    assert response.status_code == 200
    assert "Approved and applied." in response.content.decode()
    assert not acme.login_domains.exists()
    changeset.refresh_from_db()
    assert changeset.status == "applied" and changeset.applied_at
    assert changeset.approved_by == APPROVER and changeset.approved_at
    assert changeset.approved_hash == changeset.content_hash
    assert [(s.kind, s.status) for s in changeset.steps.all()] == [("routing.remove", "done")]
    assert entries(changeset) == ["change.request", "change.approve", "login.routing.update"]
    approve = AuditEntry.objects.get(action="change.approve")
    assert approve.actor == APPROVER and approve.target_id == str(changeset.pk)
    assert approve.after["content_hash"] == changeset.content_hash
    assert AuditEntry.objects.get(action="login.routing.update").actor == APPROVER
    html = bob.get(reverse("changes:detail", args=[changeset.pk])).content.decode()
    assert "Approved by" in html and APPROVER in html


def test_an_approval_asks_for_a_fresh_sign_in(approvals, admin_client, bob, acme, settings):
    remove_domain(admin_client, acme)
    changeset = Changeset.objects.get(kind="routing.remove")
    session = bob.session
    session["console_signed_in_at"] = time.time() - (settings.CONSOLE_REAUTH_MINUTES + 1) * 60
    session.save()
    response = bob.post(
        reverse("changes:approve", args=[changeset.pk]),
        {"content_hash": changeset.content_hash},
    )
    assert response.status_code == 302 and "reauth=1" in response["Location"]
    changeset.refresh_from_db()
    assert changeset.status == "awaiting_approval" and acme.login_domains.exists()


def test_the_requester_cannot_approve_their_own_change(approvals, admin_client, acme):
    remove_domain(admin_client, acme)
    changeset = Changeset.objects.get(kind="routing.remove")
    with pytest.raises(NotAllowed) as refused:
        changeset_approve(
            changeset, actor=REQUESTER, role=Role.ADMIN, content_hash=changeset.content_hash
        )
    assert refused.value.status == 403 and "an admin other than admin (local)" in str(refused.value)
    response = approve_page(admin_client, changeset)
    assert response.status_code == 403
    assert "You asked for changeset" in response.content.decode()
    changeset.refresh_from_db()
    assert changeset.status == "awaiting_approval" and not changeset.approved_by
    assert acme.login_domains.exists()
    assert entries(changeset) == ["change.request"]


def test_only_an_admin_approves(approvals, admin_client, acme):
    remove_domain(admin_client, acme)
    changeset = Changeset.objects.get(kind="routing.remove")
    for role in (None, Role.VIEWER, Role.OPERATOR):
        with pytest.raises(NotAllowed) as refused:
            changeset_approve(
                changeset, actor=APPROVER, role=role, content_hash=changeset.content_hash
            )
        assert refused.value.status == 403


def test_a_stale_hash_is_refused(approvals, admin_client, bob, acme):
    remove_domain(admin_client, acme)
    changeset = Changeset.objects.get(kind="routing.remove")
    with pytest.raises(HashMismatch) as refused:
        changeset_approve(changeset, actor=APPROVER, role=Role.ADMIN, content_hash="0" * 64)
    assert refused.value.status == 409 and "changed since you saw it" in refused.value.message
    response = approve_page(bob, changeset, content_hash="0" * 64)
    assert response.status_code == 409 and "changed since you saw it" in response.content.decode()
    # The stored steps changed under the same stored hash: refused as well.
    changeset.steps.update(after={"domains": ["other.io"]})
    with pytest.raises(HashMismatch):
        changeset_approve(
            changeset, actor=APPROVER, role=Role.ADMIN, content_hash=changeset.content_hash
        )
    changeset.refresh_from_db()
    assert changeset.status == "awaiting_approval"
    assert acme.login_domains.exists()


def test_only_a_waiting_changeset_is_decided(approvals, admin_client, acme):
    remove_domain(admin_client, acme)
    changeset = Changeset.objects.get(kind="routing.remove")
    changeset_approve(
        changeset, actor=APPROVER, role=Role.ADMIN, content_hash=changeset.content_hash
    )
    for decide in (changeset_approve, changeset_reject):
        with pytest.raises(NotDecidable) as refused:
            decide(changeset, actor="carol", role=Role.ADMIN, content_hash=changeset.content_hash)
        assert refused.value.status == 409 and isinstance(refused.value, ApprovalRefused)


def test_a_changeset_changed_after_its_approval_is_not_applied(approvals, admin_client, acme):
    remove_domain(admin_client, acme)
    changeset = Changeset.objects.get(kind="routing.remove")
    changeset_approve(
        changeset, actor=APPROVER, role=Role.ADMIN, content_hash=changeset.content_hash
    )
    before = changeset.steps.get().before
    changeset.steps.update(before={"domains": ["beta.io"]})  # changed after the approval
    with pytest.raises(NotApplicable, match="changed after bob@example.com approved it"):
        changeset_apply(changeset, actor=APPROVER)
    assert acme.login_domains.exists()
    changeset.refresh_from_db()
    assert changeset.status == "awaiting_approval"
    assert (changeset.approved_by, changeset.approved_hash) == ("", "")
    assert entries(changeset) == ["change.request", "change.approve", "change.approval_void"]
    # A changed content hash voids it the same way.
    changeset.steps.update(before=before)
    changeset_approve(
        changeset, actor=APPROVER, role=Role.ADMIN, content_hash=changeset.content_hash
    )
    Changeset.objects.filter(pk=changeset.pk).update(content_hash="f" * 64)
    changeset.refresh_from_db()
    with pytest.raises(NotApplicable, match="changed after"):
        changeset_apply(changeset, actor=APPROVER)
    assert acme.login_domains.exists()


def test_an_approved_change_the_console_outran_is_not_applied(approvals, admin_client, bob):
    group = group_create(data={"name": "ops", "features": ["experiments"]}, actor="seed")
    admin_client.post(reverse("tenants:group_delete", args=[group.pk]), {"version": 1})
    changeset = Changeset.objects.get(kind="group.delete")
    assert changeset.status == "awaiting_approval" and CrossTenantGroup.objects.exists()
    CrossTenantGroup.objects.filter(pk=group.pk).update(version=2)  # someone edited it meanwhile
    page = approve_page(bob, changeset).content.decode()
    assert "was not applied" in page
    changeset.refresh_from_db()
    assert changeset.status == "failed" and "Not applied" in changeset.error
    assert CrossTenantGroup.objects.filter(pk=group.pk).exists()
    assert "group.delete" not in entries(changeset)


# -- reject ------------------------------------------------------------------------------------
def test_reject(approvals, admin_client, bob, acme):
    remove_domain(admin_client, acme)
    changeset = Changeset.objects.get(kind="routing.remove")
    with pytest.raises(NotAllowed):
        changeset_reject(changeset, actor=REQUESTER, role=Role.ADMIN)
    response = bob.post(
        reverse("changes:reject", args=[changeset.pk]),
        {"content_hash": changeset.content_hash, "reason": "we still use acme.io"},
        follow=True,
    )
    assert "Rejected" in response.content.decode()
    changeset.refresh_from_db()
    assert changeset.status == "rejected" and changeset.rejected_by == APPROVER
    assert changeset.rejected_at and "Rejected by bob@example.com: we still use acme.io" in (
        changeset.notes
    )
    assert entries(changeset) == ["change.request", "change.reject"]
    reject = AuditEntry.objects.get(action="change.reject")
    assert reject.target_id == str(changeset.pk) and reject.after["reason"]
    with pytest.raises(NotApplicable):
        changeset_apply(changeset, actor=APPROVER)
    assert acme.login_domains.exists()
    html = bob.get(reverse("changes:detail", args=[changeset.pk])).content.decode()
    assert "Rejected by" in html


# -- what is held, what is not -----------------------------------------------------------------
def test_a_change_that_is_not_risky_is_not_held(approvals, admin_client, acme):
    url = reverse("sso:routing_add", args=[acme.pk, "user"])
    assert admin_client.post(url, {"value": "bob@acme.io"}).status_code == 302
    assert WhitelistEntry.objects.filter(tenant=acme, email="bob@acme.io").exists()
    assert Changeset.objects.get(kind="routing.add").status == "applied"
    assert not AuditEntry.objects.filter(action="change.request").exists()


def test_with_approvals_off_a_risky_change_applies_at_once(admin_client, acme):
    page = remove_domain(admin_client, acme).content.decode()
    assert "Removed acme.io" in page and "Waiting for approval" not in page
    assert not acme.login_domains.exists()
    assert Changeset.objects.get(kind="routing.remove").status == "applied"
    assert not AuditEntry.objects.filter(action="change.request").exists()


def test_every_risky_console_only_change_has_an_applier():
    """A kind the plan calls risky that a face records with local_change must be appliable once
    approved (changes/apply.py APPLIERS), or it could wait for ever."""
    kinds = set()
    for path in Path(changes.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "local_change":
                for kw in node.keywords:
                    if kw.arg == "kind" and isinstance(kw.value, ast.Constant):
                        kinds.add(kw.value.value)
    assert "routing.remove" in kinds and "idp.update" in kinds
    assert {k for k in kinds if k in RISKY_KINDS} <= set(APPLIERS)


def test_the_dashboard_and_the_list_show_what_waits(approvals, admin_client, bob, acme):
    remove_domain(admin_client, acme)
    dashboard = bob.get(reverse("dashboard")).content.decode()
    assert "1</span> change waiting for approval" in dashboard
    listed = bob.get(reverse("changes:list") + "?status=awaiting_approval").content.decode()
    assert "Remove acme.io from the sign-in routing" in listed
    assert (
        "Remove acme.io"
        not in bob.get(reverse("changes:list") + "?status=applied").content.decode()
    )


# -- identity providers, switches, tenants -----------------------------------------------------
def keycloak(client) -> IdentityProvider:
    client.post(reverse("sso:provider_add", args=["keycloak"]), KEYCLOAK_POST)
    return IdentityProvider.objects.get(provider="keycloak")


def edit_keycloak(client, **changes):
    data = {**KEYCLOAK_POST, "client_secret": "", "version": 1, **changes}
    return client.post(reverse("sso:provider_edit", args=["keycloak"]), data, follow=True)


def test_an_identity_provider_edit_waits_and_keeps_no_typed_secret(approvals, admin_client, bob):
    row = keycloak(admin_client)  # creating one is not risky
    assert Changeset.objects.get(kind="idp.create").status == "applied"
    # A typed new secret cannot wait: the console would have to keep it.
    page = edit_keycloak(admin_client, client_secret="a-new-literal").content.decode()
    assert "write env:NAME here" in page
    assert not Changeset.objects.filter(kind="idp.update").exists()
    # The secret kept (left empty) or written env:NAME: the change waits, its desired has none.
    page = edit_keycloak(admin_client, client_id="clearml-2").content.decode()
    assert "Waiting for approval" in page
    changeset = Changeset.objects.get(kind="idp.update")
    assert changeset.status == "awaiting_approval"
    assert IDP_SECRET not in str(changeset.desired) and changeset.desired["secrets"] == {
        "client_secret": "(kept)"
    }
    row.refresh_from_db()
    assert row.settings["client_id"] == "clearml" and row.version == 1
    approve_page(bob, changeset)
    row.refresh_from_db()
    assert row.settings["client_id"] == "clearml-2" and row.version == 2
    assert row.secrets == {"client_secret": IDP_SECRET}
    assert Changeset.objects.get(pk=changeset.pk).status == "applied"


def test_an_identity_provider_delete_waits_for_approval(approvals, admin_client, bob):
    keycloak(admin_client)
    page = admin_client.post(reverse("sso:provider_delete", args=["keycloak"]), follow=True)
    assert "Waiting for approval" in page.content.decode()
    assert IdentityProvider.objects.exists()
    approve_page(bob, Changeset.objects.get(kind="idp.delete"))
    assert not IdentityProvider.objects.exists()


def test_the_multi_tenant_login_switches_wait_for_approval(approvals, admin_client, bob):
    url = reverse("sso:multitenant")
    page = admin_client.post(url, {"enabled": "on"}, follow=True).content.decode()
    assert "Waiting for approval" in page and not MultiTenantLogin.objects.exists()
    approve_page(bob, Changeset.objects.get(kind="multi_tenant_login.update"))
    assert MultiTenantLogin.objects.get().enabled is True


def test_marking_a_tenant_deleted_waits_for_approval(approvals, admin_client, bob):
    tenant = Tenant.objects.create(name="Acme Research", company_id="c0ffee01", status="active")
    url = reverse("tenants:delete", args=[tenant.pk])
    data = {"confirm_name": tenant.name, "step": "mark", "ran": "yes", "version": tenant.version}
    page = admin_client.post(url, data, follow=True).content.decode()
    assert "Waiting for approval" in page
    tenant.refresh_from_db()
    assert not tenant.is_deleted
    changeset = Changeset.objects.get(kind="tenant.delete")
    assert changeset.desired["typed_name"] == "Acme Research"
    approve_page(bob, changeset)
    tenant.refresh_from_db()
    assert tenant.is_deleted


# -- calls to the apiserver ----------------------------------------------------------------------
@pytest.fixture
def offboarded_routing(sandbox, sandbox_settings):
    """Acme on the sandbox, one admin with one key, its routing removed and pushed (step 1)."""
    from tests.test_tenants_provisioning import create, tenant_provision

    tenant = create()
    assert tenant_provision(tenant=tenant, actor="admin").ok
    tenant.refresh_from_db()
    assert offboarding.offboarding_routing(tenant=tenant, actor="admin").job.status == "done"
    return tenant


def test_revoking_credentials_waits_and_calls_nothing_until_approved(
    offboarded_routing, approvals, admin_client, bob, sandbox
):
    tenant = offboarded_routing
    [issued] = IssuedCredential.objects.all()
    calls = len(sandbox.calls)
    page = admin_client.post(reverse("tenants:offboard_credentials", args=[tenant.pk]), follow=True)
    assert "Waiting for approval" in page.content.decode()
    assert len(sandbox.calls) == calls  # no apiserver call
    assert not ProvisioningStep.objects.filter(kind="credentials.revoke").exists()
    changeset = Changeset.objects.get(kind=offboarding.REVOKE_KIND)
    assert changeset.status == "awaiting_approval"
    assert [(s.kind, s.risky) for s in changeset.steps.all()] == [("credentials.revoke", True)]
    assert entries(changeset) == ["change.request"]
    # Nothing was journaled: resuming the tenant from its page has nothing to send.
    assert tenant_apply(tenant=tenant, actor=REQUESTER).outcome.nothing_to_do
    assert len(sandbox.calls) == calls

    response = approve_page(bob, changeset)
    assert response.status_code == 200
    assert sandbox.calls[calls:] == ["auth.revoke_credentials"]
    issued.refresh_from_db()
    assert issued.revoked_at is not None
    changeset.refresh_from_db()
    assert changeset.status == "applied" and changeset.approved_by == APPROVER
    assert [s.status for s in changeset.steps.all()] == ["done"]


def test_a_held_offboarding_routing_removal_is_not_pushed(
    approvals, admin_client, bob, sandbox, sandbox_settings
):
    from tests.test_tenants_provisioning import create, tenant_provision

    tenant = create()
    assert tenant_provision(tenant=tenant, actor="admin").ok
    calls = len(sandbox.calls)
    page = admin_client.post(reverse("tenants:offboard_routing", args=[tenant.pk]), follow=True)
    assert "Waiting for approval" in page.content.decode()
    assert len(sandbox.calls) == calls
    assert LoginDomain.objects.filter(tenant=tenant).exists()
    approve_page(bob, Changeset.objects.get(kind=offboarding.ROUTING_KIND))
    assert not LoginDomain.objects.filter(tenant=tenant).exists()
    assert not WhitelistEntry.objects.filter(tenant=tenant).exists()


def test_a_bulk_tenant_creation_waits_for_approval(
    approvals, monkeypatch, admin_client, bob, sandbox, sandbox_settings
):
    monkeypatch.setattr("changes.plan.BULK_STEPS", 2)
    data = validate_tenant(
        {"name": "Acme Research", "admins": [{"name": "Alice", "email": "alice@acme.io"}]},
        require_admin=True,
    )
    changeset, tenant = tenant_create(data=data, actor=REQUESTER)
    assert changeset.status == "awaiting_approval"
    assert "more than 2" in changeset.notes[-1]
    calls = len(sandbox.calls)
    page = admin_client.post(reverse("tenants:apply", args=[tenant.pk]), follow=True)
    assert "waits for approval" in page.content.decode()
    assert len(sandbox.calls) == calls
    approve_page(bob, changeset)
    tenant.refresh_from_db()
    assert tenant.status == "active" and tenant.company_id
    assert Changeset.objects.get(pk=changeset.pk).status == "applied"
    assert TenantAdmin.objects.get(tenant=tenant).user_id


SPEC = """
version: 1
tenants:
  - name: Acme Research
    admins:
      - {name: Alice, email: alice@acme.io}
"""


@pytest.mark.django_db(transaction=True)
def test_a_bulk_spec_apply_waits_and_the_approved_plan_is_applied_by_the_next_apply(
    approvals, monkeypatch, tmp_path, sandbox, sandbox_settings
):
    monkeypatch.setattr("changes.plan.BULK_STEPS", 2)
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(SPEC))
    calls = len(sandbox.calls)
    with pytest.raises(CommandError) as held:
        call_command("apply", str(spec), "--yes", stdout=io.StringIO(), stderr=io.StringIO())
    assert held.value.returncode == 4 and "waits for approval" in str(held.value)
    assert [c for c in sandbox.calls[calls:] if not c.startswith(("system.get", "users.get"))] == []
    assert not Tenant.objects.exists()
    changeset = Changeset.objects.get(kind="spec")
    assert changeset.status == "awaiting_approval"
    assert changeset.desired == {"source": str(spec), "prune": False}
    with pytest.raises(NotApplicable, match="manage.py apply"):
        changeset_approve(
            changeset, actor=APPROVER, role=Role.ADMIN, content_hash=changeset.content_hash
        )
        changeset_apply(changeset, actor=APPROVER)
    out = io.StringIO()
    call_command("apply", str(spec), "--yes", stdout=out, stderr=io.StringIO())
    assert f"(changeset {changeset.pk})" in out.getvalue()
    assert Tenant.objects.get().status == "active"
    changeset.refresh_from_db()
    assert changeset.status == "applied" and changeset.approved_by == APPROVER
    assert Changeset.objects.filter(kind="spec").count() == 1
