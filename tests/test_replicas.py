"""Several replicas on one PostgreSQL database (docs/deployment.md, docs/worker.md): two gunicorn
processes and two workers, edits through both web processes at once. Every change is applied
once, no apiserver call is made twice for one step, the audit chain is intact, one session works
on both replicas, and the periodic refresh runs once per interval.

Runs on the PostgreSQL suite (DATABASE_URL); it makes its own database next to the test one.
"""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import connection

from console.admin_password import hash_password

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "replica-test-password"  # noqa: S105 - a throwaway account of a throwaway database
SEED = """
version: 1
tenants:
  - name: Acme Research
    admins:
      - {name: Alice, email: alice@acme.io}
  - name: Beta Labs
    admins:
      - {name: Ben, email: ben@beta.io}
"""
BULK = [f"Replica {i:02d}" for i in range(6)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sql(dsn: dict, query: str, params=()) -> list[tuple]:
    with psycopg.connect(**dsn, autocommit=True) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def replica_db():
    """A fresh PostgreSQL database on the test database's server; dropped afterwards."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL): the replicas share one database")
    s = connection.settings_dict
    server = {
        "host": s["HOST"] or "127.0.0.1",
        "port": int(s["PORT"] or 5432),
        "user": s["USER"],
        "password": s["PASSWORD"] or None,
    }
    name = f"console_replicas_{os.getpid()}_{int(time.time())}"
    _sql({**server, "dbname": "postgres"}, f'CREATE DATABASE "{name}"')
    auth = f"{server['user']}:{server['password']}@" if server["password"] else f"{server['user']}@"
    url = f"postgres://{auth}{server['host']}:{server['port']}/{name}"
    try:
        yield url, {**server, "dbname": name}
    finally:
        _sql(
            {**server, "dbname": "postgres"},
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            [name],
        )
        _sql({**server, "dbname": "postgres"}, f'DROP DATABASE IF EXISTS "{name}"')


def _manage(env, *args) -> subprocess.CompletedProcess:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _start(env, *args, **extra_env) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, *args],
        cwd=ROOT,
        env={**env, **extra_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def _sign_in(base: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/signin/", timeout=10)
    response = session.post(
        f"{base}/signin/",
        data={
            "username": "admin",
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/signin/"},
        timeout=30,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:500]
    return session


def _signed_in(session: requests.Session, base: str) -> bool:
    response = session.get(f"{base}/", timeout=10, allow_redirects=False)
    return response.status_code == 200


def _queue_bulk(bases: list[str], bearer: dict, names: list[str]) -> int:
    """Plan a SPEC of new tenants on one replica and queue it for the workers on the other."""
    planned = requests.post(
        f"{bases[0]}/api/v1/plans",
        data="version: 1\ntenants:\n" + "".join(f"  - name: {n}\n" for n in names),
        headers={**bearer, "Content-Type": "application/yaml"},
        timeout=60,
    )
    assert planned.status_code == 201, planned.text
    changeset = planned.json()["id"]
    queued = requests.post(
        f"{bases[1]}/api/v1/changes/{changeset}/apply?background=true",
        headers=bearer,
        timeout=60,
    )
    assert queued.status_code == 202, queued.text
    return changeset


def _status(base: str, bearer: dict, changeset: int) -> str:
    return requests.get(f"{base}/api/v1/changes/{changeset}", headers=bearer, timeout=30).json()[
        "status"
    ]


def _wait_for_running(dsn: dict, changeset: int) -> str:
    """The `host:pid` of the worker running the changeset's apply."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = _sql(
            dsn,
            "SELECT worker FROM changes_backgroundapply WHERE changeset_id = %s AND status = %s",
            [changeset, "running"],
        )
        if rows:
            return rows[0][0]
        time.sleep(0.1)
    raise AssertionError("no worker took the apply")


def test_two_web_replicas_and_two_workers_on_one_database(sandbox, sandbox_env, replica_db):
    url, dsn = replica_db
    env = {
        **sandbox_env,
        "DATABASE_URL": url,
        "SECRET_KEY": "replica-test-" + "k" * 40,
        "CONSOLE_ADMIN_PASSWORD_BCRYPT": hash_password(PASSWORD),
        "CONSOLE_REFRESH_MINUTES": "0.05",  # every 3 s
        "GUNICORN_WORKERS": "1",
    }
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "createcachetable")
    spec = Path(env.get("TMPDIR", "/tmp")) / f"replica-seed-{os.getpid()}.yaml"
    spec.write_text(textwrap.dedent(SEED))
    _manage(env, "apply", str(spec), "--yes")
    spec.unlink()
    token = _manage(env, "api_token", "create", "--name", "replicas", "--role", "admin")
    token = token.stdout.strip().splitlines()[-1]
    tenants = dict(_sql(dsn, "SELECT name, id FROM tenants_tenant"))

    ports = [_free_port(), _free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    processes = [
        _start(env, "-m", "gunicorn", "-c", "gunicorn.conf.py", "console.wsgi", PORT=str(port))
        for port in ports
    ]
    workers = [
        _start(env, "manage.py", "worker", "--interval", "0.2", "--tick", "0.5") for _ in range(2)
    ]
    try:
        for base in bases:
            _wait_http(f"{base}/readyz")
        started = time.monotonic()
        session = _sign_in(bases[0])
        assert _signed_in(session, bases[1])  # the session lives in the database

        # Edits through both replicas at once: routing entries on both tenants, and a bulk SPEC
        # planned on one replica and queued for the workers on the other.
        accepted: list[str] = []
        errors: list[str] = []

        def edits(base: str, prefix: str) -> None:
            for i in range(8):
                tenant = tenants["Acme Research" if i % 2 else "Beta Labs"]
                email = f"{prefix}{i}@example.org"
                response = session.post(
                    f"{base}/sso/routing/tenants/{tenant}/user/add/",
                    data={"value": email},
                    headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": base},
                    timeout=30,
                )
                (accepted if response.status_code in (200, 302) else errors).append(email)

        bearer = {"Authorization": f"Bearer {token}"}
        threads = [
            threading.Thread(target=edits, args=(base, f"r{n}-")) for n, base in enumerate(bases)
        ]
        for thread in threads:
            thread.start()
        changeset = _queue_bulk(bases, bearer, BULK)
        for thread in threads:
            thread.join(60)

        deadline = time.monotonic() + 60
        while _status(bases[0], bearer, changeset) not in ("applied", "failed"):
            assert time.monotonic() < deadline, "the background apply did not finish"
            time.sleep(0.3)
        assert _status(bases[0], bearer, changeset) == "applied"
        time.sleep(3.5)  # one more refresh turn
        elapsed = time.monotonic() - started

        # Every accepted edit is in the console once, and audited.
        assert errors == [] and len(accepted) == 16
        rows = _sql(dsn, "SELECT email FROM sso_whitelistentry")
        emails = [r[0] for r in rows]
        assert sorted(e for e in emails if e.endswith("@example.org")) == sorted(accepted)
        # Every step applied once: each company created once, by one of the two workers.
        creates = [
            r["body"]["name"] for r in sandbox.requests if r["endpoint"] == "system.create_company"
        ]
        assert sorted(c for c in creates if c.startswith("Replica")) == BULK
        assert len(creates) == len(set(creates))
        # One refresh per interval, not one per worker.
        runs = _sql(
            dsn,
            "SELECT runs FROM changes_periodicjobstate WHERE name = %s",
            ["server_state.refresh"],
        )
        assert 1 <= runs[0][0] <= int(elapsed // 3) + 2
        # The session still works on both replicas.
        assert _signed_in(session, bases[0]) and _signed_in(session, bases[1])

        # A worker killed mid-apply: its advisory lock dies with its connection, and a worker
        # that starts resumes the run; nothing is created twice.
        sandbox.latency_ms = 1500
        later = _queue_bulk(bases, bearer, ["Killed A", "Killed B", "Killed C"])
        row = _wait_for_running(dsn, later)
        deadline = time.monotonic() + 30
        while not any(
            r["endpoint"] == "system.create_company"
            and str((r.get("body") or {}).get("name", "")).startswith("Killed")
            for r in sandbox.requests
        ):
            assert time.monotonic() < deadline, "the worker sent no create"
            time.sleep(0.1)  # the creates are in flight (journaled as sent) when it is killed
        victim = next(w for w in workers if row.endswith(f":{w.pid}"))
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        workers.remove(victim)
        sandbox.latency_ms = 0
        # (CLEARML_API_TIMEOUT: how long the resume waits for the dead worker's calls to land.)
        third = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "worker", "--interval", "0.2", "--no-scheduler"],
            cwd=ROOT,
            env={**env, "CLEARML_API_TIMEOUT": "3"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        workers.append(third)
        printed = ""
        while "Starting worker" not in printed:  # its loop (and its signal handlers) run
            line = third.stdout.readline()
            assert line, printed
            printed += line
        deadline = time.monotonic() + 60
        while _status(bases[0], bearer, later) != "applied" and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _status(bases[0], bearer, later) == "applied", _sql(
            dsn,
            "SELECT b.error, c.error FROM changes_backgroundapply b JOIN changes_changeset c "
            "ON c.id = b.changeset_id WHERE c.id = %s",
            [later],
        )
        creates = [
            r["body"]["name"] for r in sandbox.requests if r["endpoint"] == "system.create_company"
        ]
        assert sorted(c for c in creates if c.startswith("Killed")) == [
            "Killed A",
            "Killed B",
            "Killed C",
        ]
    finally:
        for process in processes + workers:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(30) for process in workers]
        for process in processes:
            process.wait(30)
    assert codes == [0, 0]
    verified = _manage(env, "verify_audit")
    assert "chain intact" in verified.stdout
