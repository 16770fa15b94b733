"""Reads that several tenant pages share: the merged tenant list, a tenant's page data.

The Tenants page merges the apiserver's companies, as the last refresh read them (the snapshot,
console.snapshot; a page never calls the server), with what the console knows. It costs a
fixed number of database queries whatever the number of tenants: one for the snapshot's
companies, one for the console's tenants, one for the admins of the shown page, and one more
when searching by admin email.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.paginator import Page, Paginator

from console.snapshot import queries as snapshot
from console.snapshot.store import COMPANIES, SERVER, USERS
from tenants.models import Tenant, TenantAdmin
from tenants.provisioning.lookups import fold

PER_PAGE = 50
FILTERS = {
    "all": "All",
    "console": "Known to the console",
    "outside": "Created outside the console",
    "attention": "Needs attention",
    "deleted": "Deleted",
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
class TenantRow:
    name: str
    company_id: str
    tenant_id: int | None = None
    status: str = ""
    origin: str = ""
    on_server: bool | None = None  # None: the server could not be asked
    admins: list[str] = field(default_factory=list)
    platform: bool = False  # the company the console's own key belongs to: not a tenant

    @property
    def outside(self) -> bool:
        return self.tenant_id is None

    @property
    def attention(self) -> bool:
        return self.status in (Tenant.Status.FAILED, Tenant.Status.PLANNED) or (
            self.status == Tenant.Status.ACTIVE and self.on_server is False
        )


def tenant_rows(*, server: ServerCompanies, query: str = "", kind: str = "all") -> list[TenantRow]:
    """Console tenants and server companies as one list sorted by name (no admins yet)."""
    on_server = {c["id"]: c for c in server.companies} if server.ok else None
    rows: list[TenantRow] = []
    known_ids = set()
    # A company the console marked deleted but the server still lists is not "outside".
    deleted_ids = set()
    # One query for the shown tenants and the deleted ones' companies alike.
    for pk, name, company_id, status, origin, created_at, deleted_at in Tenant.objects.values_list(
        "pk", "name", "company_id", "status", "origin", "created_at", "deleted_at"
    ):
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
        wanted = fold(query)
        by_admin = set()
        if len(wanted) >= 3:
            by_admin = set(
                TenantAdmin.objects.filter(email__icontains=wanted).values_list(
                    "tenant_id", flat=True
                )
            )
        rows = [
            r
            for r in rows
            if wanted in fold(r.name) or wanted in r.company_id.lower() or r.tenant_id in by_admin
        ]
    rows.sort(key=lambda r: (fold(r.name), r.company_id))
    return rows


def tenant_page(
    *, server: ServerCompanies, query: str = "", kind: str = "all", number=1, per_page=PER_PAGE
) -> Page:
    page = Paginator(tenant_rows(server=server, query=query, kind=kind), per_page).get_page(number)
    ids = [r.tenant_id for r in page.object_list if r.tenant_id]
    admins: dict[int, list[str]] = {}
    if ids:
        for tenant_id, email in TenantAdmin.objects.filter(tenant_id__in=ids).values_list(
            "tenant_id", "email"
        ):
            admins.setdefault(tenant_id, []).append(email)
    for row in page.object_list:
        row.admins = admins.get(row.tenant_id, [])
    return page
