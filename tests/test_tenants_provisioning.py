"""Creating a tenant on the sandbox apiserver step by step, failing part-way and resuming."""

import pytest

from changes import tenants as pipeline
from changes.tenant_input import validate_tenant_entry as validate_tenant
from console.audit import audit_for_target
from tenants.models import IssuedCredential, ProvisioningStep, Tenant


def tenant_provision(*, tenant, actor):
    """Apply (or resume) the tenant's calls through the change pipeline; the run's outcome."""
    return pipeline.tenant_apply(tenant=tenant, actor=actor).outcome


def tenant_create(*, data, actor):
    """Plan a new tenant through the change pipeline; the saved tenant."""
    return pipeline.tenant_create(data=data, actor=actor)[1]


pytestmark = pytest.mark.django_db

CHANGING = {
    "system.create_company",
    "auth.create_user",
    "auth.create_credentials",
    "auth.revoke_credentials",
    "login.set_domains",
    "login.add_whitelist_entries",
    "login.remove_whitelist_entries",
    "system.update_company_settings",
    "system.update_company_sso_config",
}


def changing_calls(sandbox) -> list[str]:
    return [c for c in sandbox.calls if c in CHANGING]


def acme(**extra) -> dict:
    data = {
        "name": "Acme Research",
        "allowed_users": 10,
        "features": ["experiments"],
        "exclude_features": ["app_management"],
        "admins": [{"name": "Alice Admin", "email": "Alice@Acme.io"}],
        "login": {"domains": ["acme.io"], "whitelist": {"users": ["bob@gmail.com"]}},
    }
    data.update(extra)
    return data


def create(data=None) -> Tenant:
    return tenant_create(data=validate_tenant(data or acme(), require_admin=True), actor="admin")


def test_a_new_tenant_is_created_with_the_docs_calls_in_order(sandbox, sandbox_settings):
    tenant = create()
    assert sandbox.calls == []  # nothing is sent before the admin applies the plan
    outcome = tenant_provision(tenant=tenant, actor="admin")
    assert outcome.ok, outcome.error
    assert changing_calls(sandbox) == [
        "system.create_company",
        "auth.create_user",
        "auth.create_credentials",
        "login.set_domains",
        "login.add_whitelist_entries",
    ]
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE
    company = sandbox.company(tenant.company_id)
    assert company["name"] == "Acme Research"
    assert company["defaults"] == {
        "allowed_users": 10,
        "features": ["experiments"],
        "exclude_features": ["app_management"],
    }
    user = sandbox.user_by_email("alice@acme.io")
    assert user["company"] == tenant.company_id
    assert user["role"] == "admin" and user["internal"] is True
    admin = tenant.admins.get()
    assert admin.user_id == user["id"]
    [secret] = outcome.credentials
    assert [c["access_key"] for c in sandbox.credentials(user["id"])] == [secret.access_key]
    assert IssuedCredential.objects.get().access_key == secret.access_key
    assert sandbox.login_settings(tenant.company_id) == {
        "domains": ["acme.io"],
        "whitelist": [{"email": "bob@gmail.com", "is_admin": False}],
    }
    requests = sandbox.requests
    creds = next(r for r in requests if r["endpoint"] == "auth.create_credentials")
    assert creds["impersonate_as"] == user["id"]
    domains = next(r for r in requests if r["endpoint"] == "login.set_domains")
    assert domains["act_as"] == user["id"]


def test_the_secret_is_never_stored_or_audited(sandbox, sandbox_settings):
    tenant = create()
    outcome = tenant_provision(tenant=tenant, actor="admin")
    secret = outcome.credentials[0].secret_key
    for step in ProvisioningStep.objects.all():
        assert secret not in repr(step.result) + step.error
    for entry in audit_for_target("tenant", str(tenant.pk)):
        assert secret not in repr(entry.after) + repr(entry.calls) + entry.error
    assert secret not in repr(outcome)


@pytest.mark.parametrize(
    "endpoint,position",
    [
        ("system.create_company", 1),
        ("auth.create_user", 2),
        ("auth.create_credentials", 3),
        ("login.set_domains", 4),
        ("login.add_whitelist_entries", 5),
    ],
)
def test_a_failed_step_stops_the_run_and_resume_finishes_without_doubles(
    sandbox, sandbox_settings, endpoint, position
):
    tenant = create()
    sandbox.fail_next(endpoint, status=400, message="no thanks")
    outcome = tenant_provision(tenant=tenant, actor="admin")
    assert not outcome.ok
    assert outcome.failed_step.position == position
    assert "no thanks" in outcome.error and endpoint in outcome.error
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.FAILED
    statuses = [s.status for s in tenant.steps.order_by("position")]
    assert statuses[: position - 1] == ["done"] * (position - 1)
    assert statuses[position - 1] == "failed"
    assert set(statuses[position:]) <= {"pending"}

    again = tenant_provision(tenant=tenant, actor="admin")
    assert again.ok, again.error
    tenant.refresh_from_db()
    assert len(sandbox.companies()) == 1
    assert len(sandbox.users(tenant.company_id)) == 1
    user = sandbox.user_by_email("alice@acme.io")
    issued = outcome.credentials + again.credentials
    assert len(issued) == 1
    assert [c["access_key"] for c in sandbox.credentials(user["id"])] == [issued[0].access_key]
    assert sandbox.login_settings(tenant.company_id)["domains"] == ["acme.io"]
    # The failed call: its pending entry (written before any call), the failure, then the
    # resume's success, both linked to the pending entry.
    entries = sorted(
        (e for e in audit_for_target("tenant", str(tenant.pk)) if e.action == endpoint),
        key=lambda e: e.seq,
    )
    assert [e.outcome for e in entries] == ["pending", "failure", "success"]
    assert {e.outcome_of for e in entries[1:]} == {entries[0].seq}


@pytest.mark.parametrize(
    "endpoint", ["system.create_company", "auth.create_user", "auth.create_credentials"]
)
def test_a_lost_answer_is_checked_with_a_read_call_before_retrying(
    sandbox, sandbox_settings, endpoint
):
    tenant = create()
    sandbox.fail_next(endpoint, drop_answer=True)
    outcome = tenant_provision(tenant=tenant, actor="admin")
    assert not outcome.ok
    assert outcome.failed_step.status == ProvisioningStep.Status.UNKNOWN
    assert outcome.failed_step.endpoint == endpoint

    again = tenant_provision(tenant=tenant, actor="admin")
    assert again.ok, again.error
    tenant.refresh_from_db()
    assert len(sandbox.companies()) == 1
    assert sandbox.companies()[0]["id"] == tenant.company_id
    [user] = sandbox.users(tenant.company_id)
    assert user["email"] == "alice@acme.io"
    keys = [c["access_key"] for c in sandbox.credentials(user["id"])]
    # The key whose answer was lost is revoked; the one shown is the only one left.
    assert keys == [c.access_key for c in outcome.credentials + again.credentials]
    assert len(keys) == 1
    after_failure = sandbox.calls[sandbox.calls.index(endpoint) + 1 :]
    read = {
        "system.create_company": "system.get_companies",
        "auth.create_user": "users.get_all",
        "auth.create_credentials": "auth.get_credentials",
    }[endpoint]
    assert read in after_failure
    assert (
        after_failure.index(read) < after_failure.index(endpoint)
        if endpoint in after_failure
        else True
    )
    if endpoint != "auth.create_credentials":
        assert endpoint not in after_failure  # found by the read call, not created again
    else:
        assert "auth.revoke_credentials" in after_failure


def test_a_second_resume_of_an_active_tenant_sends_nothing(sandbox, sandbox_settings):
    tenant = create()
    assert tenant_provision(tenant=tenant, actor="admin").ok
    before = len(sandbox.calls)
    outcome = tenant_provision(tenant=tenant, actor="admin")
    assert outcome.ok and outcome.nothing_to_do
    assert len(sandbox.calls) == before


def test_two_runs_of_the_same_tenant_cannot_overlap(sandbox, sandbox_settings):
    from tenants.provisioning.engine import TenantBusy, claim

    tenant = create()
    assert claim(tenant.pk)  # someone else's run holds the tenant
    with pytest.raises(TenantBusy):
        tenant_provision(tenant=tenant, actor="admin")
    assert sandbox.calls == []


def test_a_run_that_died_can_be_resumed_after_its_lease(sandbox, sandbox_settings):
    from django.utils import timezone

    tenant = create()
    step = tenant.steps.get(position=1)
    # The process died right after recording "sent" for system.create_company.
    step.status, step.sent_at = "sent", timezone.now()
    step.save()
    Tenant.objects.filter(pk=tenant.pk).update(
        status="provisioning", lease_until=timezone.now() - timezone.timedelta(seconds=1)
    )
    outcome = tenant_provision(tenant=tenant, actor="admin")
    assert outcome.ok, outcome.error
    assert sandbox.calls[0] == "system.get_companies"  # checked before sending again
    assert len(sandbox.companies()) == 1
