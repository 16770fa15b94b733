"""A SPEC applied again to tenants the console already has: their console side is saved for all
of them at once (changes/spec/apply.py `_save_tenants`, engine `record_runs`), with the journal
and the audit log each tenant would get saved on its own: earlier open steps superseded and
their pending entries closed, outcomes a killed run left unwritten recorded, the next run
number, a pending entry per new step, and the hash chain intact."""

import io
import textwrap

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from changes.spec.recorded import spec_apply_recorded, spec_from_text, spec_plan
from changes.spec.validate import validate_spec
from console.audit.models import AuditEntry
from tenants.models import ProvisioningStep, Tenant
from tenants.provisioning import engine

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = ["Tenant A", "Tenant B", "Tenant C"]


def spec(with_login: bool) -> str:
    lines = ["version: 1", "tenants:"]
    for i, name in enumerate(NAMES):
        lines += [f"  - name: {name}", f"    admins: [{{name: Admin {i}, email: a{i}@t{i}.io}}]"]
        if with_login:
            lines += [
                "    allowed_users: 30",
                f"    login: {{domains: [t{i}.io], whitelist: {{users: [u{i}@partner.io]}}}}",
            ]
    return "\n".join(lines) + "\n"


def apply(tmp_path, text: str, name: str) -> None:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    call_command("apply", str(path), "--yes", stdout=io.StringIO(), stderr=io.StringIO())


def outcomes_of(step: ProvisioningStep) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(outcome_of=step.pending_seq).order_by("seq"))


def test_a_second_apply_supersedes_open_steps_and_closes_their_entries_tenant_by_tenant(
    tmp_path, sandbox, sandbox_settings, monkeypatch
):
    apply(tmp_path, spec(with_login=False), "first.yaml")
    tenants = {t.name: t for t in Tenant.objects.all()}
    versions = {name: t.version for name, t in tenants.items()}

    # Run 2 fails at its login call for every tenant; Tenant C's run also loses its outcome
    # entries, as a run killed after its steps finished and before its audit entries does.
    sandbox.fail_next("login.set_domains", status=400, times=len(NAMES), message="boom")
    killed = tenants["Tenant C"].pk
    rows_of = engine.run_audit_rows
    monkeypatch.setattr(
        engine,
        "run_audit_rows",
        lambda outcome, actor, **kw: (
            [] if outcome.tenant_id == killed else rows_of(outcome, actor, **kw)
        ),
    )
    with pytest.raises(CommandError):
        apply(tmp_path, spec(with_login=True), "second.yaml")
    monkeypatch.setattr(engine, "run_audit_rows", rows_of)
    last_seq = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()

    apply(tmp_path, spec(with_login=True), "third.yaml")

    for name, tenant in tenants.items():
        tenant.refresh_from_db()
        assert tenant.status == Tenant.Status.ACTIVE and tenant.allowed_users == 30
        assert tenant.version == versions[name] + 1  # changed by the second apply only
        run2 = {s.endpoint: s for s in tenant.steps.filter(run=2)}
        run3 = list(tenant.steps.filter(run=3).order_by("position"))
        settings_step = run2["system.update_company_settings"]
        assert settings_step.status == ProvisioningStep.Status.DONE
        for endpoint in ("login.set_domains", "login.add_whitelist_entries"):
            assert run2[endpoint].status == ProvisioningStep.Status.SUPERSEDED
        assert [s.endpoint for s in run3] == ["login.set_domains", "login.add_whitelist_entries"]
        assert all(s.status == ProvisioningStep.Status.DONE for s in run3)

        failed, never_sent = run2["login.set_domains"], run2["login.add_whitelist_entries"]
        closing = [e for s in run2.values() for e in outcomes_of(s) if e.seq > last_seq]
        closing.sort(key=lambda e: e.seq)
        if tenant.pk == killed:
            # The outcomes the killed run did not write, then the superseded steps' closing.
            assert [(e.outcome_of, e.outcome) for e in closing] == [
                (settings_step.pending_seq, "success"),
                (failed.pending_seq, "failure"),
                (failed.pending_seq, "failure"),
                (never_sent.pending_seq, "failure"),
            ]
            assert "recorded by a later run" in closing[0].error
            assert "recorded by a later run" in closing[1].error
            closing = closing[2:]
        else:
            assert [(e.outcome_of, e.outcome) for e in closing] == [
                (failed.pending_seq, "failure"),
                (never_sent.pending_seq, "failure"),
            ]
            # Its run wrote its own outcomes: nothing is recorded for it again.
            assert len(outcomes_of(settings_step)) == 1
        assert closing[0].error.startswith("failed earlier (") and "replaced by" in closing[0].error
        assert closing[1].error.startswith("not sent: the run stopped before this call")
        assert all(e.after["status"] == "superseded" for e in closing)

        # Each new step's pending entry comes after the tenant's closing entries; its outcome
        # after that.
        for step in run3:
            pending = AuditEntry.objects.get(seq=step.pending_seq)
            assert (pending.action, pending.outcome) == (step.endpoint, "pending")
            assert pending.target_id == str(tenant.pk) and pending.seq > closing[-1].seq
            [done] = outcomes_of(step)
            assert done.outcome == "success"
        # The tenant's record entry, once; its routing was saved by the apply that failed.
        mine = AuditEntry.objects.filter(target_id=str(tenant.pk), seq__gt=last_seq)
        assert mine.filter(action="tenant.update").count() == 1
        assert not mine.filter(action="login.routing.update").exists()
        assert (
            AuditEntry.objects.filter(
                target_id=str(tenant.pk), action="login.routing.update"
            ).count()
            == 1
        )

    out = io.StringIO()
    call_command("verify_audit", stdout=out, stderr=io.StringIO())


def test_a_recorded_plan_without_sso_reads_the_server_once_when_applied(sandbox, sandbox_settings):
    """The plan re-made to check the hash is the plan applied: resolving secrets changes only
    `sso` sections, so without any the server is not read a second time."""
    text = "version: 1\ntenants:\n" + "".join(f"  - name: {n}\n" for n in NAMES)
    model = validate_spec(spec_from_text(text, source="spec.yaml"), source="spec.yaml")
    changeset = spec_plan(model, actor="admin", face="api", refresh=True).changeset
    before = len(sandbox.calls)
    done = spec_apply_recorded(changeset, actor="admin", face="api", concurrency=4)
    calls = sandbox.calls[before:]
    assert calls.count("system.get_companies") == 1
    assert calls.count("system.create_company") == len(NAMES)
    assert done.changeset.status == "applied"


def test_tenants_given_different_values_each_keep_their_own(tmp_path, sandbox, sandbox_settings):
    """Existing tenants are updated together, one UPDATE per set of equal values: each tenant
    still gets its own values and its own next version."""
    apply(tmp_path, spec(with_login=False), "first.yaml")
    Tenant.objects.filter(name="Tenant B").update(version=7)
    versions = dict(Tenant.objects.values_list("name", "version"))
    given = {
        "Tenant A": "    allowed_users: 30\n    features: [experiments]\n",
        "Tenant B": "    allowed_users: 30\n    features: [experiments]\n",
        "Tenant C": "    allowed_users: 40\n    features: [experiments, pipelines]\n",
    }
    lines = ["version: 1", "tenants:"]
    for i, name in enumerate(NAMES):
        lines += [f"  - name: {name}", f"    admins: [{{name: Admin {i}, email: a{i}@t{i}.io}}]"]
    text = "\n".join(lines) + "\n"
    for name, extra in given.items():
        text = text.replace(f"  - name: {name}\n", f"  - name: {name}\n{extra}")
    apply(tmp_path, text, "second.yaml")

    tenants = {t.name: t for t in Tenant.objects.all()}
    assert {n: (t.allowed_users, t.features) for n, t in tenants.items()} == {
        "Tenant A": (30, ["experiments"]),
        "Tenant B": (30, ["experiments"]),
        "Tenant C": (40, ["experiments", "pipelines"]),
    }
    assert {n: t.version for n, t in tenants.items()} == {n: v + 1 for n, v in versions.items()}
