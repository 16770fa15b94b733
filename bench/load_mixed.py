"""Benchmark: mixed load on the production stack, 20 admins, 80% page reads / 20% routing edits.

    .venv/bin/python bench/load_mixed.py [--database-url postgres://postgres@127.0.0.1:5432/postgres]
                                         [--setting 2x4 --setting 5x1 ...] [--duration 30]
                                         [--connections 20] [--tenants 10] [--keep-log]

Sets up the deployment on loopback as docker/entrypoint.sh and `make run` do:

1. a scratch database `console_load_<pid>` on the PostgreSQL server the URL names (migrated, the
   cache table created), static files collected into a temporary directory (the only setting
   that differs from console/settings.py: a two-line module points STATIC_ROOT there);
2. `manage.py sandbox_apiserver` on a free loopback port (key and secret in the environment),
   --tenants tenants created through the change pipeline (`manage.py apply --yes` of a SPEC:
   each with an admin, a login domain and a whitelist entry), the snapshot filled
   (`manage.py refresh_server_state`), and `manage.py worker` running;
3. for each --setting WORKERSxTHREADS: gunicorn as the entrypoint starts it (gunicorn.conf.py,
   GUNICORN_WORKERS/GUNICORN_THREADS), DEBUG=false; signs in as `admin` once (a session cookie
   and a CSRF token) and runs wrk (Debian package `wrk`) in its own process with
   bench/load_mixed.lua: --connections connections on 2 threads for --duration seconds; each
   request is a GET of one of the main pages (80%) or a routing edit (20%): POST
   /sso/routing/tenants/<id>/user/add/ with a new email, which the view saves as a whitelist
   row with its changeset and audit entry, and leaves the tenant's routing waiting for a push.

Prints, per setting, requests/s, p50/p90/p99 latency, responses other than 2xx/3xx, socket
errors, and the load average before and after; and the CPU time gunicorn and the PostgreSQL
backends of the bench's database spent per request, which bounds the rate two idle cores could
serve whatever else runs on the machine. Then checks that every accepted edit (a 302
answer) is in the database and audited (one `login.routing.update` audit entry per edit) and runs
`manage.py verify_audit`.

Targets (issue 16): >= 200 requests/s, p99 <= 250 ms, 0 errors. The machine has 2 cores shared
with other work: the load average printed next to each figure says how much else ran.
Every process it started is stopped and the database dropped at the end, whatever happens.
"""

import argparse
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from pg_server import server_params
from processes import Processes

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
PASSWORD = "bench-" + secrets.token_urlsafe(12)
LUA = ROOT / "bench" / "load_mixed.lua"
TARGET_RPS, TARGET_P99_MS = 200, 250


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_SERVER, help="a PostgreSQL server")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        help="gunicorn WORKERSxTHREADS (repeatable; default 2x4, the entrypoint's, and 5x1)",
    )
    parser.add_argument("--duration", type=int, default=30, help="seconds of load per setting")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--edit-share", type=float, default=0.2)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--keep-log", action="store_true", help="print gunicorn's log tail")
    parser.add_argument(
        "--pause",
        action="store_true",
        help="after the first setting's warm-up, print the worker pids and wait for Enter "
        "(to attach py-spy)",
    )
    return parser.parse_args()


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a live process has used; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stack_cpu(gunicorn_pid: int, dbname: str) -> tuple[dict[int, float], dict[int, float]]:
    """CPU seconds so far of each of gunicorn's processes (master and workers) and of each
    PostgreSQL backend serving the bench's database, by pid."""
    app: dict[int, float] = {}
    db: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            group = os.getpgid(pid)
        except (OSError, ProcessLookupError):
            continue
        if group == gunicorn_pid:
            app[pid] = process_cpu(pid)
        elif cmdline.startswith("postgres: ") and f" {dbname} " in cmdline:
            db[pid] = process_cpu(pid)
    return app, db


class StackCpuMeter:
    """The CPU the stack spends during a run, sampled every half second: a backend that ends
    during the run (Django closes a connection older than CONN_MAX_AGE and opens a new one)
    keeps what it used until its last sample, and a new one counts from zero. Comparing two
    snapshots instead read 0 ms of PostgreSQL per request for a 60 s run."""

    def __init__(self, gunicorn_pid: int, dbname: str):
        self.gunicorn_pid, self.dbname = gunicorn_pid, dbname
        self.start = stack_cpu(gunicorn_pid, dbname)
        self.last = tuple(dict(side) for side in self.start)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def _sample(self) -> None:
        for last, now in zip(self.last, stack_cpu(self.gunicorn_pid, self.dbname), strict=True):
            last.update(now)

    def stop(self) -> tuple[float, float]:
        """(gunicorn, PostgreSQL) CPU seconds used since the meter started."""
        self._stop.set()
        self._thread.join()
        self._sample()
        return tuple(
            sum(cpu - start.get(pid, 0.0) for pid, cpu in last.items())
            for start, last in zip(self.start, self.last, strict=True)
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sql(params: dict, statement: str, dbname: str = "postgres", args=()) -> list:
    import psycopg

    with psycopg.connect(**{**params, "dbname": dbname}, autocommit=True) as conn:
        cursor = conn.execute(statement, args)
        return cursor.fetchall() if cursor.description else []


def manage(env: dict, *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def start_sandbox(procs: Processes, env: dict) -> tuple[str, str, str]:
    key = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(30))
    secret = "B" + secrets.token_urlsafe(40)
    # The key and secret travel in the environment (as scripts/run-dev.sh), never in argv.
    env = {**env, "SANDBOX_KEY": key, "SANDBOX_SECRET": secret}
    argv = [PYTHON, str(ROOT / "manage.py"), "sandbox_apiserver", "--host", "127.0.0.1"]
    proc = procs.start("sandbox", [*argv, "--port", "0"], env, subprocess.PIPE)
    line = proc.stdout.readline()
    match = re.search(r"listening on (\S+)", line)
    if not match:
        raise SystemExit(f"the sandbox did not start: {line}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return match.group(1), key, secret


def spec_text(count: int) -> str:
    lines = ["version: 1", "tenants:"]
    for i in range(count):
        lines += [
            f"  - name: Load Tenant {i:04d}",
            "    admins:",
            f"      - {{name: Admin {i}, email: admin{i}@tenant{i}.example}}",
            "    login:",
            f"      domains: [tenant{i}.example]",
            f"      whitelist: {{users: [guest{i}@partner.example]}}",
        ]
    return "\n".join(lines) + "\n"


def start_gunicorn(procs: Processes, env: dict, workers: int, threads: int, log_path: Path):
    import requests

    port = free_port()
    env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
    }
    argv = [PYTHON, "-m", "gunicorn", "--config", "gunicorn.conf.py", "console.wsgi:application"]
    log = open(log_path, "w")  # noqa: SIM115 - closed with the run's temporary directory
    proc = procs.start("gunicorn", argv, env, log)
    base = f"http://127.0.0.1:{port}"
    stop = time.monotonic() + 60
    while time.monotonic() < stop:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{log_path.read_text()}")
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                return proc, base
        except requests.RequestException:  # not listening yet, or still importing
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer /healthz:\n{log_path.read_text()}")


def sign_in(base: str):
    import requests

    session = requests.Session()
    page = session.get(base + "/signin/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    data = {"csrfmiddlewaretoken": token, "username": "admin", "password": PASSWORD, "next": ""}
    answer = session.post(base + "/signin/", data=data, allow_redirects=False, timeout=10)
    if answer.status_code != 302 or "sessionid" not in session.cookies:
        raise SystemExit(f"sign-in failed: HTTP {answer.status_code}")
    return session


def lua_script(path: Path, session, base: str, pages: list[str], tenants: list[int], run: str,
               edit_share: float) -> None:  # fmt: skip
    cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    head = [
        f'COOKIE = "{cookie}"',
        f'CSRF = "{session.cookies["csrftoken"]}"',
        f'ORIGIN = "{base}"',
        f'RUN = "{run}"',
        f"EDIT_SHARE = {edit_share}",
        "PAGES = {" + ", ".join(f'"{p}"' for p in pages) + "}",
        "TENANTS = {" + ", ".join(str(t) for t in tenants) + "}",
    ]
    path.write_text("\n".join(head) + "\n" + LUA.read_text())


def run_wrk(base: str, script: Path, connections: int, duration: int) -> dict:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s"]
    done = subprocess.run(
        [*argv, "-s", str(script), base + "/"],
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )
    match = re.search(r"LOAD_RESULT (.*)", done.stdout)
    if not match:
        raise SystemExit(f"wrk printed no result:\n{done.stdout}{done.stderr}")
    result = {k: int(v) for k, v in (kv.split("=") for kv in match.group(1).split())}
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    result["non_2xx_3xx"] = int(non.group(1)) if non else 0
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def check_pages(session, base: str, pages: list[str]) -> None:
    for page in pages:
        answer = session.get(base + page, allow_redirects=False, timeout=30)
        if answer.status_code != 200:
            raise SystemExit(f"GET {page}: HTTP {answer.status_code} before the load")


def count_edits(params: dict, dbname: str, run: str) -> tuple[int, int]:
    """(whitelist rows of this run's emails, routing audit entries in all)"""
    rows = sql(
        params,
        "SELECT count(*) FROM sso_whitelistentry WHERE email LIKE %s",
        dbname,
        [f"{run}-%"],
    )[0][0]
    audited = sql(
        params,
        "SELECT count(*) FROM console_auditentry WHERE action = 'login.routing.update'",
        dbname,
    )[0][0]
    return rows, audited


def main() -> int:
    args = parse_args()
    settings = args.setting or ["2x4", "5x1"]
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    params = server_params(args.database_url)
    dbname = f"console_load_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    procs = Processes()
    created = False
    failed = False
    try:
        import bcrypt

        (tmp / "bench_load_settings.py").write_text(
            f"from console.settings import *  # noqa: F403\nSTATIC_ROOT = {str(tmp / 'static')!r}\n"
        )
        sql(params, f'CREATE DATABASE "{dbname}"')
        created = True
        parts = urlsplit(args.database_url)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(tmp), str(ROOT)]),
            "DJANGO_SETTINGS_MODULE": "bench_load_settings",
            "DATABASE_URL": parts._replace(path="/" + dbname, query="").geturl(),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "false",
            "CONSOLE_HTTPS": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CONSOLE_ADMIN_PASSWORD_BCRYPT": bcrypt.hashpw(
                PASSWORD.encode(), bcrypt.gensalt(4)
            ).decode(),
            "LOG_LEVEL": "WARNING",
        }
        for name in ("GUNICORN_BIND", "PORT", "WEB_CONCURRENCY", "GUNICORN_WORKERS"):
            env.pop(name, None)
        print(f"set-up ({load()})", flush=True)
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "createcachetable")
        manage(env, "collectstatic", "--noinput", "-v", "0")
        url, key, secret = start_sandbox(procs, env)
        env.update(CLEARML_API_URL=url, CLEARML_API_KEY=key, CLEARML_API_SECRET=secret)
        spec = tmp / "load.yaml"
        spec.write_text(spec_text(args.tenants))
        manage(env, "apply", str(spec), "--yes")
        manage(env, "refresh_server_state")
        procs.start(
            "worker",
            [PYTHON, str(ROOT / "manage.py"), "worker", "--verbosity", "0"],
            env,
            open(tmp / "worker.log", "w"),  # noqa: SIM115
        )
        tenants = [
            r[0]
            for r in sql(
                params, "SELECT id FROM tenants_tenant WHERE deleted_at IS NULL ORDER BY id", dbname
            )
        ]
        changeset = sql(params, "SELECT max(id) FROM changes_changeset", dbname)[0][0]
        pages = [
            "/",
            "/tenants/",
            f"/tenants/{tenants[0]}/",
            "/sso/routing/",
            "/tenants/groups/",
            "/audit/",
            "/changes/",
            f"/changes/{changeset}/",
        ]
        print(f"{len(tenants)} tenants applied; pages: {' '.join(pages)}")
        results = []
        for setting in settings:
            workers, threads = (int(x) for x in setting.split("x"))
            log_path = tmp / f"gunicorn-{setting}.log"
            proc, base = start_gunicorn(procs, env, workers, threads, log_path)
            session = sign_in(base)
            check_pages(session, base, pages)
            warm = tmp / f"warm-{setting}.lua"
            lua_script(warm, session, base, pages, tenants, f"warm{setting}", args.edit_share)
            run_wrk(base, warm, args.connections, 3)
            run = f"load{os.getpid()}s{setting}"
            script = tmp / f"load-{setting}.lua"
            lua_script(script, session, base, pages, tenants, run, args.edit_share)
            time.sleep(1)  # the warm-up's last requests finish
            _, audited_before = count_edits(params, dbname, run)
            if args.pause:
                print(
                    "gunicorn pids:",
                    subprocess.run(
                        ["pgrep", "-g", str(proc.pid)], capture_output=True, text=True
                    ).stdout.split(),
                )
                input("press Enter to start the measured run ")
            before = load()
            meter = StackCpuMeter(proc.pid, dbname)
            result = run_wrk(base, script, args.connections, args.duration)
            app_cpu, db_cpu = meter.stop()
            after = load()
            procs.stop(proc)  # graceful: requests cut off by wrk's end are finished first
            rows, audited_after = count_edits(params, dbname, run)
            audited = audited_after - audited_before
            result.update(rows=rows, audited=audited, setting=setting, before=before, after=after)
            results.append(result)
            errors = sum(result[k] for k in ("connect", "read", "write", "timeout"))
            ok = (
                result["rps"] >= TARGET_RPS
                and result["p99_us"] / 1000 <= TARGET_P99_MS
                and errors == 0
                and result["non_2xx_3xx"] == 0
            )
            failed |= not ok
            ms = {k: result[f"{k}_us"] / 1000 for k in ("p50", "p90", "p99", "max")}
            print(
                f"gunicorn {workers} workers x {threads} threads, {args.connections} connections, "
                f"{args.duration} s: {result['rps']:.0f} req/s, p50 {ms['p50']:.1f} ms, "
                f"p90 {ms['p90']:.1f} ms, p99 {ms['p99']:.1f} ms, "
                f"max {ms['max']:.0f} ms; non-2xx/3xx {result['non_2xx_3xx']}, "
                f"socket errors {errors}; edits: {result['posts_302']} accepted (302) of "
                f"{result['posts_sent']} sent (incl. those cut off at the end), {rows} rows in the "
                f"database, {audited} audited -- {'OK' if ok else 'MISSES THE TARGET'}"
                f"\n  [{before} before, {after} after]",
                flush=True,
            )
            app_ms = app_cpu * 1000 / max(1, result["requests"])
            db_ms = db_cpu * 1000 / max(1, result["requests"])
            cores = os.cpu_count() or 1
            print(
                f"  CPU per request: gunicorn {app_ms:.1f} ms + PostgreSQL {db_ms:.1f} ms; at that "
                f"cost {cores} idle cores would serve at most "
                f"{cores * 1000 / max(0.001, app_ms + db_ms):.0f} req/s"
            )
            if rows < result["posts_302"] or audited != rows:
                print("  an accepted edit is missing from the database or the audit log")
                failed = True
            if args.keep_log:
                print("".join(log_path.read_text().splitlines(True)[-20:]))
        verify = manage(env, "verify_audit")
        print("verify_audit:", verify.strip().splitlines()[-1] if verify.strip() else "(silent)")
    finally:
        procs.stop_all()
        if created:
            sql(params, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
