"""Offboarding a tenant as a checklist of changesets, against the sandbox apiserver: remove its
sign-in routing and push that, revoke the keys the console issued, then the deletion runbook."""

import pytest
from django.urls import reverse

from changes import offboarding
from changes.models import Changeset
from console.audit.models import AuditEntry
from sso.models import LoginDomain, WhitelistEntry
from tenants.models import IssuedCredential, ProvisioningStep, Tenant, TenantAdmin
from tests.test_tenants_provisioning import changing_calls, create, tenant_provision

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant(sandbox, sandbox_settings):
    """Acme Research on the sandbox: one admin with one key, a domain and a whitelisted user."""
    tenant = create()
    assert tenant_provision(tenant=tenant, actor="admin").ok
    tenant.refresh_from_db()
    return tenant


def states(tenant) -> dict[str, str]:
    return {step.key: step.state for step in offboarding.offboarding_checklist(tenant)}


def delete_page(admin_client, tenant) -> str:
    response = admin_client.get(reverse("tenants:delete", args=[tenant.pk]))
    assert response.status_code == 200
    return response.content.decode()


def post(admin_client, name: str, tenant):
    response = admin_client.post(reverse(f"tenants:{name}", args=[tenant.pk]), follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_the_checklist_starts_pending_and_its_page_calls_nothing(admin_client, tenant, sandbox):
    calls = len(sandbox.calls)
    page = delete_page(admin_client, tenant)
    assert "Offboarding checklist" in page
    assert "Remove the routing and push" in page and "Waits for step 1." in page
    assert "Steps 1 and 2 are not done" in page
    assert "The console holds 1 domain(s) and 1 whitelisted email(s)." in page
    assert states(tenant) == {"routing": "pending", "credentials": "pending", "delete": "pending"}
    assert len(sandbox.calls) == calls


def test_revoking_before_the_routing_is_removed_is_refused(admin_client, tenant, sandbox):
    calls = list(sandbox.calls)
    page = post(admin_client, "offboard_credentials", tenant)
    assert "Remove the tenant&#x27;s sign-in routing first" in page
    assert sandbox.calls == calls
    assert not Changeset.objects.filter(kind=offboarding.REVOKE_KIND).exists()


def test_the_whole_checklist_in_order(admin_client, tenant, sandbox):
    admin = TenantAdmin.objects.get()
    [issued] = IssuedCredential.objects.all()
    assert [c["access_key"] for c in sandbox.credentials(admin.user_id)] == [issued.access_key]

    # 1. routing: removed in the console (a risky step), then pushed (login.* calls).
    before = len(sandbox.calls)
    page = post(admin_client, "offboard_routing", tenant)
    assert "The server&#x27;s routing is empty now" in page
    assert sandbox.login_settings(tenant.company_id) == {"domains": [], "whitelist": []}
    assert not LoginDomain.objects.filter(tenant=tenant).exists()
    assert not WhitelistEntry.objects.filter(tenant=tenant).exists()
    assert changing_calls_since(sandbox, before) == [
        "login.set_domains",
        "login.remove_whitelist_entries",
    ]
    cleared = Changeset.objects.get(kind=offboarding.ROUTING_KIND)
    assert cleared.status == "applied" and cleared.desired["tenant"] == tenant.pk
    [step] = cleared.steps.all()
    assert (step.kind, step.risky, step.status) == ("routing.remove", True, "done")
    assert step.before == {"domains": ["acme.io"], "admins": [], "users": ["bob@gmail.com"]}
    push = Changeset.objects.get(kind="routing.push")
    assert push.status == "applied"
    assert [(s.kind, s.risky) for s in push.steps.all()] == [
        ("login.set_domains", True),
        ("login.remove_whitelist_entries", True),
    ]
    entry = AuditEntry.objects.get(action=offboarding.ROUTING_ACTION)
    assert entry.changeset == cleared.audit_key
    assert states(tenant)["routing"] == "done"

    # 2. credentials: auth.revoke_credentials impersonating the admin, through the journal.
    before = len(sandbox.calls)
    page = post(admin_client, "offboard_credentials", tenant)
    assert "Revoked the keys the console issued." in page
    assert changing_calls_since(sandbox, before) == ["auth.revoke_credentials"]
    request = sandbox.requests[-1]
    assert request["impersonate_as"] == admin.user_id
    assert sandbox.credentials(admin.user_id) == []
    issued.refresh_from_db()
    assert issued.revoked_at is not None
    revoke = Changeset.objects.get(kind=offboarding.REVOKE_KIND)
    assert revoke.status == "applied"
    [step] = revoke.steps.all()
    assert (step.kind, step.risky, step.status) == ("credentials.revoke", True, "done")
    assert step.call["endpoint"] == "auth.revoke_credentials"
    assert step.call["body"] == {"access_key": issued.access_key}
    assert step.call["impersonate_as"] == admin.user_id
    journal = ProvisioningStep.objects.get(kind="credentials.revoke")
    assert journal.changeset == revoke.audit_key and journal.status == "done"
    outcomes = AuditEntry.objects.filter(action="auth.revoke_credentials").order_by("seq")
    assert [e.outcome for e in outcomes] == ["pending", "success"]
    assert outcomes[1].outcome_of == outcomes[0].seq
    assert {e.changeset for e in outcomes} == {revoke.audit_key}
    assert states(tenant) == {"routing": "done", "credentials": "done", "delete": "pending"}

    # The changeset pages show both steps' changesets; the checklist links them.
    page = delete_page(admin_client, tenant)
    for changeset in (cleared, push, revoke):
        assert reverse("changes:detail", args=[changeset.pk]) in page
    detail = admin_client.get(reverse("changes:detail", args=[revoke.pk])).content.decode()
    assert "auth.revoke_credentials" in detail and issued.access_key in detail
    assert "Steps 1 and 2 are not done" not in page

    # 3. the runbook, then mark deleted.
    url = reverse("tenants:delete", args=[tenant.pk])
    data = {"step": "mark", "confirm_name": tenant.name, "version": tenant.version, "ran": "yes"}
    assert admin_client.post(url, data).status_code == 302
    tenant.refresh_from_db()
    assert tenant.is_deleted
    assert states(tenant)["delete"] == "done"


def changing_calls_since(sandbox, start: int) -> list[str]:
    class Since:
        calls = sandbox.calls[start:]

    return changing_calls(Since)


def test_a_failed_push_shows_its_changeset_and_running_the_step_again_finishes_it(
    admin_client, tenant, sandbox
):
    sandbox.fail_next("login.remove_whitelist_entries", status=500, message="mongo hiccup")
    page = post(admin_client, "offboard_routing", tenant)
    assert "The push stopped" in page
    checklist = {s.key: s for s in offboarding.offboarding_checklist(tenant)}
    routing = checklist["routing"]
    assert routing.state == "failed" and "mongo hiccup" in routing.error
    push = Changeset.objects.get(kind="routing.push")
    assert push.status == "failed" and push in routing.changesets
    page = delete_page(admin_client, tenant)
    assert "Resume the push" in page and "mongo hiccup" in page
    assert reverse("changes:detail", args=[push.pk]) in page
    post(admin_client, "offboard_routing", tenant)
    assert sandbox.login_settings(tenant.company_id) == {"domains": [], "whitelist": []}
    assert states(tenant)["routing"] == "done"
    # The removal in the console was made once: a second run had nothing to remove.
    assert Changeset.objects.filter(kind=offboarding.ROUTING_KIND).count() == 1
    assert Changeset.objects.get(pk=push.pk).status == "applied"


def test_a_failed_revocation_is_resumed_from_the_checklist(admin_client, tenant, sandbox):
    offboarding.offboarding_routing(tenant=tenant, actor="admin")
    admin = TenantAdmin.objects.get()
    sandbox.fail_next("auth.revoke_credentials", status=400, message="not now")
    page = post(admin_client, "offboard_credentials", tenant)
    assert "Revoking stopped" in page and "not now" in page
    step = {s.key: s for s in offboarding.offboarding_checklist(tenant)}["credentials"]
    revoke = Changeset.objects.get(kind=offboarding.REVOKE_KIND)
    assert step.state == "failed" and "not now" in step.error and step.changesets == [revoke]
    assert len(sandbox.credentials(admin.user_id)) == 1
    assert "Resume revoking" in delete_page(admin_client, tenant)
    post(admin_client, "offboard_credentials", tenant)
    assert sandbox.credentials(admin.user_id) == []
    # The same changeset (and journal run) was resumed, not a second one recorded.
    assert Changeset.objects.filter(kind=offboarding.REVOKE_KIND).count() == 1
    assert Changeset.objects.get(pk=revoke.pk).status == "applied"
    assert states(tenant)["credentials"] == "done"


def test_a_revocation_is_resumable_from_its_changeset_page(admin_client, tenant, sandbox):
    offboarding.offboarding_routing(tenant=tenant, actor="admin")
    admin = TenantAdmin.objects.get()
    sandbox.fail_next("auth.revoke_credentials", status=500, message="gone fishing")
    applied = offboarding.offboarding_revoke(tenant=tenant, actor="admin")
    assert not applied.outcome.ok
    revoke = applied.changeset
    response = admin_client.post(reverse("changes:apply", args=[revoke.pk]))
    assert response.status_code == 200
    assert sandbox.credentials(admin.user_id) == []
    assert Changeset.objects.get(pk=revoke.pk).status == "applied"
    # The checklist reads the journal: done although revoked_at is set by the next step run.
    assert states(tenant)["credentials"] == "done"


def test_a_lost_revoke_answer_is_sent_again_and_counts_as_done(tenant, sandbox):
    offboarding.offboarding_routing(tenant=tenant, actor="admin")
    admin = TenantAdmin.objects.get()
    sandbox.fail_next("auth.revoke_credentials", drop_answer=True)
    applied = offboarding.offboarding_revoke(tenant=tenant, actor="admin")
    assert not applied.outcome.ok
    assert sandbox.credentials(admin.user_id) == []  # it took effect; the answer was lost
    applied = offboarding.offboarding_revoke(tenant=tenant, actor="admin")
    assert applied.outcome.ok  # revoking again revokes nothing and is not an error
    assert IssuedCredential.objects.get().revoked_at is not None


def test_keys_made_outside_the_console_are_left_alone(tenant, sandbox):
    admin = TenantAdmin.objects.get()
    own_key, _ = sandbox.seed_credentials(admin.user_id, label="made in the web app")
    offboarding.offboarding_routing(tenant=tenant, actor="admin")
    offboarding.offboarding_revoke(tenant=tenant, actor="admin")
    assert [c["access_key"] for c in sandbox.credentials(admin.user_id)] == [own_key]


def test_nothing_to_revoke_records_nothing(tenant, sandbox):
    IssuedCredential.objects.all().delete()
    offboarding.offboarding_routing(tenant=tenant, actor="admin")
    calls = list(sandbox.calls)
    assert offboarding.offboarding_revoke(tenant=tenant, actor="admin") is None
    assert sandbox.calls == calls
    assert not Changeset.objects.filter(kind=offboarding.REVOKE_KIND).exists()
    step = {s.key: s for s in offboarding.offboarding_checklist(tenant)}["credentials"]
    assert step.state == "done" and "issued no key" in step.summary


def test_a_routing_change_after_the_push_reopens_step_one(tenant, sandbox):
    from changes.routing import routing_add

    offboarding.offboarding_routing(tenant=tenant, actor="admin")
    assert states(tenant)["routing"] == "done"
    routing_add(tenant=tenant, kind="domain", values=["acme.org"], actor="admin")
    assert states(tenant)["routing"] == "pending"
    offboarding.offboarding_routing(tenant=tenant, actor="admin")
    assert states(tenant)["routing"] == "done"
    assert sandbox.login_settings(tenant.company_id)["domains"] == []


def test_the_servers_routing_at_a_later_refresh_reopens_step_one(tenant, sandbox):
    from changes.refresh import refresh_server_state

    offboarding.offboarding_routing(tenant=tenant, actor="admin")
    sandbox.seed_login(tenant.company_id, domains=["sneaky.io"])
    assert refresh_server_state().reached
    step = {s.key: s for s in offboarding.offboarding_checklist(tenant)}["routing"]
    assert step.state == "pending" and "the server listed 1 domain(s)" in step.summary


def test_a_tenant_without_routing_still_has_the_server_checked(tenant, sandbox):
    sandbox.seed_login(tenant.company_id, domains=["acme.io"], whitelist={"x@acme.io": False})
    LoginDomain.objects.filter(tenant=tenant).delete()
    WhitelistEntry.objects.filter(tenant=tenant).delete()
    assert states(tenant)["routing"] == "pending"
    done = offboarding.offboarding_routing(tenant=tenant, actor="admin")
    assert done.cleared is None and done.job.status == "done"
    assert sandbox.login_settings(tenant.company_id) == {"domains": [], "whitelist": []}
    assert states(tenant)["routing"] == "done"


def test_a_deleted_or_planned_tenant_has_no_offboarding_actions(admin_client, sandbox_settings):
    planned = Tenant.objects.create(name="Planned")
    response = admin_client.post(reverse("tenants:offboard_routing", args=[planned.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("tenants:detail", args=[planned.pk])
    with pytest.raises(offboarding.OffboardingOrder):
        offboarding.offboarding_revoke(tenant=planned, actor="admin")
