"""A run's writes: every step is committed as sent before its call, every answer before the next
call (together with the next step's "sent" mark), and a crash in between is resumed safely."""

import pytest
from django.db import connection

from changes import tenants as pipeline
from console.audit import audit_for_target
from tenants.models import IssuedCredential, ProvisioningStep, Tenant
from tenants.provisioning import engine
from tests.test_tenants_provisioning import acme, changing_calls, create


def tenant_provision(*, tenant, actor):
    """Apply (or resume) the tenant's calls through the change pipeline; the run's outcome."""
    return pipeline.tenant_apply(tenant=tenant, actor=actor).outcome


pytestmark = pytest.mark.django_db(transaction=True)


def steps_of(tenant) -> dict[str, ProvisioningStep]:
    return {s.endpoint: s for s in ProvisioningStep.objects.filter(tenant=tenant)}


def test_each_call_goes_out_after_its_step_and_the_previous_answer_are_committed(
    sandbox, sandbox_settings, monkeypatch
):
    tenant = create()
    seen = []
    real_call = engine.PlannedCall.execute

    def execute(call, client):
        # What another connection (a resume, a page) sees in the database when the call leaves.
        assert not connection.in_atomic_block
        steps = sorted(steps_of(tenant).values(), key=lambda s: s.position)
        seen.append([(s.endpoint, s.status) for s in steps])
        return real_call(call, client)

    monkeypatch.setattr(engine.PlannedCall, "execute", execute)
    outcome = tenant_provision(tenant=tenant, actor="admin")
    assert outcome.ok, outcome.error
    endpoints = [
        "system.create_company",
        "auth.create_user",
        "auth.create_credentials",
        "login.set_domains",
        "login.add_whitelist_entries",
    ]
    for n, statuses in enumerate(seen):
        # Before the n-th call: the earlier steps done, this one sent, the later ones pending.
        assert statuses == [
            (e, "done" if i < n else "sent" if i == n else "pending")
            for i, e in enumerate(endpoints)
        ]
    # The last answer is committed with the tenant's release.
    assert {s.status for s in steps_of(tenant).values()} == {"done"}
    assert Tenant.objects.get(pk=tenant.pk).status == Tenant.Status.ACTIVE


@pytest.mark.parametrize(
    "lost,sent_again",
    [
        ("system.create_company", False),  # found by name with a read call
        ("auth.create_user", False),  # found by email with a read call
        ("login.set_domains", True),  # sets the whole list: sending it again is harmless
    ],
)
def test_a_crash_between_an_answer_and_its_commit_is_resumed_without_doubles(
    sandbox, sandbox_settings, monkeypatch, lost, sent_again
):
    """The answer of `lost` arrived, but the console died before committing it (here: the
    commit with the next step's "sent" mark fails). A resume settles the step like any lost
    answer: a create step with a read call, never by creating again."""
    tenant = create()
    order = [s.endpoint for s in sorted(steps_of(tenant).values(), key=lambda s: s.position)]
    following = order[order.index(lost) + 1]
    real_update = engine._update_row

    def update_row(model, pk, changes, **kwargs):
        is_next_sent = (
            model is ProvisioningStep
            and changes.get("status") == ProvisioningStep.Status.SENT
            and ProvisioningStep.objects.get(pk=pk).endpoint == following
        )
        if is_next_sent:
            raise RuntimeError("the console died")
        return real_update(model, pk, changes, **kwargs)

    monkeypatch.setattr(engine, "_update_row", update_row)
    outcome = tenant_provision(tenant=tenant, actor="admin")
    assert not outcome.ok
    assert "stopped unexpectedly" in outcome.error
    # Nothing of the lost answer was committed: the step is still "sent", the next one pending.
    steps = steps_of(tenant)
    assert steps[lost].status == ProvisioningStep.Status.SENT
    assert steps[following].status == ProvisioningStep.Status.PENDING
    assert Tenant.objects.get(pk=tenant.pk).status == Tenant.Status.FAILED

    monkeypatch.setattr(engine, "_update_row", real_update)
    before = changing_calls(sandbox)
    outcome = tenant_provision(tenant=Tenant.objects.get(pk=tenant.pk), actor="admin")
    assert outcome.ok, outcome.error
    again = changing_calls(sandbox)[len(before) :]
    rest = order[order.index(lost) + 1 :]
    assert again == ([lost] if sent_again else []) + rest
    assert [c["name"] for c in sandbox.companies()] == ["Acme Research"]
    user = sandbox.user_by_email("alice@acme.io")
    assert len(sandbox.credentials(user["id"])) == 1
    assert IssuedCredential.objects.count() == 1


def test_new_credentials_are_handed_out_only_once_their_key_is_committed(
    sandbox, sandbox_settings, monkeypatch
):
    tenant = create(acme(login=None))
    shown = []
    real_commit = engine._Pending.commit

    def commit(pending):
        handing_out = bool(pending.then)
        real_commit(pending)
        if handing_out:
            # Right after the secret joined the outcome, from another connection's view.
            assert not connection.in_atomic_block
            shown.append(list(IssuedCredential.objects.values_list("access_key", flat=True)))

    monkeypatch.setattr(engine._Pending, "commit", commit)
    outcome = tenant_provision(tenant=tenant, actor="admin")
    assert outcome.ok, outcome.error
    assert shown == [[outcome.credentials[0].access_key]]


def test_credentials_whose_record_was_not_committed_are_never_handed_out(
    sandbox, sandbox_settings, monkeypatch
):
    """The credentials answer came, but committing its record failed: the secret is not in the
    outcome (nobody sees it), and a resume revokes that key and creates a new pair."""
    tenant = create(acme(login=None))
    real_update = engine._update_row

    def update_row(model, pk, changes, **kwargs):
        if model is Tenant and changes.get("status") == Tenant.Status.ACTIVE:
            raise RuntimeError("the database went away")  # the release after the last answer
        return real_update(model, pk, changes, **kwargs)

    monkeypatch.setattr(engine, "_update_row", update_row)
    outcome = tenant_provision(tenant=tenant, actor="admin")
    assert not outcome.ok
    assert outcome.credentials == []
    assert IssuedCredential.objects.count() == 0
    assert Tenant.objects.get(pk=tenant.pk).status == Tenant.Status.FAILED
    user = sandbox.user_by_email("alice@acme.io")
    [unseen] = [c["access_key"] for c in sandbox.credentials(user["id"])]
    # The call is audited as failed with its outcome unknown, as the database holds the step.
    entry = audit_for_target("tenant", str(tenant.pk))[0]
    assert entry.action == "auth.create_credentials"
    assert entry.outcome == "failure" and "stopped unexpectedly" in entry.error
    assert "outcome unknown" in entry.error
    assert entry.after["status"] == "sent" and "result" not in entry.after
    pending_seq = entry.outcome_of

    monkeypatch.setattr(engine, "_update_row", real_update)
    outcome = tenant_provision(tenant=Tenant.objects.get(pk=tenant.pk), actor="admin")
    assert outcome.ok, outcome.error
    [shown] = outcome.credentials
    assert [c["access_key"] for c in sandbox.credentials(user["id"])] == [shown.access_key]
    assert shown.access_key != unseen
    assert list(IssuedCredential.objects.values_list("access_key", flat=True)) == [shown.access_key]
    entry = audit_for_target("tenant", str(tenant.pk))[0]
    assert entry.action == "auth.create_credentials" and entry.outcome == "success"
    assert entry.after["result"] == {"access_key": shown.access_key}
    assert entry.outcome_of == pending_seq
