"""Benchmark: page reads with 10 tenants, one admin alone, gunicorn + PostgreSQL (target 15 ms).

    .venv/bin/python bench/page_reads.py [--database-url postgres://postgres@127.0.0.1:5432/postgres]
                                         [--tenants 10] [--warmup 5] [--requests 50]
                                         [--target-ms 15] [--deadline 600] [--conn-max-age N]
                                         [--profile [--sql] [--cprofile PATH ...]] [--keep-log]

Sets up the deployment on loopback and reads every page as the single `admin`:

1. creates a scratch database `bench_pages_<pid>` on the PostgreSQL server the URL names,
   migrates it and creates the cache table (as docker/entrypoint.sh does);
2. collects the static files into a temporary directory (the image does this at build time:
   with DEBUG=false the pages need the static manifest). This is the one setting that differs
   from console/settings.py: a two-line module in the temporary directory imports it and points
   STATIC_ROOT there, so var/staticfiles is not touched;
3. starts `manage.py sandbox_apiserver` on a free loopback port, applies a SPEC of --tenants
   tenants (each with an admin, a login domain and a whitelist entry) with `manage.py apply
   --yes`, and fills the snapshot with `manage.py refresh_server_state`;
4. starts gunicorn as the entrypoint does (`python -m gunicorn --config gunicorn.conf.py`: its
   workers, threads and access log), bound to 127.0.0.1 on a free port, DEBUG=false,
   CONSOLE_HTTPS=false, the admin password a bcrypt hash of cost 4. It serves a thin wrapper of
   console.wsgi:application that adds a Server-Timing header (the server's time per request);
5. signs in as `admin` with a requests.Session and, for each page, GETs it --warmup times, then
   --requests times measured, one request at a time (one admin alone).

Prints per page the median and 95th percentile of the server time (the Server-Timing header)
and of the client-measured time over loopback, and flags every page whose server time is over
the target at the median ("OVER") or only at the 95th percentile ("p95 over"). Two floors come
first: /robots.txt (gunicorn and every middleware, no database) and /healthz (answered by the
first middleware after one `SELECT 1`). Database connections are kept as console/settings.py
keeps them (60 s by default).

Measured (docs/development.md has the table): on a quiet machine (load 1.4) every page but the
changeset's was under 15 ms at the median; with other jobs loading the 2-core machine (load
average 5-7.6) the dashboard, tenants, tenant, routing, audit and changeset pages were over, by
a factor that varied 2-3x between runs of the same code.

--conn-max-age N adds `?conn_max_age=N` to DATABASE_URL (persistent connections) to show what
that changes. --profile then times each page in this process with Django's test client on the
same database: queries (count and time), template rendering and the rest; --sql lists each
page's queries, --cprofile PATH prints a cProfile of that page.

Every process it started (gunicorn, the sandbox) is stopped and the database dropped at the end,
whatever happens. The figures vary with whatever else runs on the machine: run it several times.
"""

import argparse
import ipaddress
import math
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from pg_server import server_params
from processes import Processes

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
PASSWORD = "bench-" + secrets.token_urlsafe(12)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_SERVER, help="a PostgreSQL server")
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured GETs per page")
    parser.add_argument("--requests", type=int, default=50, help="measured GETs per page")
    parser.add_argument("--target-ms", type=float, default=15.0)
    parser.add_argument("--deadline", type=float, default=600, help="seconds for the whole run")
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=None,
        help="add ?conn_max_age=N to DATABASE_URL (unset: console/settings.py's default, 60 s)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="then time each page in this process (Django's test client, same database): "
        "connection, queries, template rendering, the rest",
    )
    parser.add_argument(
        "--cprofile",
        metavar="PATH",
        action="append",
        default=[],
        help="with --profile: cProfile this page (a path as listed, e.g. /audit/) and print the "
        "functions taking most time (repeatable)",
    )
    parser.add_argument(
        "--sql", action="store_true", help="with --profile: print each page's queries"
    )
    parser.add_argument("--keep-log", action="store_true", help="print gunicorn's log at the end")
    return parser.parse_args()


class Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self, cap: float) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise SystemExit("the benchmark ran out of time (--deadline)")
        return min(cap, left)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the scratch database ---------------------------------------------------------------------


def loopback_server_params(url: str) -> dict:
    params = server_params(url)
    host = params.get("host", "")
    if not is_loopback(host):
        raise SystemExit(f"--database-url: {host or '(socket)'} is not a loopback address")
    return params


def admin_sql(params: dict, sql: str) -> None:
    import psycopg

    with psycopg.connect(**params, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql)


def query(params: dict, dbname: str, sql: str) -> list:
    import psycopg

    with psycopg.connect(**{**params, "dbname": dbname}, connect_timeout=10) as conn:
        return conn.execute(sql).fetchall()


def database_url(server_url: str, dbname: str, conn_max_age: int | None) -> str:
    parts = urlsplit(server_url)
    query = "" if conn_max_age is None else f"conn_max_age={conn_max_age}"
    return parts._replace(path="/" + dbname, query=query).geturl()


# --- processes --------------------------------------------------------------------------------


def manage(env: dict, deadline: Deadline, *args: str, cap: float = 180) -> str:
    done = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=deadline.left(cap),
    )
    if done.returncode != 0:
        raise SystemExit(
            f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def start_sandbox(procs: Processes, env: dict, deadline: Deadline) -> tuple[str, str, str]:
    key = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(30))
    secret = "B" + secrets.token_urlsafe(40)
    argv = [PYTHON, str(ROOT / "manage.py"), "sandbox_apiserver", "--host", "127.0.0.1"]
    argv += ["--port", "0", "--key", key, "--secret", secret]
    proc = procs.start("sandbox", argv, env, subprocess.PIPE)
    line = read_line(proc, deadline.left(60))
    match = re.search(r"listening on (\S+)", line)
    if not match:
        raise SystemExit(f"the sandbox did not start: {line}")
    url = match.group(1)
    if not is_loopback(urlsplit(url).hostname or ""):
        raise SystemExit(f"the sandbox listens on {url}, not on loopback")
    # Keep its pipe drained (it prints a few lines, then nothing unless asked to log calls).
    import threading

    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return url, key, secret


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    import threading

    box = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return box[0] if box else "(nothing printed)"


def spec_text(count: int) -> str:
    # As bench/apply_tenants.py: an admin, a login domain and a whitelist entry per tenant.
    lines = ["version: 1", "tenants:"]
    for i in range(count):
        lines += [
            f"  - name: Bench Tenant {i:04d}",
            "    admins:",
            f"      - {{name: Admin {i}, email: admin{i}@tenant{i}.example}}",
            "    login:",
            f"      domains: [tenant{i}.example]",
            f"      whitelist: {{users: [guest{i}@partner.example]}}",
        ]
    return "\n".join(lines) + "\n"


def start_gunicorn(procs: Processes, env: dict, log_path: Path, deadline: Deadline) -> str:
    import requests

    port = free_port()
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    argv = [PYTHON, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
    argv.append("bench_pages_wsgi:application")  # console.wsgi with a Server-Timing header
    log = open(log_path, "w")  # noqa: SIM115 - closed with the run's temporary directory
    proc = procs.start("gunicorn", argv, env, log)
    base = f"http://127.0.0.1:{port}"
    stop = time.monotonic() + deadline.left(60)
    while time.monotonic() < stop:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited ({proc.returncode}):\n{log_path.read_text()}")
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                return base
        except requests.RequestException:  # not listening yet, or a worker still starting
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer /healthz:\n{log_path.read_text()}")


# --- sign-in and measuring ----------------------------------------------------------------------


def sign_in(session, base: str) -> None:
    page = session.get(base + "/signin/", timeout=10)
    page.raise_for_status()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if not match:
        raise SystemExit("no CSRF token on /signin/")
    answer = session.post(
        base + "/signin/",
        data={
            "csrfmiddlewaretoken": match.group(1),
            "username": "admin",
            "password": PASSWORD,
            "next": "",
        },
        allow_redirects=False,
        timeout=10,
    )
    if answer.status_code != 302 or "sessionid" not in session.cookies:
        raise SystemExit(f"sign-in failed: HTTP {answer.status_code}")


def measure(session, url: str, warmup: int, count: int, deadline: Deadline) -> dict:
    first = session.get(url, allow_redirects=False, timeout=deadline.left(30))
    if first.status_code != 200:
        raise SystemExit(f"GET {url}: HTTP {first.status_code}, expected 200")
    for _ in range(max(0, warmup - 1)):
        session.get(url, allow_redirects=False, timeout=deadline.left(30))
    times, server = [], []
    for _ in range(count):
        started = time.perf_counter()
        response = session.get(url, allow_redirects=False, timeout=deadline.left(30))
        _ = response.content
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {url}: HTTP {response.status_code} while measuring")
        match = re.search(r"app;dur=([\d.]+)", response.headers.get("Server-Timing", ""))
        if match:
            server.append(float(match.group(1)))
    times.sort()
    server.sort() if server else server.extend(times)  # a page without the header: the client's
    return {
        "server_median": statistics.median(server),
        "server_p95": nearest_rank(server, 0.95),
        "median": statistics.median(times),
        "p95": nearest_rank(times, 0.95),
        "max": times[-1],
        "bytes": len(first.content),
    }


def nearest_rank(values: list[float], fraction: float) -> float:
    return values[max(0, math.ceil(fraction * len(values)) - 1)]


# gunicorn serves this wrapper of console.wsgi: it adds the server's time for each request (from
# the request's arrival in the application to its response being ready, which Django builds
# whole before it starts the response) as a Server-Timing header.
SERVER_TIMING_WSGI = """import time

from console.wsgi import application as console_application


def application(environ, start_response):
    started = time.perf_counter()

    def timed(status, headers, exc_info=None):
        took = (time.perf_counter() - started) * 1000
        timing = ("Server-Timing", f"app;dur={took:.2f}")
        return start_response(status, [*headers, timing], exc_info)

    return console_application(environ, timed)
"""


FLOORS = [
    ("floor: no database", "/robots.txt"),
    ("floor: SELECT 1", "/healthz"),
]


def pages() -> list[tuple[str, str]]:
    """(label, path); <t> is a tenant's id, <c> a changeset's."""
    t, c = "<t>", "<c>"
    return [
        ("Dashboard", "/"),
        ("Tenants", "/tenants/"),
        ("Tenant detail", f"/tenants/{t}/"),
        ("Tenant edit", f"/tenants/{t}/edit/"),
        # There is no page at /sso/ (web/sso_urls.py mounts routing/, providers/, multi-tenant/);
        # the SSO settings page is the multi-tenant login one.
        ("SSO multi-tenant", "/sso/multi-tenant/"),
        ("Routing map", "/sso/routing/"),
        ("Tenant routing", f"/sso/routing/tenants/{t}/"),
        ("Groups & features", "/tenants/groups/"),
        ("Identity providers", "/sso/providers/"),
        ("Audit log", "/audit/"),
        ("Changes", "/changes/"),
        ("Changeset", f"/changes/{c}/"),
        ("Security", "/security/"),
        ("Snippet", "/snippets/server-settings/"),
    ]


def main() -> int:
    args = parse_args()
    deadline = Deadline(args.deadline)
    params = loopback_server_params(args.database_url)
    dbname = f"bench_pages_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    procs = Processes()
    created = False
    load_before = os.getloadavg()
    try:
        import bcrypt

        # Only the static files go elsewhere (see the module's docstring).
        (tmp / "bench_pages_settings.py").write_text(
            f"from console.settings import *  # noqa: F403\nSTATIC_ROOT = {str(tmp / 'static')!r}\n"
        )
        (tmp / "bench_pages_wsgi.py").write_text(SERVER_TIMING_WSGI)
        admin_sql(params, f'CREATE DATABASE "{dbname}"')
        created = True
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(tmp), str(ROOT)]),
            "DJANGO_SETTINGS_MODULE": "bench_pages_settings",
            "DATABASE_URL": database_url(args.database_url, dbname, args.conn_max_age),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "false",
            "CONSOLE_HTTPS": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CONSOLE_ADMIN_PASSWORD_BCRYPT": bcrypt.hashpw(
                PASSWORD.encode(), bcrypt.gensalt(4)
            ).decode(),
            "LOG_LEVEL": "WARNING",
            "CLEARML_API_URL": "",
            "CLEARML_API_KEY": "",
            "CLEARML_API_SECRET": "",
        }
        for name in ("GUNICORN_BIND", "PORT", "WEB_CONCURRENCY"):
            env.pop(name, None)
        setup_started = time.perf_counter()
        manage(env, deadline, "migrate", "--noinput", "-v", "0")
        manage(env, deadline, "createcachetable")
        manage(env, deadline, "collectstatic", "--noinput", "-v", "0")
        url, key, secret = start_sandbox(procs, env, deadline)
        env.update(CLEARML_API_URL=url, CLEARML_API_KEY=key, CLEARML_API_SECRET=secret)
        spec = tmp / "bench.yaml"
        spec.write_text(spec_text(args.tenants))
        manage(env, deadline, "apply", str(spec), "--yes")
        manage(env, deadline, "refresh_server_state")
        base = start_gunicorn(procs, env, tmp / "gunicorn.log", deadline)
        setup = time.perf_counter() - setup_started

        tenant_id = query(
            params, dbname, "SELECT min(id) FROM tenants_tenant WHERE deleted_at IS NULL"
        )[0][0]
        changeset_id = query(params, dbname, "SELECT max(id) FROM changes_changeset")[0][0]
        counts = query(
            params,
            dbname,
            "SELECT (SELECT count(*) FROM tenants_tenant), (SELECT count(*) FROM "
            "tenants_tenantadmin), (SELECT count(*) FROM console_auditentry)",
        )[0]
        version = query(params, dbname, "SHOW server_version")[0][0]
        if tenant_id is None or changeset_id is None:
            raise SystemExit("apply created no tenant or no changeset")

        import requests

        session = requests.Session()
        try:
            floors = [
                (label, path, measure(session, base + path, args.warmup, args.requests, deadline))
                for label, path in FLOORS
            ]
            sign_in(session, base)
            results = []
            for label, path in pages():
                real = path.replace("<t>", str(tenant_id)).replace("<c>", str(changeset_id))
                figures = measure(session, base + real, args.warmup, args.requests, deadline)
                results.append((label, path, figures))
        except SystemExit:
            print("gunicorn's log, the end:", file=sys.stderr)
            print((tmp / "gunicorn.log").read_text()[-6000:], file=sys.stderr)
            raise

        workers = env.get("GUNICORN_WORKERS", "2 (gunicorn.conf.py)")
        threads = env.get("GUNICORN_THREADS", "4 (gunicorn.conf.py)")
        load_after = os.getloadavg()
        print(
            f"setup:        {setup:.1f} s ({args.tenants} tenants: "
            f"{counts[0]} tenants, {counts[1]} admins, {counts[2]} audit entries)"
        )
        print(
            f"database:     PostgreSQL {version}, scratch database {dbname}, CONN_MAX_AGE "
            + (
                f"{args.conn_max_age} (?conn_max_age)"
                if args.conn_max_age is not None
                else "as console/settings.py sets it (DATABASE_CONN_MAX_AGE, default 60)"
            )
        )
        print(f"server:       gunicorn, {workers} workers x {threads} threads, DEBUG=false, {base}")
        print(
            f"requests:     {args.warmup} warm-up + {args.requests} measured per page, sequential"
        )
        print(
            f"machine:      {os.cpu_count()} cores; load average {fmt_load(load_before)} before, "
            f"{fmt_load(load_after)} after"
        )
        print()
        print(f"{'':<47}{'server time':^26}{'client (loopback)':^26}")
        print(
            f"{'page':<20} {'path':<26} {'KiB':>6} {'median':>8} {'p95':>8}   "
            f"{'median':>8} {'p95':>8} {'max':>8}"
        )
        for label, path, figures in floors:
            print(row(label, path, figures, None))
        over, over_p95 = [], []
        for label, path, figures in results:
            print(row(label, path, figures, args.target_ms))
            if figures["server_median"] > args.target_ms:
                over.append(label)
            elif figures["server_p95"] > args.target_ms:
                over_p95.append(label)
        print()
        print(
            "server time: from the request's arrival in the application to its response "
            "(a Server-Timing header); client: the same plus gunicorn and loopback"
        )
        if over:
            print(f"server time over {args.target_ms:g} ms at the median: {', '.join(over)}")
        else:
            print(f"every page under {args.target_ms:g} ms of server time at the median")
        if over_p95:
            print(f"(under at the median, over at the 95th percentile: {', '.join(over_p95)})")
        if args.keep_log:
            print((tmp / "gunicorn.log").read_text())
        if args.profile:
            procs.stop_all()  # the machine's cores for the profile alone
            print()
            profile_pages(env, tmp, tenant_id, changeset_id, args, deadline)
        return 1 if over else 0
    finally:
        procs.stop_all()
        if created:
            try:
                admin_sql(params, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001 - report, and still clean the rest
                print(f"could not drop {dbname}: {exc}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


# --- where the time goes (in this process) -----------------------------------------------------


def profile_pages(env: dict, tmp: Path, tenant_id: int, changeset_id: int, args, deadline) -> None:
    """Each page through Django's test client against the same database and settings: per
    request, the time to open the database connection, the queries (count and time, outside and
    inside template rendering), the template rendering and the rest of the Python."""
    import cProfile
    import pstats
    from collections import Counter

    os.environ.update(env)
    sys.path[:0] = [str(tmp), str(ROOT)]
    import django

    django.setup()
    from django.db import connection
    from django.template.backends.django import Template
    from django.test import Client

    state = {"render_depth": 0}
    clock = {"query": 0.0, "query_in_render": 0.0, "render": 0.0}
    queries: list[tuple[str, float, bool]] = []

    def on_query(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.perf_counter() - started
            inside = state["render_depth"] > 0
            clock["query_in_render" if inside else "query"] += took
            queries.append((sql, took, inside))

    connection.execute_wrappers.append(on_query)
    original_render = Template.render

    def timed_render(self, *a, **kw):
        state["render_depth"] += 1
        started = time.perf_counter()
        try:
            return original_render(self, *a, **kw)
        finally:
            state["render_depth"] -= 1
            if state["render_depth"] == 0:
                clock["render"] += time.perf_counter() - started

    Template.render = timed_render
    from django.contrib.auth import get_user_model

    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="admin"))
    runs = 20
    # The test client keeps its connection between requests, as gunicorn's workers do within
    # CONN_MAX_AGE. What a new one costs (each worker thread's first request, or with
    # ?conn_max_age=0), Django's connection set-up included:
    opened = []
    for _ in range(runs):
        connection.close()
        started = time.perf_counter()
        connection.ensure_connection()
        opened.append(time.perf_counter() - started)
    print(
        f"opening a database connection (Django's ensure_connection): median "
        f"{statistics.median(opened) * 1000:.2f} ms, worst {max(opened) * 1000:.2f} ms"
    )
    print(
        f"where the time goes (in-process, Django's test client on a kept connection, median of "
        f"{runs} requests, ms; queries run while the template renders are counted in it):"
    )
    print(
        f"{'path':<26} {'total':>7} {'view queries':>14} {'template':>9} "
        f"{'(its queries)':>14} {'other':>7}"
    )
    paths = [p for _, p in FLOORS] + [p for _, p in pages()]
    for path in paths:
        real = path.replace("<t>", str(tenant_id)).replace("<c>", str(changeset_id))
        for _ in range(3):
            client.get(real)
        rows = []
        for _ in range(runs):
            deadline.left(30)
            for k in clock:
                clock[k] = 0.0
            queries.clear()
            started = time.perf_counter()
            response = client.get(real)
            total = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code} in the test client")
            outside = sum(1 for q in queries if not q[2])
            rows.append(
                {
                    "total": total,
                    "n": outside,
                    "query": clock["query"],
                    "render": clock["render"],
                    "n_render": len(queries) - outside,
                    "query_in_render": clock["query_in_render"],
                    "other": total - clock["query"] - clock["render"],
                }
            )
            last_queries = list(queries)
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(
            f"{path:<26} {med['total'] * 1000:>7.2f} "
            f"{med['n']:>5.0f} q {med['query'] * 1000:>6.2f} {med['render'] * 1000:>9.2f} "
            f"{med['n_render']:>4.0f} q {med['query_in_render'] * 1000:>6.2f} "
            f"{med['other'] * 1000:>7.2f}"
        )
        if args.sql:
            shapes = Counter(re.sub(r"\b\d+\b", "N", sql) for sql, _, _ in last_queries)
            for sql, _, inside in last_queries:
                shape = re.sub(r"\b\d+\b", "N", sql)
                count = shapes.pop(shape, 0)
                if count:
                    where = "template" if inside else "view"
                    print(f"    {count}x [{where}] {sql[:220]}")
        if path in args.cprofile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(runs):
                client.get(real)
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.stdout)
            print(
                f"  cProfile of {runs} GETs of {path}: the console's functions by cumulative time"
            )
            own_code = "^" + re.escape(str(ROOT)) + "/(?!\\.venv/|bench/)"
            stats.sort_stats("cumulative").print_stats(own_code, 25)
            print(f"  cProfile of {runs} GETs of {path}: all functions by own time")
            stats.sort_stats("tottime").print_stats(20)
    Template.render = original_render


def fmt_load(load) -> str:
    return " ".join(f"{x:.2f}" for x in load)


def row(label: str, path: str, figures: dict, target: float | None) -> str:
    flag = ""
    if target is not None and figures["server_median"] > target:
        flag = "  OVER"
    elif target is not None and figures["server_p95"] > target:
        flag = "  p95 over"
    return (
        f"{label:<20} {path:<26} {figures['bytes'] / 1024:>6.1f} "
        f"{figures['server_median']:>6.2f}ms {figures['server_p95']:>6.2f}ms   "
        f"{figures['median']:>6.2f}ms {figures['p95']:>6.2f}ms {figures['max']:>6.2f}ms{flag}"
    )


if __name__ == "__main__":
    sys.exit(main())
