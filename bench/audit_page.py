"""Benchmark: the Audit page at 1,000,000 entries on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/audit_page.py

Uses its own database, `bench_audit`, on the server DATABASE_URL names (created when missing,
reused when it already holds --rows entries, rebuilt with --reload). Loads the entries through
`console.audit.bulk.bulk_append` (the service's masking and hash chain, written with COPY), then
times the real query function `audit_page` for the first page under each filter and for deep
pages, and the htmx fragment through Django's test client. Prints median and worst of --repeat
runs in milliseconds. Options: --verify also times `verify_audit`; --export streams a CSV export
of every entry and reports the time and peak memory; --explain prints PostgreSQL's plans.
"""

import argparse
import os
import random
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pg_server import server_params

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "bench_audit"
TARGET_MS = 100.0


def prepare_database(reload: bool) -> None:
    """Point Django at `bench_audit` on the same server, creating the database if needed."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "DATABASE_URL must name a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres"
        )
    with psycopg.connect(**server_params(url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if exists and reload:
            conn.execute(f'DROP DATABASE "{BENCH_DB}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    base = url.rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = f"{base}/{BENCH_DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")


ACTORS = [("admin", 60), ("cli:root", 20), ("cli:deploy", 10)] + [
    (f"cli:ops-{k}", 0.5) for k in range(20)
]
ACTIONS = [
    ("tenant.update", 20), ("tenant.create", 6), ("tenant.import", 2), ("tenant.delete", 1),
    ("tenant.credentials.create", 4), ("login.domains.set", 10), ("login.whitelist.add", 8),
    ("login.whitelist.remove", 3), ("group.create", 2), ("group.update", 8), ("group.delete", 1),
    ("builtin_groups.update", 2), ("organization.update", 1), ("idp.create", 1), ("idp.update", 4),
    ("idp.delete", 0.5), ("sso.tenant_config.update", 3), ("secrets.generate", 0.5),
    ("secrets.audit", 0.5), ("auth.signin", 15), ("auth.signin.failed", 2), ("auth.signout", 5),
]  # fmt: skip
OUTCOMES = [("success", 94), ("failure", 4), ("refused", 1.5), ("pending", 0.5)]
ERRORS = {"failure": "{endpoint}: name already exists", "refused": "edited by someone else"}
ENDPOINTS = {
    "tenant": ["system.create_company", "system.update_company_settings", "auth.create_user"],
    "login": ["login.set_domains", "login.add_whitelist_entries"],
    "group": [],
    "idp": ["sso.save_provider_configuration"],
}


def synthetic_rows(count: int, seed: int = 20250310):
    """Entries spread over the past year, shaped like real console traffic."""
    rng = random.Random(seed)
    actors, actor_w = zip(*ACTORS, strict=True)
    actions, action_w = zip(*ACTIONS, strict=True)
    outcomes, outcome_w = zip(*OUTCOMES, strict=True)
    start = datetime.now(UTC) - timedelta(days=365)
    step = timedelta(days=365) / count
    request_id, left_in_request = "", 0
    for i in range(count):
        if left_in_request <= 0:
            request_id, left_in_request = f"{rng.getrandbits(128):032x}", rng.randint(1, 3)
        left_in_request -= 1
        action = rng.choices(actions, action_w)[0]
        actor = rng.choices(actors, actor_w)[0]
        family = action.split(".")[0]
        outcome = rng.choices(outcomes, outcome_w)[0]
        if family in ("tenant", "login", "sso"):
            n = rng.randrange(5000)
            target = ("tenant", f"c-{n:05d}", f"Tenant {n:05d} Research")
        elif family in ("group", "builtin_groups"):
            n = rng.randrange(200)
            target = ("group", f"g-{n:03d}", f"group_{n:03d}")
        elif family == "idp":
            n = rng.randrange(50)
            target = ("idp", f"idp-{n:02d}", f"Keycloak realm {n:02d}")
        elif family == "auth":
            target = ("user", "admin", "admin")
        else:
            target = ("organization", "platform", "Platform")
        calls = []
        for endpoint in ENDPOINTS.get(family if family != "sso" else "tenant", [])[
            : rng.randint(1, 2)
        ]:
            failed = outcome == "failure"
            calls.append(
                {
                    "endpoint": endpoint,
                    "status": rng.choice([400, 500]) if failed else 200,
                    "result_msg": "name already exists" if failed else "OK",
                    "trx": f"{rng.getrandbits(64):016x}",
                    "duration_ms": rng.randint(3, 400),
                }
            )
        first_endpoint = calls[0]["endpoint"] if calls else "?"
        yield {
            "actor": "anonymous" if action == "auth.signin.failed" else actor,
            "action": action,
            "target_type": target[0],
            "target_id": target[1],
            "target_repr": target[2],
            "before": {"allowed_users": rng.randint(1, 50), "features": ["experiments"]},
            "after": {
                "allowed_users": rng.randint(1, 50),
                "features": ["experiments", "pipelines"],
                **({"client_secret": f"s{rng.getrandbits(64):x}"} if family == "idp" else {}),
            },
            "calls": calls,
            "outcome": outcome,
            "error": ERRORS.get(outcome, "").format(endpoint=first_endpoint),
            "created_at": start + step * i,
            "request_id": request_id,
        }  # fmt: skip


def load(rows: int) -> None:
    from django.db import connection

    from console.audit.bulk import bulk_append

    print(f"loading {rows:,} entries into {BENCH_DB} (masking, hashing, COPY) ...", flush=True)
    started = time.perf_counter()
    written = len(bulk_append(synthetic_rows(rows)))
    loaded = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE console_auditentry")
    print(f"loaded {written:,} entries in {loaded:.1f}s ({written / loaded:,.0f}/s)", flush=True)


def timed(func, repeat: int) -> tuple[float, float, object]:
    func()  # warm the cache once, as a page in use is
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), result


def scenarios(head: int, mid: datetime):
    from console.audit.queries import AuditFilter as F

    week = (mid.date(), (mid + timedelta(days=6)).date())
    month = ((mid - timedelta(days=30)).date(), mid.date())
    return [
        ("no filter, first page", F(), {}),
        ("actor=admin", F(actor="admin"), {}),
        ("actor=cli:ops-7 (rare)", F(actor="cli:ops-7"), {}),
        ("action=tenant.create", F(action="tenant.create"), {}),
        ("action=tenant.* (family)", F(action="tenant.*"), {}),
        ("action=secrets.generate (rare)", F(action="secrets.generate"), {}),
        ("outcome=failure", F(outcome="failure"), {}),
        ("outcome=pending (rare)", F(outcome="pending"), {}),
        ("target type=idp", F(target_type="idp"), {}),
        ("target=c-01234 (one tenant)", F(target="c-01234"), {}),
        ("target=name, any case", F(target="tenant 01234 research"), {}),
        ("date range: 7 days mid-year", F(since=week[0], until=week[1]), {}),
        ("text 'already exists'", F(q="already exists"), {}),
        ("text 'realm 07' (rarer)", F(q="realm 07"), {}),
        ("admin+failure+30 days",
         F(actor="admin", outcome="failure", since=month[0], until=month[1]), {}),
        ("idp+refused+text", F(target_type="idp", outcome="refused", q="someone"), {}),
        ("deep page: no filter, before=#1,000", F(), {"before": 1000}),
        ("deep page: no filter, before=#500,000", F(), {"before": head // 2}),
        ("deep page: actor=admin, before=#50,000", F(actor="admin"), {"before": 50_000}),
        ("deep page: outcome=failure, before=#10,000", F(outcome="failure"), {"before": 10_000}),
        ("newer page: after=#500,000", F(), {"after": head // 2}),
    ]  # fmt: skip


def explain(flt, cursor_args) -> str:
    from console.audit.queries import filtered

    qs = filtered(flt)
    if "before" in cursor_args:
        qs = qs.filter(seq__lt=cursor_args["before"])
    return qs.order_by("-seq")[:51].explain(analyze=True)


def run(args) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    prepare_database(args.reload)
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from console.audit.models import AuditEntry
    from console.audit.queries import audit_page

    call_command("migrate", verbosity=0)
    count = AuditEntry.objects.count()
    if count != args.rows:
        if count:
            print(f"{BENCH_DB} holds {count:,} entries, not {args.rows:,}: rebuilding", flush=True)
            connection.close()
            prepare_database(reload=True)
            call_command("migrate", verbosity=0)
        load(args.rows)
    else:
        print(f"reusing {BENCH_DB} with {count:,} entries (--reload to rebuild)")
    head = AuditEntry.objects.order_by("-seq").values_list("seq", "created_at").first()
    oldest = AuditEntry.objects.order_by("seq").values_list("created_at", flat=True).first()
    mid = oldest + (head[1] - oldest) / 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(" on ")[0]
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('console_auditentry'))")
        size = cursor.fetchone()[0]
    print(f"\n{version}; {head[0]:,} entries; table with indexes {size}; page size 50")
    print(f"{'scenario':46} {'rows':>5} {'median ms':>10} {'worst ms':>9}")
    worst_median = 0.0
    for name, flt, cursor_args in scenarios(head[0], mid):
        median, worst, page = timed(lambda f=flt, c=cursor_args: audit_page(f, **c), args.repeat)
        worst_median = max(worst_median, median)
        flag = "" if median < TARGET_MS else "  <-- over target"
        print(f"{name:46} {len(page.entries):5d} {median:10.1f} {worst:9.1f}{flag}")
        if args.explain:
            print(explain(flt, cursor_args), "\n")

    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(username="admin")
    client = Client()
    client.force_login(user, backend="console.signin.AdminPasswordBackend")
    for name, url, headers in [
        ("HTTP: htmx fragment, actor+outcome filter", "/audit/?actor=admin&outcome=failure",
         {"HTTP_HX_REQUEST": "true"}),
        ("HTTP: full page, no filter", "/audit/", {}),
        ("HTTP: entry detail", f"/audit/{head[0] // 2}/", {}),
    ]:  # fmt: skip
        median, worst, response = timed(lambda u=url, h=headers: client.get(u, **h), args.repeat)
        assert response.status_code == 200, response.status_code
        print(f"{name:46} {'':5} {median:10.1f} {worst:9.1f}")
    print(
        f"\nslowest median over the query scenarios: {worst_median:.1f} ms "
        f"(target < {TARGET_MS:.0f} ms)"
    )

    if args.export:
        from console.audit.export import iter_csv
        from console.audit.queries import AuditFilter, export_queryset

        started, size_bytes = time.perf_counter(), 0
        for chunk in iter_csv(export_queryset(AuditFilter())):
            size_bytes += len(chunk)
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"CSV export of every entry: {size_bytes / 1e6:,.0f} MB in {elapsed:.1f}s; "
            f"process peak RSS {peak:.0f} MB"
        )
    if args.verify:
        from console.audit.verify import verify_chain

        started = time.perf_counter()
        report = verify_chain()
        print(
            f"verify_audit: {report.count:,} entries, intact={report.intact} "
            f"in {time.perf_counter() - started:.1f}s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--reload", action="store_true", help="drop and reload bench_audit")
    parser.add_argument("--verify", action="store_true", help="also time verify_audit")
    parser.add_argument("--export", action="store_true", help="also time a full CSV export")
    parser.add_argument("--explain", action="store_true", help="print query plans")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
