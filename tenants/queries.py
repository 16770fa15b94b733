"""Reads that several tenant pages share: the merged tenant list, a tenant's page data.

The Tenants page merges the apiserver's companies, as the last refresh read them (the snapshot,
console.snapshot; a page never calls the server), with what the console knows. It costs a
fixed number of database queries whatever the number of tenants: one for the snapshot's
companies, one for the console's tenants with their counts (admins, credentials, and the routing
counts the caller adds as subqueries: `annotations`) and, when searching, whether an admin's email
matches; one for the admins of the shown page, and one for the shown page's routing as last
read.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, Expression, OuterRef, Subquery
from django.db.models.functions import Coalesce

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
        return self.status in (Tenant.Status.FAILED, Tenant.Status.PLANNED) or (
            self.status == Tenant.Status.ACTIVE and self.on_server is False
        )

    @property
    def sync(self) -> str:
        """on_server | missing | unknown (never read, or created since the last read) | none
        (no company on the apiserver yet)."""
        if not self.company_id:
            return "none"
        if self.on_server is None:
            return "unknown"
        return "on_server" if self.on_server else "missing"


def tenant_counts() -> dict[str, Expression]:
    """The tenants' admins and the credentials the console issued them, as subqueries of a
    Tenant query (one query for every tenant; the Tenants page sorts by them)."""
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


# The sort keys that order by a count, and the TenantRow field holding it.
SORT_COUNTS = {
    "domains": "domain_count",
    "whitelist": "whitelist_count",
    "admins": "admin_count",
    "credentials": "credential_count",
}
# What each sort key orders by; rows without a value (companies the console does not manage)
# come last either way.
SORT_COLUMNS = {
    "status": lambda r: "~" if r.outside else r.status,
    "domains": lambda r: r.domain_count,
    "whitelist": lambda r: r.whitelist_count,
    "admins": lambda r: r.admin_count,
    "credentials": lambda r: r.credential_count,
    "sync": lambda r: {"missing": 0, "unknown": 1, "none": 2, "on_server": 3}[r.sync],
}


def sort_rows(rows: list[TenantRow], sort: str) -> None:
    """Sort in place by `sort` (a key of SORTS; "-" first for descending), ties by name."""
    rows.sort(key=lambda r: (fold(r.name), r.company_id))
    descending = sort.startswith("-")
    column = SORT_COLUMNS.get(sort.removeprefix("-"))
    if column is None:
        if descending:
            rows.reverse()
        return
    known = [r for r in rows if column(r) is not None]
    known.sort(key=column, reverse=descending)  # stable: ties keep the name order
    rows[:] = known + [r for r in rows if column(r) is None]


def tenant_rows(
    *,
    server: ServerCompanies,
    query: str = "",
    kind: str = "all",
    sort: str = "name",
    annotations: dict[str, Expression] | None = None,
) -> list[TenantRow]:
    """Console tenants and server companies as one list (no admins yet), sorted by `sort`.

    `annotations`: more counts for each tenant, {TenantRow field: subquery} (sign-in routing
    lives above this package, so its caller adds them). Only the count `sort` orders by is read
    here, for every tenant; `tenant_page` reads the others for the shown page only."""
    on_server = {c["id"]: c for c in server.companies} if server.ok else None
    rows: list[TenantRow] = []
    known_ids = set()
    # A company the console marked deleted but the server still lists is not "outside".
    deleted_ids = set()
    sorted_by = SORT_COUNTS.get(sort.removeprefix("-"))
    every = {**tenant_counts(), **(annotations or {})}
    counts = {sorted_by: every[sorted_by]} if sorted_by in every else {}
    wanted = fold(query) if query else ""
    if len(wanted) >= 3:  # an admin's email matches: asked in the same query
        admins = TenantAdmin.objects.filter(tenant=OuterRef("pk"), email__icontains=wanted)
        counts["admin_matches"] = Exists(admins)
    by_admin: set[int] = set()
    # One query for the shown tenants and the deleted ones' companies alike.
    for pk, name, company_id, status, origin, created_at, deleted_at, *more in (
        Tenant.objects.annotate(**counts)
        .order_by()
        .values_list(
            "pk", "name", "company_id", "status", "origin", "created_at", "deleted_at", *counts
        )
    ):
        extra = dict(zip(counts, more, strict=True))
        if extra.pop("admin_matches", False):
            by_admin.add(pk)
        if deleted_at is not None and company_id:
            deleted_ids.add(company_id)
        if (deleted_at is not None) != (kind == "deleted"):
            continue
        if company_id:
            known_ids.add(company_id)
        known = on_server is not None and (
            company_id in on_server or not (created_at and created_at > server.fetched_at)
        )
        rows.append(
            TenantRow(
                name=name,
                company_id=company_id,
                tenant_id=pk,
                status=status,
                origin=origin,
                # a tenant created after the snapshot was read: the snapshot cannot tell
                on_server=company_id in on_server if known else None,
                **extra,
            )
        )
    if kind in ("all", "outside") and on_server is not None:
        for company in server.companies:
            if company["id"] in known_ids or company["id"] in deleted_ids:
                continue
            rows.append(
                TenantRow(
                    name=company["name"],
                    company_id=company["id"],
                    on_server=True,
                    platform=company["id"] == server.platform_id,
                )
            )
    if kind == "console":
        rows = [r for r in rows if not r.outside]
    elif kind == "outside":
        rows = [r for r in rows if r.outside]
    elif kind == "attention":
        rows = [r for r in rows if r.attention]
    if query:
        rows = [
            r
            for r in rows
            if wanted in fold(r.name) or wanted in r.company_id.lower() or r.tenant_id in by_admin
        ]
    sort_rows(rows, sort)
    return rows


def tenant_page(
    *,
    server: ServerCompanies,
    query: str = "",
    kind: str = "all",
    number=1,
    per_page=PER_PAGE,
    sort: str = "name",
    annotations: dict[str, Expression] | None = None,
) -> Page:
    rows = tenant_rows(server=server, query=query, kind=kind, sort=sort, annotations=annotations)
    page = Paginator(rows, per_page).get_page(number)
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
    for pk, email, *more in (
        Tenant.objects.filter(pk__in=list(shown))
        .annotate(**counts)
        .order_by("pk", "admins__id")
        .values_list("pk", "admins__email", *counts)
    ):
        row = shown[pk]
        if pk not in counted:
            counted.add(pk)
            for name, value in zip(counts, more, strict=True):
                setattr(row, name, value)
        if email is not None:
            row.admins.append(email)


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
