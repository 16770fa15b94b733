"""The background worker (docs/worker.md): `manage.py worker` processes on a database file, the
real sandbox over HTTP, background applies with progress, retry and resume after SIGKILL,
periodic jobs once per interval across workers, graceful SIGTERM, drift, and /readyz."""

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connections

from changes.background import background_run, changeset_enqueue
from changes.drift import drift_compute, drift_items
from changes.models import BackgroundApply, Changeset, PeriodicJobState
from changes.refresh import refresh_server_state
from changes.routing import routing_add
from changes.spec.recorded import spec_from_text, spec_plan
from changes.spec.validate import validate_spec
from console.apiserver import client_from_settings
from sso.models import LoginDomain
from tenants.models import Tenant, TenantAdmin
from tests.test_api import call, make_token

ROOT = Path(__file__).resolve().parent.parent
ACTOR = "admin (local)"


def spec_of(names: list[str]) -> str:
    """A SPEC of tenants without admins: only `system.create_company` calls (no credentials,
    which are never made in the background), each settled by a read after a lost answer."""
    return "version: 1\ntenants:\n" + "".join(f"  - name: {n}\n" for n in names)


def plan(names: list[str]) -> Changeset:
    spec = validate_spec(spec_from_text(spec_of(names), source="spec.yaml"), source="spec.yaml")
    return spec_plan(spec, actor=ACTOR, face="api", refresh=True).changeset


# --- a database file shared with worker processes ---------------------------------------------


@pytest.fixture(scope="module")
def migrated_file(tmp_path_factory):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the worker-process tests use their own SQLite file; run on the SQLite suite")
    path = tmp_path_factory.mktemp("workerdb") / "template.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture
def file_db(migrated_file, tmp_path, sandbox_env, sandbox_settings, django_db_blocker):
    """A fresh copy of the migrated file: this test's default connection and the workers' DB."""
    path = tmp_path / "console.sqlite3"
    shutil.copy(migrated_file, path)
    original = connections["default"]
    swapped = original.__class__({**original.settings_dict, "NAME": str(path)}, "default")
    connections["default"] = swapped
    env = {**sandbox_env, "DATABASE_URL": f"sqlite:///{path}", "PYTHONUNBUFFERED": "1"}
    try:
        with django_db_blocker.unblock():
            yield env
    finally:
        swapped.close()
        connections["default"] = original


@contextmanager
def workers(env, count=1, *extra):
    started = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "worker", "--interval", "0.2", "--tick", "0.5", *extra],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
            process.stdout.close()


def wait_started(process) -> None:
    """Until the worker's loop runs (its signal handlers are set just before it says so)."""
    printed = ""
    while "Starting worker" not in printed:
        line = process.stdout.readline()
        assert line, f"the worker stopped: {printed}"
        printed += line


def wait_until(check, seconds=30.0, every=0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return False


def background(changeset) -> BackgroundApply:
    return BackgroundApply.objects.get(changeset=changeset)


def test_a_worker_killed_mid_apply_is_resumed_by_the_next_and_nothing_is_sent_twice(
    sandbox, file_db
):
    names = [f"Bulk {i:02d}" for i in range(8)]
    changeset = plan(names)
    changeset_enqueue(changeset, actor=ACTOR)
    assert background(changeset).status == "queued"
    sandbox.latency_ms = 1500  # the creates are in flight when the worker is killed
    # ... and land on the server after it died: the resume waits for the client timeout first.
    file_db = {**file_db, "CLEARML_API_TIMEOUT": "3"}

    with workers(file_db) as [first]:
        assert wait_until(lambda: "system.create_company" in sandbox.calls, 20)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert background(changeset).status == "running"  # left behind by the dead worker
    sandbox.latency_ms = 0

    with workers(file_db):
        assert wait_until(lambda: background(changeset).status == "done", 40), background(
            changeset
        ).error
    changeset.refresh_from_db()
    assert changeset.status == "applied"
    assert background(changeset).attempts == 2
    creates = [
        r["body"]["name"] for r in sandbox.requests if r["endpoint"] == "system.create_company"
    ]
    assert sorted(creates) == names  # each company created once: the resume read first
    assert sorted(c["name"] for c in sandbox.companies()) == names


def test_periodic_jobs_run_once_per_interval_across_two_workers_and_sigterm_exits_0(
    sandbox, file_db
):
    env = {**file_db, "CONSOLE_REFRESH_MINUTES": "0.05"}  # every 3 s
    with workers(env, 2) as both:
        for process in both:
            wait_started(process)
        started = time.monotonic()
        time.sleep(7.5)
        for process in both:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(15) for process in both]
        elapsed = time.monotonic() - started
    assert codes == [0, 0]
    state = PeriodicJobState.objects.get(name="server_state.refresh")
    turns = int(elapsed // 3) + 2  # the first turn may come before `started`
    assert 2 <= state.runs <= turns  # one worker per turn: two would make twice as many
    refreshes = sandbox.calls.count("server.info")
    assert refreshes == state.runs


@pytest.mark.django_db(transaction=True)
def test_a_failed_background_apply_shows_its_error_and_retry_resumes_it(
    admin_client, sandbox, sandbox_settings
):
    names = [f"Retry {i}" for i in range(3)]
    changeset = plan(names)
    sandbox.fail_next("system.create_company", status=500, times=20, message="disk full")
    admin_client.post(f"/changes/{changeset.pk}/apply/")  # a SPEC plan: queued, not applied
    assert background(changeset).status == "queued"
    assert background_run(changeset.pk) == "failed"  # what the worker's task runs

    page = admin_client.get(f"/changes/{changeset.pk}/").content.decode()
    assert "disk full" in page and "Retry" in page
    assert f'action="/changes/{changeset.pk}/retry/"' in page

    sandbox.app.faults.clear()  # the server recovers
    response = admin_client.post(f"/changes/{changeset.pk}/retry/")
    assert response.status_code == 302
    assert background(changeset).status == "queued"
    assert background_run(changeset.pk) == "done"
    changeset.refresh_from_db()
    assert changeset.status == "applied"
    assert sorted(c["name"] for c in sandbox.companies()) == names


@pytest.mark.django_db(transaction=True)
def test_the_progress_fragment_polls_while_the_apply_runs(admin_client, sandbox, sandbox_settings):
    changeset = plan([f"Progress {i}" for i in range(7)])
    admin_client.post(f"/changes/{changeset.pk}/apply/")
    fragment = admin_client.get(f"/changes/{changeset.pk}/progress/").content.decode()
    assert 'hx-trigger="every 1s"' in fragment
    assert '<strong class="progress-done">0</strong> of <span class="progress-total">7' in fragment
    page = admin_client.get(f"/changes/{changeset.pk}/").content.decode()
    assert 'id="progress"' in page  # a reload shows the same progress

    background_run(changeset.pk)
    fragment = admin_client.get(f"/changes/{changeset.pk}/progress/").content.decode()
    assert "hx-trigger" not in fragment  # finished: polling stops
    assert '<strong class="progress-done">7</strong>' in fragment


@pytest.mark.django_db(transaction=True)
def test_drift_lists_a_change_made_on_the_server_and_both_actions_work(
    admin_client, sandbox, sandbox_settings
):
    client = client_from_settings()
    company = client.call("system.create_company", {"name": "Drifty"})["id"]
    tenant = Tenant.objects.create(
        name="Drifty", company_id=company, status="active", features=["a"], allowed_users=5
    )
    client.call("system.update_company_settings", {"company": company, "features": ["a"]})
    client.call("system.update_company_settings", {"company": company, "allowed_users": 5})
    refresh_server_state()
    assert drift_compute() == []

    # Someone changes the server directly.
    client.call("system.update_company_settings", {"company": company, "features": ["a", "b"]})
    client.call("system.update_company_settings", {"company": company, "allowed_users": 9})
    refresh_server_state()
    assert {d.field for d in drift_compute()} == {"features", "allowed_users"}
    page = admin_client.get("/drift/").content.decode()
    assert "Drifty" in page and "Adopt server value" in page and "Re-apply console value" in page
    dashboard = admin_client.get("/").content.decode()
    assert "2</span> differences" in dashboard

    admin_client.post(f"/drift/{tenant.pk}/features/adopt/")
    tenant.refresh_from_db()
    assert tenant.features == ["a", "b"]
    admin_client.post(f"/drift/{tenant.pk}/allowed_users/reapply/")
    assert sandbox.company(company)["defaults"]["allowed_users"] == 5
    assert drift_items() == []
    kinds = set(Changeset.objects.values_list("kind", flat=True))
    assert {"drift.adopt", "tenant.drift"} <= kinds


@pytest.mark.django_db
def test_readyz_answers_503_when_the_database_does_not(client, monkeypatch):
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").status_code == 200

    def broken(*args, **kwargs):
        raise ConnectionError("database down")

    monkeypatch.setattr(connections["default"], "cursor", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable"}
    assert client.get("/healthz").status_code == 200  # liveness: the process still runs


@pytest.mark.django_db(transaction=True)
def test_the_api_queues_a_spec_apply_for_the_worker(sandbox, sandbox_settings):
    changeset = plan(["Api One", "Api Two"])
    response = call(
        "post", f"/changes/{changeset.pk}/apply?background=true", make_token("operator")
    )
    assert response.status_code == 202, response.content
    assert response.json()["background_status"] == "queued"
    assert sandbox.companies() == []  # nothing sent by the request
    read = call("get", f"/changes/{changeset.pk}", make_token("viewer")).json()
    assert read["background"] == {
        "status": "queued",
        "attempts": 0,
        "error": "",
        "checked": 0,
        "to_check": 0,
        "steps_done": 0,
        "steps_total": 2,
    }
    assert background_run(changeset.pk) == "done"
    assert sorted(c["name"] for c in sandbox.companies()) == ["Api One", "Api Two"]
    read = call("get", f"/changes/{changeset.pk}", make_token("viewer")).json()
    assert read["status"] == "applied"
    run = read["background"]
    assert (run["status"], run["attempts"], run["steps_done"]) == ("done", 1, 2)


@pytest.mark.django_db
def test_a_changeset_applied_in_its_request_has_no_background_in_the_api(sandbox_settings):
    changeset = plan(["Never Queued"])
    read = call("get", f"/changes/{changeset.pk}", make_token("viewer")).json()
    assert read["background"] is None and read["status"] == "planned"


@pytest.mark.django_db(transaction=True)
def test_routing_drift_is_adopted_or_pushed_again(admin_client, sandbox, sandbox_settings):
    client = client_from_settings()
    company = client.call("system.create_company", {"name": "Routed"})["id"]
    user = client.call(
        "auth.create_user",
        {"name": "Admin", "company": company, "email": "ann@routed.io", "role": "admin"},
    )["id"]
    tenant = Tenant.objects.create(name="Routed", company_id=company, status="active")
    TenantAdmin.objects.create(tenant=tenant, name="Admin", email="ann@routed.io", user_id=user)
    routing_add(tenant=tenant, kind="domain", values=["routed.io"], actor=ACTOR)
    sandbox.seed_login(company, domains=["routed.io", "other-routed.io"])  # changed on the server
    refresh_server_state()
    [item] = drift_compute()
    assert item.field == "routing" and "other-routed.io" in item.server["domains"]

    admin_client.post(f"/drift/{tenant.pk}/routing/reapply/")  # the console's routing again
    assert sandbox.login_settings(company)["domains"] == ["routed.io"]
    assert drift_items() == []

    sandbox.seed_login(company, domains=["routed.io", "other-routed.io"])
    refresh_server_state()
    drift_compute()
    admin_client.post(f"/drift/{tenant.pk}/routing/adopt/")  # the server's routing, kept
    domains = LoginDomain.objects.filter(tenant=tenant).values_list("domain", flat=True)
    assert sorted(domains) == ["other-routed.io", "routed.io"]
    assert drift_items() == []


def test_an_idle_worker_looks_for_queued_tasks_four_times_a_second_by_default():
    from changes.management.commands.worker import Command

    parser = Command().create_parser("manage.py", "worker")
    assert parser.parse_args([]).interval == 0.25
    assert parser.parse_args(["--interval", "2"]).interval == 2


def spec_with_logins(count: int, with_login: bool) -> str:
    lines = ["version: 1", "tenants:"]
    for i in range(count):
        lines += [
            f"  - name: Checked {i}",
            "    admins:",
            f"      - {{name: Admin {i}, email: admin{i}@checked{i}.example}}",
        ]
        if with_login:
            lines += ["    login:", f"      domains: [checked{i}.example]"]
    return "\n".join(lines) + "\n"


def tenants_gaining_logins(count: int, tmp_path):
    """`count` tenants applied with an admin each, and the SPEC that gives each a login domain
    (validated): planning or applying it reads each tenant's routing from the server."""
    from django.core.management import call_command

    first = tmp_path / "tenants.yaml"
    first.write_text(spec_with_logins(count, with_login=False))
    call_command("apply", str(first), "--yes", stdout=io.StringIO())
    text = spec_with_logins(count, with_login=True)
    return validate_spec(spec_from_text(text, source="spec.yaml"), source="spec.yaml")


@pytest.mark.django_db(transaction=True)
def test_the_check_of_the_plan_against_the_server_is_followed_on_the_run(
    sandbox, sandbox_settings, tmp_path
):
    """Before the first call a recorded SPEC's run reads each tenant's routing from the server
    (a second or more for hundreds of tenants): the run's row says how far that check is."""
    spec = tenants_gaining_logins(6, tmp_path)
    changeset = spec_plan(spec, actor=ACTOR, face="api", refresh=True).changeset
    changeset_enqueue(changeset, actor=ACTOR)
    assert (background(changeset).checked, background(changeset).to_check) == (0, 0)

    seen = len(sandbox.requests)
    assert background_run(changeset.pk) == "done"
    run = background(changeset)
    assert (run.checked, run.to_check) == (6, 6)
    reads = [r for r in sandbox.requests[seen:] if r["endpoint"] == "login.get_settings"]
    assert len(reads) >= 6  # the check read each tenant's routing (the push reads it again)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("concurrency", [1, 4])
def test_the_plan_tells_how_many_tenants_it_has_read_as_they_are_read(
    sandbox, sandbox_settings, tmp_path, concurrency
):
    from changes.spec.recorded import spec_build_plan

    spec = tenants_gaining_logins(5, tmp_path)
    told = []
    spec_build_plan(
        spec,
        concurrency=concurrency,
        resolve_secrets=False,
        on_read=lambda read, total: told.append((read, total)),
    )
    assert told == [(n, 5) for n in range(6)]


@pytest.mark.django_db(transaction=True)
def test_the_progress_fragment_says_how_far_the_check_is(admin_client, sandbox, sandbox_settings):
    changeset = plan([f"Checking {i}" for i in range(7)])
    changeset_enqueue(changeset, actor=ACTOR)
    BackgroundApply.objects.filter(changeset=changeset).update(
        status="running", checked=3, to_check=7
    )
    fragment = admin_client.get(f"/changes/{changeset.pk}/progress/").content.decode()
    assert "Checking the plan against the server: <strong>3</strong> of 7 tenants read" in fragment
    BackgroundApply.objects.filter(changeset=changeset).update(checked=7)
    fragment = admin_client.get(f"/changes/{changeset.pk}/progress/").content.decode()
    assert "Read from the server to check the plan: 7 tenants" in fragment
    BackgroundApply.objects.filter(changeset=changeset).update(status="done")
    fragment = admin_client.get(f"/changes/{changeset.pk}/progress/").content.decode()
    assert "check the plan" not in fragment  # finished: only the steps are shown
