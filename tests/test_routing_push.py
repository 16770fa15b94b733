"""Pushing, comparing and pulling routing against the real sandbox apiserver over HTTP."""

import pytest

from changes.routing import routing_pull
from console.apiserver import ApiServerError, client_from_settings
from console.audit import AuditEntry
from console.validation import InvalidInput
from sso.models import RoutingPushBatch, RoutingPushJob
from sso.routing.push import push_result
from sso.routing.services import (
    RoutingPushFailed,
    push_start,
    push_step,
    routing_add,
    routing_push,
    routing_push_calls,
    routing_validate,
)
from tenants.models import Tenant, TenantAdmin

pytestmark = pytest.mark.django_db


def make_tenant(client, name: str, admin_email: str) -> Tenant:
    """A company with an admin user on the sandbox, and the console's rows for it."""
    company = client.call("system.create_company", {"name": name})["id"]
    user = client.call(
        "auth.create_user",
        {"name": "Admin", "company": company, "email": admin_email, "role": "admin"},
    )["id"]
    tenant = Tenant.objects.create(name=name, company_id=company, status="active")
    TenantAdmin.objects.create(tenant=tenant, name="Admin", email=admin_email, user_id=user)
    return tenant


@pytest.fixture
def client(sandbox_settings):
    return client_from_settings()


@pytest.fixture
def acme(client):
    return make_tenant(client, "Acme Research", "alice@acme.io")


def emails(n: int, domain: str = "acme.io") -> list[str]:
    return [f"user{i:05d}@{domain}" for i in range(n)]


def test_push_calls_for_a_new_tenant_act_as_its_admin(acme):
    routing = routing_validate(
        tenant_name=acme.name,
        domains=["acme.io"],
        admins=["carol@partner.com"],
        users=["bob@gmail.com"],
        path="login",
    )
    calls = routing_push_calls(tenant=acme, server_state=None, routing=routing)
    user_id = acme.first_admin().user_id
    assert {c.act_as for c in calls} == {user_id}
    assert [(c.endpoint, c.body) for c in calls] == [
        ("login.set_domains", {"domains": ["acme.io"]}),
        ("login.add_whitelist_entries", {"emails": ["carol@partner.com"], "is_admin": True}),
        ("login.add_whitelist_entries", {"emails": ["bob@gmail.com"], "is_admin": False}),
    ]
    assert "X-Clearml-Act-As" in calls[0].curl()


def test_push_calls_batch_at_the_sandbox_limit(acme):
    routing = routing_validate(
        tenant_name=acme.name, domains=[], admins=[], users=emails(1201), path="login"
    )
    calls = routing_push_calls(tenant=acme, server_state=None, routing=routing)
    assert [len(c.body["emails"]) for c in calls] == [500, 500, 201]
    assert calls[2].description.endswith("(batch 3 of 3)")


def test_push_calls_only_send_the_difference(acme):
    routing = routing_validate(
        tenant_name=acme.name,
        domains=["acme.io"],
        admins=["carol@partner.com"],
        users=["bob@gmail.com", "new@gmail.com"],
        path="login",
    )
    server = {
        "domains": ["ACME.io"],
        "whitelist": [
            {"email": "Carol@Partner.com", "is_admin": False},  # role differs
            {"email": "bob@gmail.com", "is_admin": False},  # same
            {"email": "Gone@Gmail.com", "is_admin": True},  # only on the server
        ],
    }
    calls = routing_push_calls(tenant=acme, server_state=server, routing=routing)
    assert [(c.endpoint, c.body) for c in calls] == [
        ("login.remove_whitelist_entries", {"emails": ["Carol@Partner.com", "Gone@Gmail.com"]}),
        ("login.add_whitelist_entries", {"emails": ["carol@partner.com"], "is_admin": True}),
        ("login.add_whitelist_entries", {"emails": ["new@gmail.com"], "is_admin": False}),
    ]


def test_a_tenant_without_an_admin_cannot_be_pushed(sandbox_settings):
    tenant = Tenant.objects.create(name="Lonely")
    with pytest.raises(InvalidInput) as excinfo:
        routing_push_calls(tenant=tenant, server_state=None)
    message = excinfo.value.errors[0].message
    assert "no admin user" in message and "an admin must exist first" in message


def test_push_makes_the_server_match_and_audits_each_call(acme, client, sandbox):
    routing_add(tenant=acme, kind="domain", values=["acme.io"], actor="admin")
    routing_add(tenant=acme, kind="admin", values=["carol@partner.com"], actor="admin")
    routing_add(tenant=acme, kind="user", values=["bob@gmail.com"], actor="admin")
    result = routing_push(tenant=acme, actor="admin", client=client)
    assert result.ok and len(result.applied) == 3
    assert sandbox.login_settings(acme.company_id) == {
        "domains": ["acme.io"],
        "whitelist": [
            {"email": "carol@partner.com", "is_admin": True},
            {"email": "bob@gmail.com", "is_admin": False},
        ],
    }
    user_id = acme.first_admin().user_id
    sent = [r for r in sandbox.requests if r["endpoint"].startswith("login.")]
    assert all(r["act_as"] == user_id for r in sent)
    actions = list(
        AuditEntry.objects.filter(outcome="success", action__startswith="login.")
        .exclude(action="login.routing.update")
        .values_list("action", flat=True)
        .order_by("seq")
    )
    assert actions == ["login.domains.set", "login.whitelist.add", "login.whitelist.add"]
    entry = AuditEntry.objects.filter(action="login.domains.set", outcome="success").get()
    assert entry.calls[0]["endpoint"] == "login.set_domains"
    assert entry.calls[0]["act_as"] == user_id
    pending = AuditEntry.objects.get(action="login.domains.set", outcome="pending")
    assert entry.outcome_of == pending.seq  # each outcome names the pending entry it completes
    outcomes = AuditEntry.objects.filter(action__in=actions, outcome="success")
    pendings = set(
        AuditEntry.objects.filter(outcome="pending", action__in=actions).values_list(
            "seq", flat=True
        )
    )
    assert {e.outcome_of for e in outcomes} == pendings


def test_pushing_again_sends_no_changing_call(acme, client, sandbox):
    routing_add(tenant=acme, kind="domain", values=["acme.io"], actor="admin")
    routing_push(tenant=acme, actor="admin", client=client)
    before = len(sandbox.calls)
    result = routing_push(tenant=acme, actor="admin", client=client)
    assert result.in_sync
    assert sandbox.calls[before:] == ["login.get_settings"]


def test_a_failure_part_way_records_applied_batches_and_resume_skips_them(
    acme, client, sandbox, settings
):
    settings.ROUTING_PUSH_BATCH_SIZE = 2
    routing_add(tenant=acme, kind="user", values=emails(7), actor="admin")
    job = push_start(tenant=acme, actor="admin", client=client)
    assert job.batches.count() == 4
    job = push_step(job, client, budget_seconds=0)  # one batch per step, like a browser poll
    job = push_step(job, client, budget_seconds=0)
    sandbox.fail_next("login.add_whitelist_entries", status=500)
    job = push_step(job, client, budget_seconds=0)
    assert job.status == RoutingPushJob.Status.FAILED
    statuses = list(job.batches.order_by("seq").values_list("status", flat=True))
    assert statuses == ["applied", "applied", "failed", "pending"]
    failed = job.batches.get(status="failed")
    assert "HTTP 500" in failed.error and failed.outcome_unknown
    assert AuditEntry.objects.filter(action="login.whitelist.add", outcome="failure").count() == 1

    sent_before = len(sandbox.requests)
    result = routing_push(tenant=acme, actor="admin", client=client)
    assert result.ok and result.job.pk == job.pk and result.job.resumes == 1
    resumed = [r for r in sandbox.requests[sent_before:] if r["endpoint"].startswith("login.add")]
    resent = sorted(e for r in resumed for e in r["body"]["emails"])
    assert resent == emails(7)[4:]  # the first two batches are not sent again
    on_server = {e["email"] for e in sandbox.login_settings(acme.company_id)["whitelist"]}
    assert on_server == set(emails(7))
    statuses = list(result.job.batches.order_by("seq").values_list("status", flat=True))
    assert statuses == ["applied", "applied", "replanned", "applied", "applied"]


def test_a_lost_answer_is_not_sent_again_after_resume(acme, client, sandbox):
    routing_add(tenant=acme, kind="user", values=emails(3), actor="admin")
    sandbox.fail_next("login.add_whitelist_entries", drop_answer=True)
    with pytest.raises(RoutingPushFailed) as excinfo:
        routing_push(tenant=acme, actor="admin", client=client)
    assert excinfo.value.outcome_unknown
    assert "0 of 1 call(s) applied" in str(excinfo.value)
    # The server did apply it; resuming re-reads the server and sends nothing more.
    before = len(sandbox.calls)
    result = routing_push(tenant=acme, actor="admin", client=client)
    assert result.ok
    assert sandbox.calls[before:] == ["login.get_settings"]


def test_routing_push_raises_an_api_error_naming_the_step(acme, client, sandbox):
    routing_add(tenant=acme, kind="domain", values=["acme.io"], actor="admin")
    sandbox.fail_next("login.set_domains", status=400, message="domains are frozen")
    with pytest.raises(RoutingPushFailed) as excinfo:
        routing_push(tenant=acme, actor="admin", client=client)
    assert excinfo.value.endpoint == "login.set_domains"
    assert "domains are frozen" in str(excinfo.value)
    assert not excinfo.value.outcome_unknown


def test_reading_the_server_failing_leaves_no_job(acme, client, sandbox):
    routing_add(tenant=acme, kind="domain", values=["acme.io"], actor="admin")
    sandbox.fail_next("login.get_settings", status=500, times=10)
    with pytest.raises(ApiServerError):
        routing_push(tenant=acme, actor="admin", client=client)
    assert not RoutingPushJob.objects.exists()


def test_pull_takes_the_servers_version(acme, client, sandbox):
    routing_add(tenant=acme, kind="domain", values=["old.io"], actor="admin")
    sandbox.seed_login(
        acme.company_id,
        domains=["acme.io"],
        whitelist={"carol@partner.com": True, "bob@gmail.com": False},
    )
    _, change = routing_pull(tenant=acme, actor="admin")
    assert change.domains_added == ["acme.io"] and change.domains_removed == ["old.io"]
    assert list(acme.login_domains.values_list("domain", flat=True)) == ["acme.io"]
    assert dict(acme.whitelist.values_list("email", "is_admin")) == {
        "carol@partner.com": True,
        "bob@gmail.com": False,
    }
    entry = AuditEntry.objects.get(action="login.routing.pull")
    assert entry.calls[0]["endpoint"] == "login.get_settings"


def test_pull_refuses_a_domain_another_tenant_has(acme, client, sandbox):
    other = Tenant.objects.create(name="Other")
    routing_add(tenant=other, kind="domain", values=["acme.io"], actor="admin")
    sandbox.seed_login(acme.company_id, domains=["acme.io"])
    with pytest.raises(InvalidInput) as excinfo:
        routing_pull(tenant=acme, actor="admin")
    error = excinfo.value.errors[0]
    assert error.path == "server.domains[0]" and "'Other'" in error.message
    assert not acme.login_domains.exists()


def test_a_batch_left_sending_by_a_dead_worker_fails_with_unknown_outcome(acme, client):
    routing_add(tenant=acme, kind="domain", values=["acme.io"], actor="admin")
    job = push_start(tenant=acme, actor="admin", client=client)
    RoutingPushBatch.objects.filter(job=job).update(status="sending")
    job = push_step(job, client)
    assert job.status == "failed"
    assert push_result(job).failed.outcome_unknown
    assert routing_push(tenant=acme, actor="admin", client=client).ok


def test_a_routing_change_stops_a_running_push_and_resume_replans(acme, client, sandbox, settings):
    settings.ROUTING_PUSH_BATCH_SIZE = 2
    routing_add(tenant=acme, kind="user", values=emails(4), actor="admin")
    job = push_start(tenant=acme, actor="admin", client=client)
    job = push_step(job, client, budget_seconds=0)
    routing_add(tenant=acme, kind="admin", values=["late@acme.io"], actor="admin")
    job.refresh_from_db()
    assert job.status == "failed" and "routing changed" in job.error
    assert push_step(job, client).batches.filter(status="pending").count() == 1  # nothing sent
    result = routing_push(tenant=acme, actor="admin", client=client)
    assert result.ok and result.job.pk == job.pk
    whitelist = {
        e["email"]: e["is_admin"] for e in sandbox.login_settings(acme.company_id)["whitelist"]
    }
    assert whitelist == {**dict.fromkeys(emails(4), False), "late@acme.io": True}
