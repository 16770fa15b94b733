"""Reads that several tenant pages share: the merged tenant list, a tenant's page data.

The Tenants page merges the apiserver's companies, as the last refresh read them (the snapshot,
console.snapshot; a page never calls the server), with what the console knows. It costs a
fixed number of database queries whatever the number of tenants: one for the snapshot's
companies; one for what filtering and sorting need of every tenant (its name, company and
status, and, when searching, whether an admin's email matches); when sorted by a count, one for
the counted rows' tenant ids; one for the shown page's counts and admins, and one for the shown
page's routing as last read. Rows are made for the shown page only (bench/scale_pages.py:
10,000 tenants)."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from operator import attrgetter, itemgetter
from typing import NamedTuple

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import (
    BooleanField,
    Count,
    Expression,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from console.prepared import Prepared
from console.snapshot import queries as snapshot
from console.snapshot.store import COMPANIES, ROUTING, SERVER, USERS
from tenants.models import IssuedCredential, Tenant, TenantAdmin
from tenants.provisioning.lookups import fold

PER_PAGE = 50
FILTERS = {
    "all": "All",
    "console": "Known to the console",
    "outside": "Created outside the console",
    "attention": "Needs attention",
    "deleted": "Deleted",
}
# Sort keys of the Tenants page (a leading "-" sorts descending): the column and its label.
SORTS = {
    "name": "Name",
    "status": "Status",
    "domains": "Domains",
    "whitelist": "Whitelist",
    "admins": "Admins",
    "credentials": "Credentials",
    "sync": "Sync",
}


@dataclass
class ServerCompanies:
    """The server's companies as last read; `fetched_at` None: never read (or not configured)."""

    companies: list[dict] = field(default_factory=list)
    error: str = ""
    configured: bool = True
    fetched_at: datetime | None = None
    platform_id: str = ""  # the company the console's own key belongs to

    @property
    def ok(self) -> bool:
        """The companies are known (read at least once): rows can say whether they are there."""
        return self.configured and not self.error and self.fetched_at is not None

    @property
    def never_read(self) -> bool:
        return self.configured and not self.error and self.fetched_at is None


def _shaped(companies: list[dict]) -> list[dict]:
    return [
        {"id": str(c["id"]), "name": str(c.get("name") or ""), "defaults": c.get("defaults") or {}}
        for c in companies
        if isinstance(c, dict) and c.get("id")
    ]


def server_companies() -> ServerCompanies:
    """The apiserver's companies (id, name, defaults) as the last refresh read them.

    Reads the snapshot only, never the server: a page never waits on the apiserver.
    """
    if not settings.CLEARML_API_URL:
        return ServerCompanies(configured=False, error="CLEARML_API_URL is not set")
    read = snapshot.rows((COMPANIES, ""), (SERVER, ""))  # one query for both rows
    found = snapshot.companies_from(read.get((COMPANIES, "")))
    info = read.get((SERVER, ""))
    return ServerCompanies(
        companies=_shaped(found.companies),
        fetched_at=found.fetched_at,
        platform_id=snapshot.platform_company_id(info) if info is not None else "",
    )


@dataclass
class TenantServerFacts:
    """What the snapshot says about one tenant's company (its detail page)."""

    companies_at: datetime | None = None
    on_server: bool | None = None  # None: not known (never read, no company, or created since)
    company: dict = field(default_factory=dict)
    users: list[dict] | None = None
    users_at: datetime | None = None
    users_error: str = ""


def tenant_server_facts(tenant: Tenant) -> TenantServerFacts:
    """The companies and the tenant's users as last read: one query for both rows."""
    facts = TenantServerFacts()
    users_key = (USERS, tenant.company_id)
    read = snapshot.rows((COMPANIES, ""), *([users_key] if tenant.company_id else []))
    found = snapshot.companies_from(read.get((COMPANIES, "")))
    facts.companies_at = found.fetched_at
    if tenant.company_id and found.read:
        company = next((c for c in found.companies if c.get("id") == tenant.company_id), None)
        if company is not None:
            facts.on_server, facts.company = True, company
        elif not _newer_than(tenant, found.fetched_at):
            facts.on_server = False
    users = read.get(users_key) if tenant.company_id else None
    if users is not None:
        facts.users = (users.data or {}).get("users") if users.read else None
        facts.users_at = users.fetched_at
        facts.users_error = users.error
    return facts


def _newer_than(tenant: Tenant, at: datetime | None) -> bool:
    return at is not None and tenant.created_at is not None and tenant.created_at > at


@dataclass
class RoutingAsRead:
    """A tenant's sign-in routing as the last refresh read it from the server (its counts)."""

    domains: int
    whitelist: int
    fetched_at: datetime | None
    same: bool  # the same number of domains and emails as the console (and its first domain)


def _sync(company_id: str, on_server: bool | None) -> str:
    if not company_id:
        return "none"
    if on_server is None:
        return "unknown"
    return "on_server" if on_server else "missing"


def _attention(status: str, on_server: bool | None) -> bool:
    return status in (Tenant.Status.FAILED, Tenant.Status.PLANNED) or (
        status == Tenant.Status.ACTIVE and on_server is False
    )


@dataclass
class TenantRow:
    name: str
    company_id: str
    tenant_id: int | None = None
    status: str = ""
    origin: str = ""
    on_server: bool | None = None  # None: the server could not be asked
    admins: list[str] = field(default_factory=list)
    platform: bool = False  # the company the console's own key belongs to: not a tenant
    # The console's counts (None for a company the console does not manage).
    domain_count: int | None = None
    first_domain: str = ""
    whitelist_count: int | None = None
    admin_count: int | None = None
    credential_count: int | None = None
    last_credential_at: datetime | None = None
    routing: RoutingAsRead | None = None  # the shown page's rows only; None: not read

    @property
    def outside(self) -> bool:
        return self.tenant_id is None

    @property
    def attention(self) -> bool:
        return _attention(self.status, self.on_server)

    @property
    def sync(self) -> str:
        """on_server | missing | unknown (never read, or created since the last read) | none
        (no company on the apiserver yet)."""
        return _sync(self.company_id, self.on_server)


class _Entry(NamedTuple):
    """A row of the list before it is paged: what filtering and sorting need (a TenantRow is
    made for the shown page only)."""

    folded: str  # fold(name): the list is in this order, then by company id
    company_id: str
    tenant_id: int | None
    name: str
    status: str
    origin: str
    on_server: bool | None
    platform: bool
    sort_count: int | None  # the count the list is sorted by; None: not sorted by one, or outside

    @property
    def outside(self) -> bool:
        return self.tenant_id is None

    def row(self, count_field: str | None = None) -> TenantRow:
        row = TenantRow(
            name=self.name,
            company_id=self.company_id,
            tenant_id=self.tenant_id,
            status=self.status,
            origin=self.origin,
            on_server=self.on_server,
            platform=self.platform,
        )
        if count_field and not self.outside:
            setattr(row, count_field, self.sort_count)
        return row


def tenant_counts() -> dict[str, Expression]:
    """The tenants' admins and the credentials the console issued them, as subqueries of a
    Tenant query (the shown page's counts)."""
    credentials = IssuedCredential.objects.filter(admin__tenant=OuterRef("pk"))
    admins = TenantAdmin.objects.filter(tenant=OuterRef("pk"), released=False)
    return {
        "admin_count": count_of(admins, "tenant"),
        "credential_count": count_of(credentials, "admin__tenant"),
        "last_credential_at": Subquery(
            credentials.order_by("-created_at").values("created_at")[:1]
        ),
    }


def count_of(rows, group: str) -> Expression:
    """The number of `rows` (filtered on OuterRef("pk")), as a subquery; 0 when none."""
    counted = rows.order_by().values(group).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted[:1]), 0)


def counted_rows() -> dict[str, QuerySet]:
    """The rows `tenant_counts` counts, as each one's tenant id: {TenantRow field: a flat
    values_list}. Sorting by a count reads these once and counts them in Python, rather than a
    subquery per tenant (the same numbers: tests/test_tenant_list_sql_order.py)."""
    return {
        "admin_count": TenantAdmin.objects.filter(released=False).values_list(
            "tenant_id", flat=True
        ),
        "credential_count": IssuedCredential.objects.values_list("admin__tenant_id", flat=True),
    }


# The sort keys that order by a count, and the TenantRow field holding it.
SORT_COUNTS = {
    "domains": "domain_count",
    "whitelist": "whitelist_count",
    "admins": "admin_count",
    "credentials": "credential_count",
}
SYNC_ORDER = {"missing": 0, "unknown": 1, "none": 2, "on_server": 3}
# What each sort key orders by (of a list entry); entries without a value (companies the
# console does not manage) come last either way.
SORT_COLUMNS = {
    "status": lambda e: "~" if e.tenant_id is None else e.status,  # outside: last
    **dict.fromkeys(SORT_COUNTS, attrgetter("sort_count")),
    "sync": lambda e: SYNC_ORDER[_sync(e.company_id, e.on_server)],
}


def sort_rows(rows: list[_Entry], sort: str) -> None:
    """Sort list entries in place by `sort` (a key of SORTS; "-" first for descending), ties by
    name: the folded name, then the company id."""
    rows.sort(key=itemgetter(1))  # two sorts on one key each: stable, and quicker than a pair
    rows.sort(key=itemgetter(0))
    descending = sort.startswith("-")
    column = SORT_COLUMNS.get(sort.removeprefix("-"))
    if column is None:
        if descending:
            rows.reverse()
        return
    # Grouped by value, each group in name order (as a stable sort keeps ties either way), the
    # groups in order of their value; entries without a value last.
    groups: dict = {}
    for row in rows:
        groups.setdefault(column(row), []).append(row)
    unvalued = groups.pop(None, [])
    rows[:] = [row for value in sorted(groups, reverse=descending) for row in groups[value]]
    rows += unvalued


# An entry made from a tuple of its fields, without the Python-level __new__ of a NamedTuple
# (ten thousand entries: a few milliseconds).
_new_entry = partial(tuple.__new__, _Entry)


def _flag(condition: Q) -> Expression:
    return ExpressionWrapper(condition, output_field=BooleanField())


def _entries(
    *,
    server: ServerCompanies,
    query: str,
    kind: str,
    sort: str,
    annotations: dict[str, Expression] | None,
    counted: dict[str, QuerySet] | None,
) -> list[_Entry]:
    """Console tenants and server companies as one list of entries, filtered and sorted.

    One query reads, for every tenant, only what filtering and sorting need: its name, company,
    status, whether it is deleted and whether it was created after the companies were read (both
    worked out in SQL: reading the dates cost most of the time), and whether an admin's email
    matches the search. Sorting by a count reads the counted rows' tenant ids (one more query),
    or, for a count the caller gives only as a subquery, adds it to that query."""
    on_server = {c["id"] for c in server.companies} if server.ok else None
    wanted = fold(query) if query else ""
    entries: list[_Entry] = []
    # The companies the console knows, its deleted tenants' included: a company the console
    # marked deleted but the server still lists is not "outside".
    taken: set[str] = set()
    if kind == "outside":
        if on_server is not None:
            taken.update(Tenant.objects.order_by().values_list("company_id", flat=True))
    else:
        sorted_by = SORT_COUNTS.get(sort.removeprefix("-"))
        # The caller's counts come first (its annotations override this package's counts in
        # `tenant_page`): as the counted rows when given, else as the subquery.
        subqueries, rows = annotations or {}, counted or {}
        if sorted_by not in subqueries:
            rows = {**counted_rows(), **rows}
        counts: dict[str, Expression] = {}  # the count as a column, when it is a subquery
        tally: Counter | None = None
        if sorted_by in rows:
            tally = Counter(rows[sorted_by].order_by())
        elif sorted_by in subqueries:
            counts["sort_count"] = subqueries[sorted_by]
        shape = {
            "kind": kind,
            "newer": on_server is not None,
            "search_admins": len(wanted) >= 3,
            # which count the sort_count column holds (the key: the subquery is an input)
            "sort_count": sorted_by if counts else "",
        }
        values = {"fetched_at": server.fetched_at} if shape["newer"] else {}
        values.update({"wanted": wanted} if shape["search_admins"] else {})
        read = _TENANT_ENTRIES.fetch(shape, {"counts": counts}, **values)
        deleted_only = kind == "deleted"
        for pk, name, company_id, status, origin, deleted, newer, matched, *count in read:
            taken.add(company_id)
            if deleted != deleted_only:
                continue
            if on_server is None:
                state = None
            elif company_id in on_server:
                state = True
            else:  # a tenant created after the snapshot was read: the snapshot cannot tell
                state = None if newer else False
            if kind == "attention" and not _attention(status, state):
                continue
            folded = fold(name)
            if query and not (wanted in folded or wanted in company_id.lower() or matched):
                continue
            value = count[0] if count else tally[pk] if tally is not None else None
            entries.append(
                _new_entry((folded, company_id, pk, name, status, origin, state, False, value))
            )
    if kind in ("all", "outside") and on_server is not None:
        for company in server.companies:
            company_id, name = company["id"], company["name"]
            if company_id in taken:
                continue
            folded = fold(name)
            if query and not (wanted in folded or wanted in company_id.lower()):
                continue
            platform = company_id == server.platform_id
            entries.append(
                _new_entry((folded, company_id, None, name, "", "", True, platform, None))
            )
    sort_rows(entries, sort)
    return entries


def _tenant_entries(
    kind: str,
    newer: bool,
    search_admins: bool,
    sort_count: str,
    counts: dict[str, Expression],
    fetched_at=None,
    wanted="",
) -> QuerySet:
    """What filtering and sorting the tenants need, one row per tenant (see `_entries`)."""
    tenants = Tenant.objects.order_by()
    if kind == "deleted":
        tenants = tenants.filter(deleted_at__isnull=False)
    elif kind != "all":  # the deleted ones' companies matter only next to the server's
        tenants = tenants.filter(deleted_at__isnull=True)
    matches = TenantAdmin.objects.filter(email__icontains=wanted).values("tenant")
    columns = {
        "is_deleted": _flag(Q(deleted_at__isnull=False)),
        "is_newer": _flag(Q(created_at__gt=fetched_at)) if newer else Value(False),
        # an admin's email matches: asked in the same query
        "admin_matches": _flag(Q(pk__in=matches)) if search_admins else Value(False),
        **counts,
    }
    return tenants.annotate(**columns).values_list(
        "pk", "name", "company_id", "status", "origin", *columns
    )


_TENANT_ENTRIES = Prepared(_tenant_entries)


def tenant_rows(
    *,
    server: ServerCompanies,
    query: str = "",
    kind: str = "all",
    sort: str = "name",
    annotations: dict[str, Expression] | None = None,
    counted: dict[str, QuerySet] | None = None,
) -> list[TenantRow]:
    """Console tenants and server companies as one list (no admins yet), sorted by `sort`.

    `annotations`: more counts for each tenant, {TenantRow field: subquery} (sign-in routing
    lives above this package, so its caller adds them). `counted`: the rows some of those
    counts count, as each one's tenant id, {TenantRow field: a flat values_list}; sorting by
    such a count reads them once instead of a subquery per tenant. Only the count `sort` orders
    by is read here, for every tenant; `tenant_page` reads the others for the shown page only."""
    entries = _entries(
        server=server, query=query, kind=kind, sort=sort, annotations=annotations, counted=counted
    )
    counted_field = SORT_COUNTS.get(sort.removeprefix("-"))
    return [entry.row(counted_field) for entry in entries]


def tenant_page(
    *,
    server: ServerCompanies,
    query: str = "",
    kind: str = "all",
    number=1,
    per_page=PER_PAGE,
    sort: str = "name",
    annotations: dict[str, Expression] | None = None,
    counted: dict[str, QuerySet] | None = None,
) -> Page:
    """A page of `tenant_rows`: the whole list is filtered and sorted as entries, and rows are
    made, with their counts, admins and routing, for the shown page only."""
    entries = _entries(
        server=server, query=query, kind=kind, sort=sort, annotations=annotations, counted=counted
    )
    page = Paginator(entries, per_page).get_page(number)
    page.object_list = [entry.row() for entry in page.object_list]
    _add_counts_and_admins(page.object_list, {**tenant_counts(), **(annotations or {})})
    if server.ok:
        _routing_as_read(page.object_list)
    return page


def _add_counts_and_admins(rows: list[TenantRow], counts: dict[str, Expression]) -> None:
    """The shown tenants' counts and admins' emails, in one query: a row per admin (reading the
    counts for every tenant cost the Tenants page most of its time at 10,000 tenants,
    bench/scale_pages.py)."""
    shown = {r.tenant_id: r for r in rows if r.tenant_id}
    for row in rows:
        row.admins = []
    if not shown:
        return
    counted = set()
    read = _COUNTS_AND_ADMINS.fetch({"names": tuple(counts)}, {"counts": counts}, ids=list(shown))
    for pk, email, *more in read:
        row = shown[pk]
        if pk not in counted:
            counted.add(pk)
            for name, value in zip(counts, more, strict=True):
                setattr(row, name, value)
        if email is not None:
            row.admins.append(email)


_COUNTS_AND_ADMINS = Prepared(
    lambda names, counts, ids: (
        Tenant.objects.filter(pk__in=ids)
        .annotate(**counts)
        .order_by("pk", "admins__id")
        .values_list("pk", "admins__email", *names)
    )
)


def _routing_as_read(rows: list[TenantRow]) -> None:
    """The shown rows' routing as last read (one query), compared with the console's counts."""
    managed = [r for r in rows if r.tenant_id and r.company_id and r.domain_count is not None]
    if not managed:
        return
    read = snapshot.rows(*[(ROUTING, r.company_id) for r in managed])
    for row in managed:
        found = read.get((ROUTING, row.company_id))
        if found is None or found.data is None:
            continue
        domains = [str(d).lower() for d in found.data.get("domains") or []]
        whitelist = found.data.get("whitelist") or []
        row.routing = RoutingAsRead(
            domains=len(domains),
            whitelist=len(whitelist),
            fetched_at=found.fetched_at,
            same=len(domains) == row.domain_count
            and len(whitelist) == (row.whitelist_count or 0)
            and (not row.first_domain or row.first_domain in domains),
        )
