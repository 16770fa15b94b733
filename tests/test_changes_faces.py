"""Every write of the routing, groups, identity-provider and multi-tenant pages is a changeset.

For each face: the changeset has the right kind, steps and status; the audit entries the change
wrote carry its id; and the same form saved again with nothing changed records no changeset and
no audit entry. Pushes run against the real sandbox apiserver over HTTP.
"""

import pytest
from django.urls import reverse

from changes.models import Changeset, ChangeStep
from console.apiserver import client_from_settings
from console.audit.models import AuditEntry
from sso.models import LoginDomain, RoutingPushJob, WhitelistEntry
from sso.multitenant.models import TenantSSOConfig
from sso.providers.models import IdentityProvider
from tenants.groups.models import CrossTenantGroup
from tenants.groups.services import group_create
from tenants.models import Tenant, TenantAdmin
from tests.test_idp_multitenant import SECRET as TENANT_SECRET
from tests.test_idp_multitenant import TENANT_POST
from tests.test_idp_pages import KEYCLOAK_POST
from tests.test_idp_pages import SECRET as IDP_SECRET

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def acme():
    return Tenant.objects.create(name="Acme Research")


@pytest.fixture
def live_acme(sandbox_settings):
    """Acme with a company and an admin user on the sandbox."""
    client = client_from_settings()
    company = client.call("system.create_company", {"name": "Acme Research"})["id"]
    user = client.call(
        "auth.create_user",
        {"name": "Alice", "company": company, "email": "alice@acme.io", "role": "admin"},
    )["id"]
    tenant = Tenant.objects.create(name="Acme Research", company_id=company, status="active")
    TenantAdmin.objects.create(tenant=tenant, name="Alice", email="alice@acme.io", user_id=user)
    return tenant


def only_changeset(**filters) -> Changeset:
    [changeset] = Changeset.objects.filter(**filters)
    return changeset


def steps_of(changeset: Changeset) -> list[tuple[str, str, bool]]:
    return [(s.kind, s.status, s.risky) for s in changeset.steps.order_by("position")]


def assert_entries_carry(changeset: Changeset, **filters) -> list[AuditEntry]:
    """The change's audit entries (by `filters`) exist and all carry the changeset's id."""
    entries = list(AuditEntry.objects.filter(**filters).order_by("seq"))
    assert entries, f"no audit entry {filters}"
    assert {e.changeset for e in entries} == {str(changeset.pk)}
    assert AuditEntry.objects.filter(changeset=str(changeset.pk)).count() == len(entries)
    return entries


def counts() -> tuple[int, int]:
    return Changeset.objects.count(), AuditEntry.objects.count()


# -- sign-in routing -------------------------------------------------------------------------------
def test_routing_add_through_the_round_one_form_post_is_a_changeset(admin_client, acme):
    url = f"/sso/routing/tenants/{acme.pk}/user/add/"
    assert url == reverse("sso:routing_add", args=[acme.pk, "user"])
    response = admin_client.post(url, {"value": "bob@gmail.com"})
    assert response.status_code == 302
    assert WhitelistEntry.objects.filter(tenant=acme, email="bob@gmail.com").exists()
    changeset = only_changeset(kind="routing.add")
    assert changeset.status == "applied" and changeset.face == "form"
    assert changeset.requested_by == "admin (local)" and changeset.applied_at
    assert steps_of(changeset) == [("login.routing.update", "done", False)]
    [entry] = assert_entries_carry(changeset, action="login.routing.update")
    assert entry.after["users"] == ["bob@gmail.com"]
    # The same form again changes nothing: it is refused, and nothing is recorded.
    before = counts()
    response = admin_client.post(url, {"value": "bob@gmail.com"}, headers=HTMX)
    assert "already listed" in response.content.decode()
    assert counts() == before


def test_routing_remove_is_a_risky_changeset(admin_client, acme):
    LoginDomain.objects.create(tenant=acme, domain="acme.io")
    url = reverse("sso:routing_remove", args=[acme.pk, "domain"])
    assert admin_client.post(url, {"key": "acme.io"}).status_code == 302
    assert not acme.login_domains.exists()
    changeset = only_changeset(kind="routing.remove")
    assert changeset.status == "applied"
    assert steps_of(changeset) == [("routing.remove", "done", True)]
    step = changeset.steps.get()
    assert step.before["domains"] == ["acme.io"] and step.target == "tenant:Acme Research"
    assert_entries_carry(changeset, action="login.routing.update")
    before = counts()
    response = admin_client.post(url, {"key": "acme.io"}, follow=True)
    assert "is not in this list any more" in response.content.decode()
    assert counts() == before


def test_routing_pull_is_a_changeset_and_pulling_again_records_nothing(
    admin_client, live_acme, sandbox
):
    sandbox.seed_login(live_acme.company_id, domains=["server.io"], whitelist={})
    url = reverse("sso:routing_pull", args=[live_acme.pk])
    assert "Took the server" in admin_client.post(url, follow=True).content.decode()
    changeset = only_changeset(kind="routing.pull")
    assert changeset.status == "applied"
    assert steps_of(changeset) == [("login.routing.pull", "done", False)]
    [entry] = assert_entries_carry(changeset, action="login.routing.pull")
    assert [c["endpoint"] for c in entry.calls] == ["login.get_settings"]
    before = counts()
    response = admin_client.post(url, follow=True)
    assert "already holds the server" in response.content.decode()
    assert counts() == before


def test_bulk_import_save_is_a_changeset(admin_client, acme):
    url = reverse("sso:routing_import", args=[acme.pk])
    response = admin_client.post(url, {"text": "a@acme.io\nb@acme.io\n", "role_mode": "users"})
    assert response.status_code == 302 and not Changeset.objects.exists()  # a draft only
    save = response["Location"] + "save/"
    assert admin_client.post(save).status_code == 302
    changeset = only_changeset(kind="routing.import")
    assert steps_of(changeset) == [("login.routing.import", "done", False)]
    assert_entries_carry(changeset, action="login.routing.import")
    # The same emails imported again change nothing.
    response = admin_client.post(url, {"text": "a@acme.io\nb@acme.io\n", "role_mode": "users"})
    before = counts()
    response = admin_client.post(response["Location"] + "save/", follow=True)
    assert "Nothing to save" in response.content.decode()
    assert counts() == before


def push(admin_client, tenant) -> RoutingPushJob:
    response = admin_client.post(reverse("sso:routing_push", args=[tenant.pk]))
    assert response.status_code == 302
    return RoutingPushJob.objects.filter(tenant=tenant).order_by("-id").first()


def step_until_done(admin_client, job) -> str:
    url = reverse("sso:routing_push_step", args=[job.tenant_id, job.pk])
    for _ in range(10):
        page = admin_client.post(url, headers=HTMX).content.decode()
        if "hx-post" not in page:
            return page
    raise AssertionError("the push did not finish")


def test_a_push_is_one_changeset_whose_steps_are_its_batches(admin_client, live_acme, sandbox):
    LoginDomain.objects.create(tenant=live_acme, domain="acme.io")
    WhitelistEntry.objects.create(tenant=live_acme, email="carol@partner.com", is_admin=True)
    job = push(admin_client, live_acme)
    changeset = Changeset.objects.get(pk=int(job.changeset))
    assert changeset.kind == "routing.push" and changeset.status == "applying"
    assert steps_of(changeset) == [
        ("login.set_domains", "planned", True),
        ("login.add_whitelist_entries", "planned", False),
    ]
    first = changeset.steps.get(position=1)
    assert first.call["endpoint"] == "login.set_domains"
    assert first.call["body"] == {"domains": ["acme.io"]} and first.call["act_as"] == job.act_as
    assert len(changeset.content_hash) == 64
    page = step_until_done(admin_client, job)
    assert f"changeset #{changeset.pk}" in page
    changeset.refresh_from_db()
    assert changeset.status == "applied" and changeset.applied_at
    assert steps_of(changeset) == [
        ("login.set_domains", "done", True),
        ("login.add_whitelist_entries", "done", False),
    ]
    entries = assert_entries_carry(
        changeset, action__in=["login.domains.set", "login.whitelist.add"]
    )
    assert [(e.action, e.outcome) for e in entries] == [
        ("login.domains.set", "pending"),
        ("login.domains.set", "success"),
        ("login.whitelist.add", "pending"),
        ("login.whitelist.add", "success"),
    ]
    assert sandbox.login_settings(live_acme.company_id)["domains"] == ["acme.io"]
    # Pushing again with the server in sync sends nothing and records nothing.
    before = counts()
    again = push(admin_client, live_acme)
    assert again.pk != job.pk and again.status == "done" and again.changeset == ""
    assert counts() == before


def test_a_push_that_fails_part_way_and_resumes_stays_one_changeset(
    admin_client, live_acme, sandbox, settings
):
    settings.ROUTING_PUSH_BATCH_SIZE = 2
    WhitelistEntry.objects.bulk_create(
        WhitelistEntry(tenant=live_acme, email=f"u{i}@acme.io") for i in range(6)
    )
    job = push(admin_client, live_acme)
    changeset = Changeset.objects.get(pk=int(job.changeset))
    assert [s[0] for s in steps_of(changeset)] == ["login.add_whitelist_entries"] * 3
    sandbox.fail_next("login.add_whitelist_entries", status=400)  # refused: surely not applied
    step_until_done(admin_client, job)
    changeset.refresh_from_db()
    assert changeset.status == "failed" and "HTTP 400" in changeset.error
    assert [s[1] for s in steps_of(changeset)] == ["failed", "planned", "planned"]
    failed = changeset.steps.get(position=1)
    assert "HTTP 400" in failed.error and failed.finished_at
    # Resume: the same job and changeset; the re-planned batches are appended as new steps and
    # the dropped ones are marked not reached.
    assert push(admin_client, live_acme).pk == job.pk
    changeset.refresh_from_db()
    assert changeset.status == "applying"
    assert [s[1] for s in steps_of(changeset)] == [
        "failed",
        "skipped",
        "skipped",
        "planned",
        "planned",
        "planned",
    ]
    step_until_done(admin_client, job)
    changeset.refresh_from_db()
    assert changeset.status == "applied" and changeset.error == ""
    assert [s[1] for s in steps_of(changeset)][3:] == ["done", "done", "done"]
    entries = assert_entries_carry(changeset, action="login.whitelist.add")
    assert [e.outcome for e in entries] == ["pending", "failure"] + ["pending", "success"] * 3
    assert len(sandbox.login_settings(live_acme.company_id)["whitelist"]) == 6


def test_a_batch_whose_answer_was_lost_is_an_unknown_step(admin_client, live_acme, sandbox):
    WhitelistEntry.objects.create(tenant=live_acme, email="a@acme.io")
    job = push(admin_client, live_acme)
    sandbox.fail_next("login.add_whitelist_entries", status=500)  # may have been applied
    step_until_done(admin_client, job)
    changeset = Changeset.objects.get(pk=int(job.changeset))
    assert changeset.status == "failed"
    assert steps_of(changeset) == [("login.add_whitelist_entries", "unknown", False)]


def test_a_routing_change_during_a_push_fails_its_changeset_at_once(
    admin_client, live_acme, settings
):
    WhitelistEntry.objects.create(tenant=live_acme, email="a@acme.io")
    job = push(admin_client, live_acme)
    changeset = Changeset.objects.get(pk=int(job.changeset))
    url = reverse("sso:routing_add", args=[live_acme.pk, "user"])
    admin_client.post(url, {"value": "b@acme.io"})
    changeset.refresh_from_db()
    assert changeset.status == "failed" and "routing changed" in changeset.error


# -- groups ----------------------------------------------------------------------------------------
def test_a_group_edit_is_a_changeset_and_the_same_form_again_records_nothing(admin_client):
    group = group_create(data={"name": "ops"}, actor="test")
    url = reverse("tenants:group_edit", args=[group.pk])
    form = {"name": "ops", "features": ["reports"], "version": "1"}
    assert admin_client.post(url, form).status_code == 302
    changeset = only_changeset(kind="group.update")
    assert changeset.status == "applied" and changeset.summary == "Update group ops"
    assert steps_of(changeset) == [("group.update", "done", False)]
    step = changeset.steps.get()
    assert step.before["features"] == [] and step.after["features"] == ["reports"]
    assert_entries_carry(changeset, action="group.update")
    before = counts()
    response = admin_client.post(url, {**form, "version": "2"}, follow=True)
    assert "Nothing changed" in response.content.decode()
    assert counts() == before
    group.refresh_from_db()
    assert group.version == 2


def test_group_create_and_delete_are_changesets_and_delete_is_risky(admin_client):
    admin_client.post(reverse("tenants:group_create"), {"name": "ops"})
    group = CrossTenantGroup.objects.get()
    created = only_changeset(kind="group.create")
    assert steps_of(created) == [("group.create", "done", False)]
    assert_entries_carry(created, action="group.create")
    admin_client.post(reverse("tenants:group_delete", args=[group.pk]), {"version": "1"})
    deleted = only_changeset(kind="group.delete")
    assert steps_of(deleted) == [("group.delete", "done", True)]
    assert_entries_carry(deleted, action="group.delete")


def test_builtin_groups_and_organization_saves_are_changesets(admin_client):
    url = reverse("tenants:builtin_groups")
    form = {"version": "1", "mode__users": "list", "features__users": ["reports"]}
    assert admin_client.post(url, form).status_code == 302
    changeset = only_changeset(kind="builtin_groups.update")
    assert_entries_carry(changeset, action="builtin_groups.update")
    before = counts()
    admin_client.post(url, {**form, "version": "2"})
    assert counts() == before

    url = reverse("tenants:organization")
    form = {"version": "1", "unique_company_names": "true"}
    assert admin_client.post(url, form).status_code == 302
    changeset = only_changeset(kind="organization.update")
    assert steps_of(changeset) == [("organization.update", "done", False)]
    assert_entries_carry(changeset, action="organization.update")
    before = counts()
    admin_client.post(url, {**form, "version": "2"})
    assert counts() == before


# -- identity providers ----------------------------------------------------------------------------
def test_an_idp_create_is_a_changeset_without_the_secret(admin_client):
    response = admin_client.post(reverse("sso:provider_add", args=["keycloak"]), KEYCLOAK_POST)
    assert response.status_code == 302
    changeset = only_changeset(kind="idp.create")
    assert changeset.status == "applied"
    assert steps_of(changeset) == [("idp.create", "done", False)]
    assert_entries_carry(changeset, action="idp.create")
    step = changeset.steps.get()
    assert step.target == "identity_provider:Keycloak"
    stored = repr(step.before) + repr(step.after) + repr(changeset.desired)
    assert IDP_SECRET not in stored and step.after["settings"]["client_id"] == "clearml"
    # The edit form saved as it comes (the secret left empty keeps it): nothing changed.
    before = counts()
    url = reverse("sso:provider_edit", args=["keycloak"])
    response = admin_client.post(url, {**KEYCLOAK_POST, "client_secret": "", "version": 1})
    assert response.status_code == 302
    assert counts() == before
    assert IdentityProvider.objects.get().version == 1
    # A real edit is a risky idp.update; the checklist and the removal are changesets too.
    admin_client.post(url, {**KEYCLOAK_POST, "client_id": "other", "version": 1})
    updated = only_changeset(kind="idp.update")
    assert steps_of(updated) == [("idp.update", "done", True)]
    assert_entries_carry(updated, action="idp.update")
    admin_client.post(reverse("sso:provider_checklist", args=["keycloak"]), {"step": ["0"]})
    assert_entries_carry(only_changeset(kind="idp.checklist"), action="idp.checklist")
    admin_client.post(reverse("sso:provider_delete", args=["keycloak"]))
    removed = only_changeset(kind="idp.delete")
    assert steps_of(removed) == [("idp.delete", "done", True)]
    assert_entries_carry(removed, action="idp.delete")


# -- multi-tenant login ----------------------------------------------------------------------------
@pytest.fixture
def sso_acme(sandbox_settings):
    client = client_from_settings()
    company = client.call("system.create_company", {"name": "Acme Research"})["id"]
    return Tenant.objects.create(name="Acme Research", company_id=company, status="active")


def test_a_tenant_sso_save_is_a_changeset_and_the_same_form_again_records_nothing(
    admin_client, sso_acme
):
    url = reverse("sso:tenant_sso", args=[sso_acme.pk])
    assert admin_client.post(url, {**TENANT_POST, "action": "save"}).status_code == 302
    changeset = only_changeset(kind="tenant_sso.update")
    assert steps_of(changeset) == [("sso.tenant_config.update", "done", False)]
    assert_entries_carry(changeset, action="sso.tenant_config.update")
    stored = repr(changeset.steps.get().after) + repr(changeset.desired)
    assert TENANT_SECRET not in stored
    before = counts()
    form = {**TENANT_POST, "action": "save", "configuration.client_secret": "", "version": 1}
    response = admin_client.post(url, form, follow=True)
    assert "Nothing changed" in response.content.decode()
    assert counts() == before
    # Forgetting it is a risky step.
    admin_client.post(reverse("sso:tenant_sso_delete", args=[sso_acme.pk]))
    deleted = only_changeset(kind="tenant_sso.delete")
    assert steps_of(deleted) == [("sso.tenant_config.delete", "done", True)]
    assert_entries_carry(deleted, action="sso.tenant_config.delete")


def test_a_tenant_sso_push_is_a_changeset_of_its_calls(admin_client, sso_acme, sandbox):
    url = reverse("sso:tenant_sso", args=[sso_acme.pk])
    admin_client.post(url, {**TENANT_POST, "action": "save"})
    sandbox.fail_next("sso.save_provider_configuration", status=500)
    response = admin_client.post(reverse("sso:tenant_sso_push", args=[sso_acme.pk]), follow=True)
    assert "The push failed" in response.content.decode()
    failed = only_changeset(kind="tenant_sso.push")
    assert failed.status == "failed" and "server error" in failed.error
    assert steps_of(failed) == [
        ("system.update_company_sso_config", "done", False),
        ("sso.save_provider_configuration", "failed", False),
    ]
    entries = assert_entries_carry(failed, action="sso.tenant_config.push")
    assert [e.outcome for e in entries] == ["pending", "failure"]

    admin_client.post(reverse("sso:tenant_sso_push", args=[sso_acme.pk]))
    pushed = Changeset.objects.filter(kind="tenant_sso.push").exclude(pk=failed.pk).get()
    assert pushed.status == "applied" and pushed.applied_at
    assert [s[1] for s in steps_of(pushed)] == ["done", "done"]
    entries = assert_entries_carry(pushed, action="sso.tenant_config.push", seq__gt=entries[-1].seq)
    assert [e.outcome for e in entries] == ["pending", "success"]
    assert TenantSSOConfig.objects.get().push_status == "ok"
    provider_step = pushed.steps.get(kind="sso.save_provider_configuration")
    assert provider_step.call["body"]["company"] == sso_acme.company_id
    for step in ChangeStep.objects.all():
        assert TENANT_SECRET not in repr(step.call) + repr(step.after) + step.error


def test_a_push_refused_before_sending_records_nothing(admin_client, acme):
    TenantSSOConfig.objects.create(tenant=acme, external_tenant="acme-ext")
    before = counts()
    response = admin_client.post(reverse("sso:tenant_sso_push", args=[acme.pk]), follow=True)
    assert "has no ClearML company yet" in response.content.decode()
    assert counts() == before


def test_the_mtl_switches_are_a_risky_changeset_and_saving_them_again_records_nothing(
    admin_client,
):
    url = reverse("sso:multitenant")
    assert admin_client.post(url, {"enabled": "on", "only_password_login": "on"}).status_code == 302
    changeset = only_changeset(kind="multi_tenant_login.update")
    assert steps_of(changeset) == [("sso.multi_tenant_login.update", "done", True)]
    [entry] = assert_entries_carry(changeset, action="sso.multi_tenant_login.update")
    assert entry.after["enabled"] is True
    before = counts()
    response = admin_client.post(
        url, {"enabled": "on", "only_password_login": "on", "version": "1"}, follow=True
    )
    assert "Nothing changed" in response.content.decode()
    assert counts() == before
