"""The change pipeline: changesets from every face, their pages, audit ties, crash safety."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from changes.models import Changeset, ChangeStep
from console.audit.models import AuditEntry
from tenants.models import Tenant
from tenants.provisioning import engine
from tests.test_tenants_provisioning import changing_calls, create, tenant_provision

ROOT = Path(__file__).resolve().parent.parent

SPEC = """
version: 1
tenants:
  - name: Acme Research
    admins:
      - {name: Alice Admin, email: alice@acme.io}
    login:
      domains: [acme.io]
      whitelist:
        users: [bob@gmail.com]
  - name: Beta Labs
    admins:
      - {name: Ben, email: ben@beta.io}
    login:
      domains: [beta.io]
"""


def write_spec(tmp_path, text=SPEC) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.mark.django_db(transaction=True)
def test_plan_json_prints_the_recorded_changeset(tmp_path, sandbox, sandbox_settings, capsys):
    call_command("plan", write_spec(tmp_path), "--json")
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"id", "hash", "steps"}
    changeset = Changeset.objects.get(pk=data["id"])
    assert changeset.status == "planned" and changeset.kind == "spec"
    assert data["hash"] == changeset.content_hash and len(data["hash"]) == 64
    calls = [s["call"]["endpoint"] for s in data["steps"] if s["call"]]
    assert calls[:3] == ["system.create_company", "auth.create_user", "auth.create_credentials"]
    for step in data["steps"]:
        assert set(step) == {"kind", "target", "call", "risky", "before", "after"}
    assert data["steps"][0]["target"] == "tenant:Acme Research"
    assert changing_calls(sandbox) == []  # planning sends nothing


@pytest.mark.django_db(transaction=True)
def test_a_form_created_tenant_is_a_changeset_whose_audit_entries_carry_its_id(
    admin_client, sandbox, sandbox_settings
):
    tenant = create()
    changeset = Changeset.objects.get(kind="tenant.create")
    assert changeset.status == "planned"
    assert [s.call["endpoint"] for s in changeset.steps.all()][:3] == [
        "system.create_company",
        "auth.create_user",
        "auth.create_credentials",
    ]
    pending = AuditEntry.objects.filter(outcome="pending", changeset=str(changeset.pk))
    assert pending.count() == changeset.steps.count()  # one per call, before any call
    response = admin_client.post(reverse("tenants:apply", args=[tenant.pk]))
    assert response.status_code == 200
    changeset.refresh_from_db()
    assert changeset.status == "applied"
    assert set(changeset.steps.values_list("status", flat=True)) == {"done"}
    outcomes = AuditEntry.objects.filter(changeset=str(changeset.pk), outcome="success")
    assert {e.outcome_of for e in outcomes if e.outcome_of} == set(
        pending.values_list("seq", flat=True)
    )
    page = admin_client.get(reverse("changes:detail", args=[changeset.pk])).content.decode()
    assert "system.create_company" in page and "Applied" in page
    assert "auth.create_credentials" in page
    listing = admin_client.get(reverse("changes:list")).content.decode()
    assert f"Create tenant {tenant.name}" in listing


@pytest.mark.django_db(transaction=True)
def test_reloading_the_applied_page_writes_nothing(admin_client, sandbox, sandbox_settings):
    tenant = create()
    admin_client.post(reverse("tenants:apply", args=[tenant.pk]))
    entries, changesets = AuditEntry.objects.count(), Changeset.objects.count()
    calls = len(changing_calls(sandbox))
    response = admin_client.post(reverse("tenants:apply", args=[tenant.pk]))  # the reload
    assert response.status_code == 200
    assert AuditEntry.objects.count() == entries
    assert Changeset.objects.count() == changesets
    assert len(changing_calls(sandbox)) == calls
    assert AuditEntry.objects.filter(action="tenant.create").count() == 1


@pytest.mark.django_db(transaction=True)
def test_edit_review_shows_the_plan_and_sends_only_on_apply(
    admin_client, sandbox, sandbox_settings
):
    tenant = create()
    tenant_provision(tenant=tenant, actor="admin")
    tenant.refresh_from_db()
    sent = len(changing_calls(sandbox))
    url = reverse("tenants:edit", args=[tenant.pk])
    form = {
        "version": tenant.version,
        "allowed_users": "25",
        "feature__experiments": "add",
        "feature__app_management": "exclude",
    }
    response = admin_client.post(url, {**form, "review": "1"})
    changeset = Changeset.objects.get(kind="tenant.update")
    assert response.status_code == 302
    assert response["Location"] == reverse("changes:detail", args=[changeset.pk])
    assert changeset.status == "planned"
    [step] = changeset.steps.all()
    assert step.call["endpoint"] == "system.update_company_settings"
    assert step.call["body"]["allowed_users"] == 25 and step.before == {"allowed_users": 10}
    tenant.refresh_from_db()
    assert tenant.allowed_users == 10 and len(changing_calls(sandbox)) == sent  # not yet
    page = admin_client.get(response["Location"]).content.decode()
    assert "system.update_company_settings" in page and "Apply" in page

    admin_client.post(reverse("changes:apply", args=[changeset.pk]))
    changeset.refresh_from_db()
    tenant.refresh_from_db()
    assert changeset.status == "applied"
    assert tenant.allowed_users == 25
    assert sandbox.company(tenant.company_id)["defaults"]["allowed_users"] == 25
    assert ChangeStep.objects.get(changeset=changeset).status == "done"
    tagged = AuditEntry.objects.filter(changeset=str(changeset.pk))
    assert {"tenant.update", "system.update_company_settings"} <= set(
        tagged.values_list("action", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_saving_an_unchanged_form_records_nothing(admin_client, sandbox, sandbox_settings):
    tenant = create()
    tenant_provision(tenant=tenant, actor="admin")
    tenant.refresh_from_db()
    entries, changesets = AuditEntry.objects.count(), Changeset.objects.count()
    form = {
        "version": tenant.version,
        "allowed_users": "10",
        "feature__experiments": "add",
        "feature__app_management": "exclude",
    }
    response = admin_client.post(reverse("tenants:edit", args=[tenant.pk]), form, follow=True)
    assert "Nothing changed" in response.content.decode()
    assert AuditEntry.objects.count() == entries
    assert Changeset.objects.count() == changesets


@pytest.mark.django_db(transaction=True)
def test_the_audit_text_search_finds_values_inside_a_change(
    admin_client, sandbox, sandbox_settings
):
    create()
    response = admin_client.get(reverse("audit:list"), {"q": "bob@gmail.com"})
    page = response.content.decode()
    assert "login.routing.update" in page  # found in the entry's after value
    changeset = Changeset.objects.get(kind="tenant.create")
    filtered = admin_client.get(reverse("audit:list"), {"changeset": changeset.pk})
    assert filtered.status_code == 200 and "tenant.create" in filtered.content.decode()


# --- leases ---------------------------------------------------------------------------------


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    process.wait()
    return process.pid


@pytest.mark.django_db(transaction=True)
def test_a_lease_left_by_a_dead_process_is_taken_back_at_once(sandbox, sandbox_settings):
    tenant = create()
    Tenant.objects.filter(pk=tenant.pk).update(
        status=Tenant.Status.PROVISIONING,
        lease_until=engine.timezone.now() + engine.LEASE,
        lease_owner=f"{socket.gethostname()}:{_dead_pid()}",
    )
    outcome = tenant_provision(tenant=Tenant.objects.get(pk=tenant.pk), actor="admin")
    assert outcome.ok, outcome.error


@pytest.mark.django_db(transaction=True)
def test_a_lease_of_a_live_process_still_blocks(sandbox, sandbox_settings, settings):
    tenant = create()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # noqa: S603
    try:
        Tenant.objects.filter(pk=tenant.pk).update(
            status=Tenant.Status.PROVISIONING,
            lease_until=engine.timezone.now() + engine.LEASE,
            lease_owner=f"{socket.gethostname()}:{live.pid}",
        )
        from django.db import connection

        if connection.vendor == "postgresql":
            pytest.skip("on PostgreSQL the holder is its session's advisory lock, tested below")
        with pytest.raises(engine.TenantBusy):
            tenant_provision(tenant=Tenant.objects.get(pk=tenant.pk), actor="admin")
    finally:
        live.kill()
        live.wait()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_lease_is_the_runs_session_lock(sandbox, sandbox_settings):
    import psycopg
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    tenant = create()
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    other = psycopg.connect(**params, autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [engine.ADVISORY_KEY, tenant.pk])
        with pytest.raises(engine.TenantBusy):
            tenant_provision(tenant=tenant, actor="admin")
    finally:
        other.close()  # the holder's session ends: its lock is gone, whatever the lease says
    Tenant.objects.filter(pk=tenant.pk).update(
        status=Tenant.Status.PROVISIONING, lease_until=engine.timezone.now() + engine.LEASE
    )
    assert tenant_provision(tenant=Tenant.objects.get(pk=tenant.pk), actor="admin").ok


# --- a killed apply -------------------------------------------------------------------------


def _manage(env, *args, **kwargs):
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


@pytest.fixture
def file_db_env(tmp_path, sandbox_env):
    """A database file a manage.py subprocess and this test both use (the test database is not
    visible to another process)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the subprocess test uses its own SQLite file; run on the SQLite suite")
    env = {**sandbox_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'console.sqlite3'}"}
    result = _manage(env, "migrate", "--noinput", "-v", "0")
    assert result.returncode == 0, result.stderr
    return env


def test_a_killed_apply_loses_no_credentials_and_the_rerun_says_so(tmp_path, sandbox, file_db_env):
    spec = write_spec(tmp_path)
    out = tmp_path / "creds.tsv"
    sandbox.app.latency_ms = 300  # time to kill the run between two calls (reset after)
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "apply", spec, "--yes", "--credentials-out", str(out)],
        cwd=ROOT,
        env={**file_db_env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    printed = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        printed += line
        if "New credentials" in line:
            break
    os.kill(process.pid, signal.SIGKILL)  # after a tenant's credentials, before it finishes
    process.wait()
    stderr = process.stderr.read()
    process.stdout.close()
    process.stderr.close()
    assert "New credentials" in printed, stderr
    access_key = printed.split("access_key=")[1].split()[0]

    # The one-time secret survived: on stdout and in the 0600 file, flushed.
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert f"access_key={access_key}" in out.read_text()

    # The rerun takes the dead run's lease back at once, says what the killed run handed out,
    # and finishes without creating anything twice.
    again = _manage(file_db_env, "apply", spec, "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"credentials {access_key} were created by changeset" in again.stdout
    assert "someone else is applying" not in again.stdout.lower()
    assert sorted(c["name"] for c in sandbox.companies()) == ["Acme Research", "Beta Labs"]
    for email in ("alice@acme.io", "ben@beta.io"):
        user = sandbox.user_by_email(email)
        assert len(sandbox.credentials(user["id"])) == 1
    # A refused second use of the same file: it may hold the only copy of the secrets.
    refused = _manage(file_db_env, "apply", spec, "--yes", "--credentials-out", str(out))
    assert refused.returncode == 2 and "exists" in refused.stderr

    # The killed run's calls are in the audit log: each pending entry has its outcome now.
    check = _manage(
        file_db_env,
        "shell",
        "-v",
        "0",
        "-c",
        "from console.audit.models import AuditEntry as A;"
        "p=set(A.objects.filter(outcome='pending').values_list('seq',flat=True));"
        "d=set(A.objects.exclude(outcome_of=None).values_list('outcome_of',flat=True));"
        "print(len(p), len(p-d))",
    )
    pending, without_outcome = map(int, check.stdout.split()[-2:])
    assert pending >= 10 and without_outcome == 0, check.stdout + check.stderr


# --- plan from the snapshot -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_plan_with_a_fresh_snapshot_makes_no_apiserver_call(
    tmp_path, sandbox, sandbox_settings, capsys
):
    spec = write_spec(tmp_path)
    call_command("apply", spec, "--yes")
    call_command("refresh_server_state")
    capsys.readouterr()
    before = len(sandbox.calls)
    call_command("plan", spec)
    out = capsys.readouterr().out
    assert len(sandbox.calls) == before  # not one call, not even a read
    assert "0 changing call(s)" in out and "Server state as of" in out

    call_command("plan", spec, "--refresh")  # reads the server now
    assert len(sandbox.calls) > before
    assert "Server state as of" not in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_a_stale_snapshot_is_not_trusted(tmp_path, sandbox, sandbox_settings, settings, capsys):
    from console.snapshot.models import ServerRead

    spec = write_spec(tmp_path)
    call_command("apply", spec, "--yes")
    call_command("refresh_server_state")
    ServerRead.objects.update(
        last_success_at=engine.timezone.now()
        - engine.timedelta(minutes=settings.CONSOLE_REFRESH_MINUTES + 1)
    )
    before = len(sandbox.calls)
    call_command("plan", spec)
    assert len(sandbox.calls) > before


@pytest.mark.django_db(transaction=True)
def test_apply_keeps_the_snapshot_current_without_reading_the_server(
    tmp_path, sandbox, sandbox_settings, capsys
):
    from console.snapshot import queries as snapshot

    call_command("refresh_server_state")
    spec = write_spec(tmp_path)
    call_command("apply", spec, "--yes")
    acme = Tenant.objects.get(name="Acme Research")
    names = {c["name"] for c in snapshot.companies().companies}
    assert {"Acme Research", "Beta Labs"} <= names
    routing = snapshot.routing_of(acme.company_id).data
    assert routing["domains"] == ["acme.io"]
    assert routing["whitelist"] == [{"email": "bob@gmail.com", "is_admin": False}]
    assert routing == sandbox.login_settings(acme.company_id)  # what the server now holds


@pytest.mark.django_db(transaction=True)
def test_applying_a_reviewed_edit_after_someone_saved_says_so(
    admin_client, sandbox, sandbox_settings
):
    tenant = create()
    tenant_provision(tenant=tenant, actor="admin")
    tenant.refresh_from_db()
    url = reverse("tenants:edit", args=[tenant.pk])
    form = {"version": tenant.version, "feature__experiments": "add"}
    admin_client.post(url, {**form, "allowed_users": "25", "review": "1"})
    changeset = Changeset.objects.get(kind="tenant.update")
    admin_client.post(url, {**form, "allowed_users": "30"})  # someone else saves meanwhile
    response = admin_client.post(reverse("changes:apply", args=[changeset.pk]), follow=True)
    assert response.status_code == 200
    assert "changed by someone else" in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.allowed_users == 30


@pytest.mark.django_db(transaction=True)
def test_discarding_a_planned_tenant_closes_its_pending_entries(admin_client, sandbox):
    tenant = create()
    admin_client.post(reverse("tenants:discard", args=[tenant.pk]))
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    pending = set(AuditEntry.objects.filter(outcome="pending").values_list("seq", flat=True))
    closed = AuditEntry.objects.filter(outcome_of__in=pending)
    assert pending and set(closed.values_list("outcome_of", flat=True)) == pending
    assert all("not sent" in e.error for e in closed)
