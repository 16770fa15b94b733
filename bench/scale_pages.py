"""Benchmark: the Tenants page at 10,000 tenants and the Audit page at 1,000,000 entries.

    .venv/bin/python bench/scale_pages.py [--database-url postgres://postgres@127.0.0.1:5432/postgres]
                                          [--tenants 10000] [--entries 1000000] [--repeat 7]
                                          [--explain]

Builds a scratch database `console_scale_<pid>` on the PostgreSQL server the URL names (dropped
at the end, whatever happens), migrated, then:

- --tenants tenants as bulk-created rows, shaped like applied ones: a company id, one or two
  admins, a login domain and a whitelist entry each, and the snapshot a refresh would have
  written (the server's companies, with two dozen companies made outside the console, and each
  company's routing as read);
- --entries audit entries through `console.audit.bulk.bulk_append` (the audit service's
  masking and hash chain, written with COPY), spread over a year, on those tenants;

and times the pages' server time with Django's test client in this process (DEBUG off; the
whole request: middleware, session, queries, template; the loaded application frozen for the
garbage collector, as gunicorn.conf.py does in each web worker), signed in as `admin`: the
Tenants page (first page, a deep page, each sort, a search, each filter) and the Audit page
(first page, a text search, filters, a deep page). Prints the median and worst of --repeat
requests, the number of queries, and the load average. Target (issue 16): under 100 ms each.
"""

import argparse
import gc
import os
import random
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from pg_server import server_sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
TARGET_MS = 100.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_SERVER, help="a PostgreSQL server")
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--explain", action="store_true", help="print the slowest SQL's plan")
    return parser.parse_args()


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def setup_django(url: str, dbname: str) -> None:
    os.environ["DATABASE_URL"] = urlsplit(url)._replace(path="/" + dbname, query="").geturl()
    os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings"
    os.environ["DEBUG"] = "false"
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    os.environ["CONSOLE_HTTPS"] = "false"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("CONSOLE_ADMIN_PASSWORD_BCRYPT", "$2b$04$" + "x" * 53)
    # Pages read the snapshot only; nothing listens here, and nothing may call it.
    os.environ["CLEARML_API_URL"] = "http://127.0.0.1:9"
    os.environ["CLEARML_API_KEY"] = "K" * 20
    os.environ["CLEARML_API_SECRET"] = "S" * 40
    import django

    django.setup()
    from django.conf import settings

    # DEBUG off, yet static files are looked up by name: no manifest needed for a timing.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)


def make_tenants(count: int) -> None:
    from django.utils import timezone

    from console.snapshot.store import COMPANIES, ROUTING, SERVER, snapshot_put, snapshot_put_many
    from sso.models import LoginDomain, WhitelistEntry
    from tenants.models import Tenant, TenantAdmin

    rng = random.Random(16)
    now = timezone.now()
    tenants = [
        Tenant(
            name=f"Tenant {i:05d} {rng.choice(['Research', 'Vision', 'Speech', 'Robotics'])}",
            company_id=f"{i:024x}",
            status=rng.choices(
                [Tenant.Status.ACTIVE, Tenant.Status.FAILED, Tenant.Status.PLANNED], [96, 2, 2]
            )[0],
            allowed_users=rng.choice([None, 10, 50]),
        )
        for i in range(count)
    ]
    Tenant.objects.bulk_create(tenants, batch_size=2000)
    tenants = list(Tenant.objects.order_by("pk"))
    admins, domains, whitelist = [], [], []
    for i, tenant in enumerate(tenants):
        for k in range(1 + i % 2):
            email = f"admin{k}@tenant{i}.example"
            admins.append(TenantAdmin(tenant=tenant, name=f"Admin {k} of {i}", email=email,
                                      user_id=f"u{i:06d}{k}"))  # fmt: skip
        domains.append(LoginDomain(tenant=tenant, domain=f"tenant{i}.example"))
        whitelist.append(WhitelistEntry(tenant=tenant, email=f"guest{i}@partner.example"))
    TenantAdmin.objects.bulk_create(admins, batch_size=5000)
    LoginDomain.objects.bulk_create(domains, batch_size=5000)
    WhitelistEntry.objects.bulk_create(whitelist, batch_size=5000)
    companies = [{"id": t.company_id, "name": t.name, "defaults": {}} for t in tenants]
    companies += [{"id": f"f{i:023x}", "name": f"Outside {i}", "defaults": {}} for i in range(24)]
    snapshot_put(COMPANIES, "", {"companies": companies}, now)
    snapshot_put(SERVER, "", {"version": "1.17.0", "sandbox": True}, now)
    routing = {
        t.company_id: {"domains": [f"tenant{i}.example"],
                       "whitelist": [{"email": f"guest{i}@partner.example", "admin": False}]}
        for i, t in enumerate(tenants)
    }  # fmt: skip
    snapshot_put_many(ROUTING, routing, now)


def audit_rows(count: int, tenants: int):
    """Entries over the past year on the bench's tenants, shaped like console traffic."""
    rng = random.Random(20261206)
    actions = ["tenant.update", "tenant.create", "login.routing.update", "login.domains.set",
               "group.update", "idp.update", "auth.signin", "auth.signout"]  # fmt: skip
    weights = [20, 6, 25, 10, 8, 4, 15, 5]
    actors = ["admin", "cli:root", "cli:deploy"] + [f"cli:ops-{k}" for k in range(20)]
    actor_weights = [60, 20, 10] + [0.5] * 20
    start = datetime.now(UTC) - timedelta(days=365)
    step = timedelta(days=365) / count
    for i in range(count):
        action = rng.choices(actions, weights)[0]
        n = rng.randrange(tenants)
        failed = rng.random() < 0.04
        family = action.split(".")[0]
        target = (
            ("user", "admin", "admin") if family == "auth"
            else ("tenant", str(n + 1), f"Tenant {n:05d}")
        )  # fmt: skip
        yield {
            "actor": rng.choices(actors, actor_weights)[0],
            "action": action,
            "target_type": target[0],
            "target_id": target[1],
            "target_repr": target[2],
            "before": {"allowed_users": rng.randint(1, 50)},
            "after": {"allowed_users": rng.randint(1, 50), "domains": [f"tenant{n}.example"]},
            "calls": [
                {
                    "endpoint": "system.update_company_settings",
                    "status": 400 if failed else 200,
                    "result_msg": "name already exists" if failed else "OK",
                }
            ],
            "outcome": "failure" if failed else "success",
            "error": "system.update_company_settings: name already exists" if failed else "",
            "created_at": start + step * i,
            "request_id": f"{rng.getrandbits(128):032x}",
        }


def timed(client, url: str, repeat: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm, as a page in use is
    if response.status_code != 200:
        raise SystemExit(f"GET {url}: HTTP {response.status_code}")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return statistics.median(times), max(times), len(queries)


def main() -> int:
    args = parse_args()
    dbname = f"console_scale_{os.getpid()}"
    server_sql(args.database_url, f'CREATE DATABASE "{dbname}"')
    try:
        return run(args, dbname)
    finally:
        from django.db import connections

        connections.close_all()
        server_sql(args.database_url, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def run(args, dbname: str) -> int:
    setup_django(args.database_url, dbname)
    from django.db import connection
    from django.test import Client

    from console.audit.bulk import bulk_append

    started = time.perf_counter()
    make_tenants(args.tenants)
    print(f"{args.tenants:,} tenants in {time.perf_counter() - started:.1f} s ({load()})")
    started = time.perf_counter()
    written = len(bulk_append(audit_rows(args.entries, args.tenants)))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"{written:,} audit entries in {time.perf_counter() - started:.1f} s ({load()})")

    from console.signin import admin_user

    client = Client()
    client.force_login(admin_user(), backend="console.signin.AdminPasswordBackend")
    client.get("/tenants/")  # load every view, then freeze as gunicorn.conf.py does per worker
    gc.freeze()
    pages = [
        ("Tenants: first page", "/tenants/"),
        ("Tenants: sorted by admins, descending", "/tenants/?sort=-admins"),
        ("Tenants: page 50 sorted by name", "/tenants/?page=50"),
        ("Tenants: search 'tenant 0421'", "/tenants/?q=tenant+0421"),
        ("Tenants: search an admin's email", "/tenants/?q=admin1%40tenant777"),
        ("Tenants: filter 'needs attention'", "/tenants/?show=attention"),
        ("Tenants: filter 'outside the console'", "/tenants/?show=outside"),
        # the other sorts and filters (the target holds for every one)
        ("Tenants: sorted by name, descending", "/tenants/?sort=-name"),
        ("Tenants: sorted by status", "/tenants/?sort=status"),
        ("Tenants: sorted by domains", "/tenants/?sort=domains"),
        ("Tenants: sorted by whitelist, descending", "/tenants/?sort=-whitelist"),
        ("Tenants: sorted by credentials, descending", "/tenants/?sort=-credentials"),
        ("Tenants: sorted by sync", "/tenants/?sort=sync"),
        ("Tenants: filter 'known to the console'", "/tenants/?show=console"),
        ("Tenants: filter 'deleted'", "/tenants/?show=deleted"),
        ("Audit: first page", "/audit/"),
        ("Audit: text search 'already exists'", "/audit/?q=already+exists"),
        ("Audit: text search 'tenant 04210'", "/audit/?q=tenant+04210"),
        ("Audit: filter actor=cli:ops-7", "/audit/?actor=cli%3Aops-7"),
        ("Audit: filter outcome=failure", "/audit/?outcome=failure"),
        ("Audit: filter action=tenant.create", "/audit/?action=tenant.create"),
        ("Audit: filter target tenant #421", "/audit/?target_type=tenant&target=421"),
        ("Audit: deep page (before #500,000)", f"/audit/?before={written // 2}"),
    ]
    print(f"\n{'page':44} {'median ms':>10} {'worst ms':>9} {'queries':>8}   load average")
    over = []
    for label, url in pages:
        median, worst, queries = timed(client, url, args.repeat)
        flag = "" if median < TARGET_MS else "  <-- over target"
        print(f"{label:44} {median:10.1f} {worst:9.1f} {queries:8d}   {load()}{flag}", flush=True)
        if median >= TARGET_MS:
            over.append(label)
    print(f"\ntarget: under {TARGET_MS:.0f} ms each; over: {', '.join(over) or 'none'}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
