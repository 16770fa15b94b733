"""The Tenants page's list (tenants.queries.tenant_rows and tenant_page) gives the same rows, in
the same order, with the same counts as the way it was worked out before it read only what
sorting and filtering need: every tenant and every company of the snapshot as a row, filtered
and sorted in Python (ties by the folded name, then the company id; rows without the sorted-by
value last; "-name" the reverse of "name"). `previous_rows` below is that way, on the models.

The data has what makes the order subtle: names equal once folded (case, spaces, "ß"), counts
that tie, companies made outside the console among the tenants, the platform company, deleted
tenants (one whose company the server still lists), a tenant created after the companies were
read, one missing on the server, one with no company yet, released admins (not counted, yet
their email matches a search) and credentials of a released admin (counted)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from console.snapshot import store
from sso.models import LoginDomain, WhitelistEntry
from sso.routing.queries import routing_counts, routing_rows
from tenants.models import IssuedCredential, Tenant, TenantAdmin
from tenants.provisioning.lookups import fold
from tenants.queries import FILTERS, SORTS, server_companies, tenant_page, tenant_rows

pytestmark = pytest.mark.django_db

SORT_KEYS = sorted(SORTS) + [f"-{k}" for k in sorted(SORTS)]
QUERIES = ["", "a", "acme", "ACME ", "strasse", "c-0", "example", "gone@", "@old.io", "zz", "  "]

TENANTS = [
    # name, company id, status, admins (email, released), domains, whitelist, credentials
    ("Acme", "c-acme-2", "active", [("a1@example.io", False)], 1, 0, 0),
    ("ACME ", "c-acme-1", "active", [("a2@example.io", False)], 1, 0, 2),
    ("Straße", "c-0strasse", "failed", [("s1@example.io", False), ("s2@x.io", False)], 2, 1, 0),
    ("STRASSE", "c-strasse", "active", [], 0, 1, 0),
    ("Beta", "c-beta", "planned", [("b@example.io", False)], 1, 3, 1),
    ("beta labs", "c-0beta", "active", [("bl@x.io", False), ("gone@old.io", True)], 1, 0, 1),
    ("Draft", "", "planned", [], 0, 0, 0),
    ("Missing", "c-missing", "active", [("m@x.io", False)], 1, 1, 0),
    ("Fresh", "c-fresh", "active", [("f@x.io", False)], 0, 0, 0),  # created after the read
    ("Provisioning", "c-prov", "provisioning", [("p@x.io", False)], 0, 2, 0),
    ("Zulu", "c-zulu", "active", [("z1@x.io", False), ("z2@x.io", False)], 2, 2, 3),
    ("Old Acme", "c-old", "deleted", [("old@old.io", True)], 1, 1, 1),  # deleted, still listed
    ("Gone", "c-gone", "deleted", [], 0, 0, 0),  # deleted, no longer listed
    ("acme", "c-acme-0", "deleted", [], 0, 0, 0),  # a deleted tenant named as a live one
]
OUTSIDE = [("acme", "c-0acme"), ("Yankee", "c-yankee"), ("Platform", "c-platform")]


@pytest.fixture
def tenants(settings):
    settings.CLEARML_API_URL = "http://apiserver.invalid"
    now = timezone.now()
    read_at = now - timedelta(hours=1)
    for number, (name, company, status, admins, domains, whitelist, creds) in enumerate(TENANTS):
        deleted = now if status == "deleted" else None
        tenant = Tenant.objects.create(
            name=name, company_id=company, status=status, deleted_at=deleted
        )
        made = [
            TenantAdmin.objects.create(tenant=tenant, name="A", email=email, released=released)
            for email, released in admins
        ]
        for k in range(domains):
            LoginDomain.objects.create(tenant=tenant, domain=f"d{k}.t{number}.example")
        for k in range(whitelist):
            WhitelistEntry.objects.create(tenant=tenant, email=f"w{k}@t{number}.example")
        for k in range(creds):
            IssuedCredential.objects.create(admin=made[-1], access_key=f"AK-{number}-{k}")
    # Every tenant but "Fresh" was created before the companies were read.
    Tenant.objects.exclude(name="Fresh").update(created_at=read_at - timedelta(hours=1))
    listed = [c for _, c, *_ in TENANTS if c and c not in ("c-missing", "c-fresh", "c-gone")]
    companies = [{"id": c, "name": f"Server name of {c}"} for c in listed]
    companies += [{"id": c, "name": name} for name, c in OUTSIDE]
    store.snapshot_put(store.COMPANIES, "", {"companies": companies}, read_at)
    store.snapshot_put(store.SERVER, "", {"platform_company": {"id": "c-platform"}}, read_at)
    return read_at


def previous_rows(*, query="", kind="all", sort="name") -> list[dict]:
    """The list as the Tenants page worked it out before, from the models, each row with all its
    counts."""
    server = server_companies()
    on_server = {c["id"]: c for c in server.companies} if server.ok else None
    rows, known_ids, deleted_ids = [], set(), set()
    wanted = fold(query) if query else ""
    for tenant in Tenant.objects.all():
        admins = list(tenant.admins.all())
        if tenant.deleted_at is not None and tenant.company_id:
            deleted_ids.add(tenant.company_id)
        if (tenant.deleted_at is not None) != (kind == "deleted"):
            continue
        if tenant.company_id:
            known_ids.add(tenant.company_id)
        known = on_server is not None and (
            tenant.company_id in on_server or not tenant.created_at > server.fetched_at
        )
        rows.append(
            {
                "tenant_id": tenant.pk,
                "name": tenant.name,
                "company_id": tenant.company_id,
                "status": tenant.status,
                "origin": tenant.origin,
                "on_server": tenant.company_id in on_server if known else None,
                "platform": False,
                "admin_count": sum(not a.released for a in admins),
                "credential_count": IssuedCredential.objects.filter(admin__tenant=tenant).count(),
                "domain_count": tenant.login_domains.count(),
                "whitelist_count": tenant.whitelist.count(),
                "by_admin": len(wanted) >= 3 and any(wanted in a.email.lower() for a in admins),
            }
        )
    if kind in ("all", "outside") and on_server is not None:
        for company in server.companies:
            if company["id"] in known_ids or company["id"] in deleted_ids:
                continue
            rows.append(
                {
                    "tenant_id": None,
                    "name": company["name"],
                    "company_id": company["id"],
                    "status": "",
                    "origin": "",
                    "on_server": True,
                    "platform": company["id"] == server.platform_id,
                    "by_admin": False,
                    **dict.fromkeys(
                        ("admin_count", "credential_count", "domain_count", "whitelist_count")
                    ),
                }
            )

    def attention(r):
        return r["status"] in ("failed", "planned") or (
            r["status"] == "active" and r["on_server"] is False
        )

    if kind == "console":
        rows = [r for r in rows if r["tenant_id"] is not None]
    elif kind == "outside":
        rows = [r for r in rows if r["tenant_id"] is None]
    elif kind == "attention":
        rows = [r for r in rows if attention(r)]
    if query:
        rows = [
            r
            for r in rows
            if wanted in fold(r["name"]) or wanted in r["company_id"].lower() or r["by_admin"]
        ]

    def sync(r):
        if not r["company_id"]:
            return "none"
        if r["on_server"] is None:
            return "unknown"
        return "on_server" if r["on_server"] else "missing"

    columns = {
        "status": lambda r: "~" if r["tenant_id"] is None else r["status"],
        "domains": lambda r: r["domain_count"],
        "whitelist": lambda r: r["whitelist_count"],
        "admins": lambda r: r["admin_count"],
        "credentials": lambda r: r["credential_count"],
        "sync": lambda r: {"missing": 0, "unknown": 1, "none": 2, "on_server": 3}[sync(r)],
    }
    rows.sort(key=lambda r: (fold(r["name"]), r["company_id"]))
    descending = sort.startswith("-")
    column = columns.get(sort.removeprefix("-"))
    if column is None:
        if descending:
            rows.reverse()
        return rows
    known = [r for r in rows if column(r) is not None]
    known.sort(key=column, reverse=descending)
    return known + [r for r in rows if column(r) is None]


FIELDS = ("tenant_id", "name", "company_id", "status", "origin", "on_server", "platform")
COUNTS = ("admin_count", "credential_count", "domain_count", "whitelist_count")


def _shown(rows) -> list[tuple]:
    return [tuple(getattr(r, f) for f in FIELDS) for r in rows]


def _expected(rows) -> list[tuple]:
    return [tuple(r[f] for f in FIELDS) for r in rows]


@pytest.mark.parametrize("sort", SORT_KEYS)
def test_every_sort_filter_and_search_lists_the_same_rows_in_the_same_order(tenants, sort):
    server = server_companies()
    for kind in FILTERS:
        for query in QUERIES:
            expected = previous_rows(query=query, kind=kind, sort=sort)
            for counted in (None, routing_rows()):
                rows = tenant_rows(
                    server=server,
                    query=query,
                    kind=kind,
                    sort=sort,
                    annotations=routing_counts(),
                    counted=counted,
                )
                assert _shown(rows) == _expected(expected), (kind, query, counted)
                field = {"domains": "domain_count", "whitelist": "whitelist_count"}.get(
                    sort.removeprefix("-"),
                    {"admins": "admin_count", "credentials": "credential_count"}.get(
                        sort.removeprefix("-")
                    ),
                )
                if field:  # the sorted-by count, read for every row
                    assert [getattr(r, field) for r in rows] == [r[field] for r in expected]


@pytest.mark.parametrize("sort", ["name", "-admins", "credentials", "-domains", "whitelist"])
def test_the_pages_together_are_the_whole_list_with_every_count(tenants, sort):
    server = server_companies()
    expected = previous_rows(sort=sort)
    shown, number = [], 1
    while True:
        page = tenant_page(
            server=server,
            sort=sort,
            number=number,
            per_page=4,
            annotations=routing_counts(),
            counted=routing_rows(),
        )
        shown += page.object_list
        if not page.has_next():
            break
        number += 1
    assert page.paginator.count == len(expected) == len(shown)
    assert _shown(shown) == _expected(expected)
    assert [tuple(getattr(r, c) for c in COUNTS) for r in shown] == [
        tuple(r[c] for c in COUNTS) for r in expected
    ]


def test_the_admins_sort_breaks_ties_by_the_folded_name_then_the_company(tenants):
    rows = tenant_rows(server=server_companies(), sort="-admins")
    names = [(r.name, r.admin_count) for r in rows]
    # Two admins (released ones not counted); then one each, "acme" before "beta", and "Acme"
    # (c-acme-2) after "ACME " (c-acme-1): the same folded name, ordered by company.
    assert names[:2] == [("Straße", 2), ("Zulu", 2)]
    assert names[2:5] == [("ACME ", 1), ("Acme", 1), ("Beta", 1)]
    # Companies outside the console have no count: last, in name order, either way.
    assert [r.name for r in rows if r.outside] == [r.name for r in rows[-3:]]
    assert [r.name for r in rows[-3:]] == ["acme", "Platform", "Yankee"]


def test_without_the_snapshot_nothing_is_outside_and_sync_is_unknown(tenants):
    from console.snapshot.models import ServerSnapshot

    ServerSnapshot.objects.all().delete()
    for kind in FILTERS:
        for sort in ("name", "-sync", "admins"):
            rows = tenant_rows(server=server_companies(), kind=kind, sort=sort)
            assert _shown(rows) == _expected(previous_rows(kind=kind, sort=sort))
    assert tenant_rows(server=server_companies(), kind="outside") == []
    assert {r.sync for r in tenant_rows(server=server_companies())} == {"unknown", "none"}
