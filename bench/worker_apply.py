"""Benchmark: a 200-tenant SPEC applied as a background task by `manage.py worker`.

    .venv/bin/python bench/worker_apply.py [--tenants 200] [--latency-ms 20] [--interval 1]
                                           [--database sqlite|postgres|both]
                                           [--database-url postgres://postgres@127.0.0.1:5432/postgres]
                                           [--reader-every 0.02] [--profile out.txt]

For each database (a fresh SQLite file with the console's settings, or a scratch PostgreSQL
database `console_worker_<pid>`, dropped at the end): migrates it, starts `manage.py
sandbox_apiserver --latency-ms N` on a free loopback port (key and secret in the environment)
and `manage.py worker` (its default poll --interval unless given), records a SPEC plan of
--tenants tenants as the JSON API and `manage.py plan` do, and queues it. Two scenarios
(--scenario, both by default): `new` creates the tenants, each with a user limit and features
(new credentials are never made in the background, so no admins, and `login.*` needs an admin,
so no routing); `update` first applies the tenants with an admin each in this process
(`manage.py apply`, not timed), then queues the SPEC that gives each one a login domain, a
whitelisted user and a whitelisted admin, a user limit and features. It is queued
with `changeset_enqueue` (what "Apply" and `POST /api/v1/changes/<id>/apply?background=true`
call), and follows the page's
own progress reader (`changes.progress.changeset_progress`) every 20 ms (with `--reader-every
SECONDS`, every SECONDS instead, as the page's 1 s poll does, and in between two one-row checks
every 20 ms of the run's status and of a finished journal step: the reader of 1,000 steps costs
about 10 ms of CPU, which at 20 ms takes a third of a core from the worker on 2 cores):

- time from enqueue to the run seen `running`, to the first tenant read in the check of the
  plan against the server (a recorded SPEC's run reads each tenant's state before its first
  call: the page counts them), and to the first finished step; the earlier of the last two is
  when the page's progress first moves; target: under 1 s;
- total time from enqueue to `done`, against the 8-wide bound ceil(tenants/8) x calls per
  tenant x latency (200 tenants of 5 calls at 20 ms: 2.5 s); target: within 1.5x of it;
- the CPU time the worker process used from enqueue to `done` (user + system, from /proc), and
  that of this measuring process (the progress reader's queries).

`--profile PATH` attaches py-spy (.venv/bin/py-spy) to the worker from enqueue to `done` and
writes its samples (raw, 200 a second, `--database` and `--scenario` appended to the name).

Prints the load average next to each figure: the machine has 2 cores and other work runs on it.
"""

import argparse
import io
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from pg_server import server_sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
WIDTH = 8  # the change pipeline's bound: eight tenants at a time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--interval", type=float, default=None, help="the worker's poll interval")
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--database-url", default=DEFAULT_SERVER)
    parser.add_argument("--scenario", choices=["new", "update", "both"], default="both")
    parser.add_argument(
        "--reader-every",
        type=float,
        default=0.02,
        help="seconds between two calls of the page's progress reader (default 0.02)",
    )
    parser.add_argument("--profile", default="", help="py-spy samples of the worker to this file")
    return parser.parse_args()


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def spec_text(count: int, with_login: bool, with_admins: bool = True) -> str:
    """The tenants with their admin; `with_login`: also their routing, user limit and features."""
    lines = ["version: 1", "tenants:"]
    for i in range(count):
        lines.append(f"  - name: Worker Tenant {i:04d}")
        if with_admins:
            lines += [
                "    admins:",
                f"      - {{name: Admin {i}, email: admin{i}@tenant{i}.example}}",
            ]
        else:
            lines += ["    allowed_users: 20", "    features: [experiments]"]
        if with_login:
            lines += [
                "    allowed_users: 20",
                "    features: [experiments]",
                "    login:",
                f"      domains: [tenant{i}.example]",
                f"      whitelist: {{users: [guest{i}@partner.example], "
                f"admins: [lead{i}@partner.example]}}",
            ]
    return "\n".join(lines) + "\n"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def wait_for_line(proc: subprocess.Popen, pattern: str, seconds: float) -> str:
    box: list[str] = []

    def read():
        printed = ""
        for line in proc.stdout:
            printed += line
            if re.search(pattern, line):
                box.append(line)
                break
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep it drained
        if not box:
            box.append("")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(seconds)
    if not box or not box[0]:
        raise SystemExit(f"no line matching {pattern!r} within {seconds} s")
    return box[0]


def run_one(kind: str, scenario: str, args, tmp: Path) -> None:
    """One database: a child process of this script does the measuring (Django is set up once
    per process, on one database)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BENCH_TMP": str(tmp)}
    dbname = ""
    if kind == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{tmp}/worker-bench-{scenario}.sqlite3"
    else:
        dbname = f"console_worker_{os.getpid()}_{scenario}"
        server_sql(args.database_url, f'CREATE DATABASE "{dbname}"')
        env["DATABASE_URL"] = (
            urlsplit(args.database_url)._replace(path="/" + dbname, query="").geturl()
        )
    try:
        argv = [PYTHON, __file__, "--measure", kind, "--scenario", scenario]
        argv += ["--tenants", str(args.tenants)]
        argv += ["--latency-ms", str(args.latency_ms)]
        if args.interval is not None:
            argv += ["--interval", str(args.interval)]
        argv += ["--reader-every", str(args.reader_every)]
        if args.profile:
            argv += ["--profile", f"{args.profile}.{kind}.{scenario}"]
        subprocess.run(argv, env=env, check=False, timeout=900)
    finally:
        if dbname:
            server_sql(args.database_url, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def measure(
    kind: str,
    scenario: str,
    tenants: int,
    latency_ms: int,
    interval: float | None,
    reader_every: float = 0.02,
    profile: str = "",
) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    os.environ.setdefault("CONSOLE_ADMIN_PASSWORD_BCRYPT", "$2b$04$" + "x" * 53)
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ["CONSOLE_HTTPS"] = "false"
    os.environ["LOG_LEVEL"] = "WARNING"
    key = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(30))
    secret = "B" + secrets.token_urlsafe(40)
    env = {**os.environ}
    done = subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=False
    )
    if done.returncode:
        raise SystemExit("migrate failed")
    procs = []
    try:
        sandbox = start(
            [PYTHON, "manage.py", "sandbox_apiserver", "--host", "127.0.0.1", "--port", "0",
             "--latency-ms", str(latency_ms)],
            {**env, "SANDBOX_KEY": key, "SANDBOX_SECRET": secret},
        )  # fmt: skip
        procs.append(sandbox)
        url = re.search(r"listening on (\S+)", wait_for_line(sandbox, "listening on", 60))[1]
        os.environ.update(CLEARML_API_URL=url, CLEARML_API_KEY=key, CLEARML_API_SECRET=secret)
        env.update(CLEARML_API_URL=url, CLEARML_API_KEY=key, CLEARML_API_SECRET=secret)
        worker_argv = [PYTHON, "manage.py", "worker", "--no-scheduler"]
        if interval is not None:
            worker_argv += ["--interval", str(interval)]
        worker = start(worker_argv, env)
        procs.append(worker)
        wait_for_line(worker, "Starting worker", 120)

        import django

        django.setup()
        from django.core.management import call_command

        from changes.background import changeset_enqueue, runs_in_background
        from changes.models import BackgroundApply
        from changes.progress import changeset_progress
        from changes.spec.recorded import spec_from_text, spec_plan
        from changes.spec.validate import validate_spec
        from tenants.models import ProvisioningStep

        # The tenants and their admins first, in this process (`apply`: their credentials are
        # shown once, never made in the background), then the SPEC that adds the rest, queued.
        if scenario == "update":
            first = Path(os.environ["BENCH_TMP"]) / "tenants.yaml"
            first.write_text(spec_text(tenants, with_login=False))
            call_command("apply", str(first), "--yes", stdout=io.StringIO(), stderr=io.StringIO())
            text = spec_text(tenants, with_login=True)
        else:
            text = spec_text(tenants, with_login=False, with_admins=False)
        spec = validate_spec(spec_from_text(text, source="bench.yaml"), source="bench.yaml")
        changeset = spec_plan(spec, actor="bench", face="api", refresh=True).changeset
        if not runs_in_background(changeset):
            raise SystemExit("the plan would not run on the worker")
        steps = changeset.steps.count()
        time.sleep(2)  # the worker is idle, polling, as it is when someone presses Apply
        before = load()
        profiler = None
        if profile:
            spy = [str(Path(PYTHON).parent / "py-spy"), "record", "-r", "200", "-f", "raw"]
            profiler = subprocess.Popen(
                [*spy, "-o", profile, "--pid", str(worker.pid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)  # attached
        worker_cpu, own_cpu = cpu_seconds(worker.pid), time.process_time()
        started = time.perf_counter()
        changeset_enqueue(changeset, actor="bench")
        running_at = first_at = check_at = None
        read_at = -reader_every
        finished = [ProvisioningStep.Status.DONE, ProvisioningStep.Status.SUPERSEDED]
        journal = ProvisioningStep.objects.filter(changeset=changeset.audit_key)
        while True:
            now = time.perf_counter() - started
            if now - read_at >= reader_every * 0.999:
                read_at = now
                progress = changeset_progress(changeset)
                status = progress.background.status if progress.background else ""
                done, checked = progress.done, progress.background.checked
            else:  # between two reads of the page's reader: what it would show first
                run = BackgroundApply.objects.get(changeset=changeset)
                status, checked = run.status, run.checked
                done = first_at is not None or journal.filter(status__in=finished).exists()
            if running_at is None and status != BackgroundApply.Status.QUEUED:
                running_at = now
            if check_at is None and checked:
                check_at = now
            if first_at is None and done:
                first_at = now
            if status in (BackgroundApply.Status.DONE, BackgroundApply.Status.FAILED):
                progress = changeset_progress(changeset)
                break
            if now > 600:
                raise SystemExit("the apply did not finish within 600 s")
            time.sleep(0.02)
        total = time.perf_counter() - started
        worker_cpu, own_cpu = cpu_seconds(worker.pid) - worker_cpu, time.process_time() - own_cpu
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
        after = load()
        calls = ProvisioningStep.objects.filter(changeset=changeset.audit_key).count()
        per_tenant = calls / tenants if tenants else 0
        bound = math.ceil(tenants / WIDTH) * per_tenant * latency_ms / 1000
        from changes.management.commands.worker import POLL_SECONDS

        poll = interval if interval is not None else f"default ({POLL_SECONDS:g} s)"
        reader = "" if reader_every == 0.02 else f", progress reader every {reader_every:g} s"
        error = progress.background.error
        first = first_at if first_at is not None else float("nan")
        moved = [t for t in (first_at, check_at) if t is not None]
        seen = min(moved) if moved else float("nan")
        print(
            f"\n{kind}, {scenario}: {tenants} tenants, {steps} changeset steps, {calls} calls "
            f"journaled ({per_tenant:g} per tenant), sandbox latency {latency_ms} ms, worker "
            f"poll interval {poll}{reader}"
        )
        print(f"  outcome: {status}{' - ' + error if error else ''}")
        print(f"  enqueue -> running:        {running_at:.2f} s")
        checks = "(no read needed)" if check_at is None else f"{check_at:.2f} s"
        print(f"  enqueue -> first tenant checked against the server: {checks}")
        print(f"  enqueue -> first step done: {first:.2f} s")
        print(f"  enqueue -> progress visible on the page: {seen:.2f} s (target < 1 s)")
        print(
            f"  enqueue -> done:           {total:.2f} s; 8-wide bound {bound:.2f} s; "
            f"ratio {total / bound if bound else 0:.2f}x (target <= 1.5x = {1.5 * bound:.2f} s)"
        )
        print(
            f"  CPU enqueue -> done: worker {worker_cpu:.2f} s "
            f"({1000 * worker_cpu / calls if calls else 0:.2f} ms per call), "
            f"this process (progress reader) {own_cpu:.2f} s"
        )
        print(f"  [{before} before, {after} after]", flush=True)
        ok = status == BackgroundApply.Status.DONE and first_at is not None and seen < 1
        return 0 if ok and total <= 1.5 * bound else 1
    finally:
        for proc in reversed(procs):
            stop(proc)


def main() -> int:
    if "--measure" in sys.argv:
        parser = argparse.ArgumentParser()
        parser.add_argument("--measure")
        parser.add_argument("--scenario")
        parser.add_argument("--tenants", type=int)
        parser.add_argument("--latency-ms", type=int)
        parser.add_argument("--interval", type=float, default=None)
        parser.add_argument("--reader-every", type=float, default=0.02)
        parser.add_argument("--profile", default="")
        a = parser.parse_args()
        return measure(
            a.measure, a.scenario, a.tenants, a.latency_ms, a.interval, a.reader_every, a.profile
        )
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    try:
        kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
        scenarios = ["new", "update"] if args.scenario == "both" else [args.scenario]
        for kind in kinds:
            for scenario in scenarios:
                run_one(kind, scenario, args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
