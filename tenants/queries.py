"""Reads that several tenant pages share: the merged tenant list, a tenant's page data.

The Tenants page merges the apiserver's companies (one `system.get_companies` call, cached for
a few seconds) with what the console knows. It costs a fixed number of database queries whatever
the number of tenants: one for the console's tenants, one for the admins of the shown page, and
one more when searching by admin email.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page, Paginator

from console.apiserver import ApiError, client_from_settings
from tenants.models import Tenant, TenantAdmin
from tenants.provisioning.lookups import fold

COMPANIES_CACHE_SECONDS = 15
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
    companies: list[dict] = field(default_factory=list)
    error: str = ""
    configured: bool = True

    @property
    def ok(self) -> bool:
        return self.configured and not self.error


def _cache_key() -> str:
    return f"tenants:companies:{settings.CLEARML_API_URL}"


def server_companies(*, refresh: bool = False) -> ServerCompanies:
    """The apiserver's companies (id, name, defaults), from one read call cached briefly."""
    if not settings.CLEARML_API_URL:
        return ServerCompanies(configured=False, error="CLEARML_API_URL is not set")
    key = _cache_key()
    if not refresh:
        cached = cache.get(key)
        if cached is not None:
            return ServerCompanies(companies=cached)
    client = client_from_settings()
    try:
        data = client.call("system.get_companies", {"only_fields": ["id", "name", "defaults"]})
    except ApiError as exc:
        return ServerCompanies(error=str(exc))
    companies = [
        {"id": str(c["id"]), "name": str(c.get("name") or ""), "defaults": c.get("defaults") or {}}
        for c in data.get("companies") or []
        if isinstance(c, dict) and c.get("id")
    ]
    cache.set(key, companies, COMPANIES_CACHE_SECONDS)
    return ServerCompanies(companies=companies)


def forget_server_companies() -> None:
    cache.delete(_cache_key())


@dataclass
class TenantRow:
    name: str
    company_id: str
    tenant_id: int | None = None
    status: str = ""
    origin: str = ""
    on_server: bool | None = None  # None: the server could not be asked
    admins: list[str] = field(default_factory=list)

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
    tenants = Tenant.objects.all()
    tenants = (
        tenants.filter(deleted_at__isnull=False)
        if kind == "deleted"
        else tenants.filter(deleted_at__isnull=True)
    )
    rows: list[TenantRow] = []
    known_ids = set()
    for pk, name, company_id, status, origin in tenants.values_list(
        "pk", "name", "company_id", "status", "origin"
    ):
        if company_id:
            known_ids.add(company_id)
        rows.append(
            TenantRow(
                name=name,
                company_id=company_id,
                tenant_id=pk,
                status=status,
                origin=origin,
                on_server=None if on_server is None else company_id in on_server,
            )
        )
    if kind in ("all", "outside") and on_server is not None:
        deleted_ids = set()
        if kind == "all" or kind == "outside":
            # A company the console marked deleted but the server still lists is not "outside".
            deleted_ids = set(
                Tenant.objects.filter(deleted_at__isnull=False)
                .exclude(company_id="")
                .values_list("company_id", flat=True)
            )
        for company in server.companies:
            if company["id"] in known_ids or company["id"] in deleted_ids:
                continue
            rows.append(TenantRow(name=company["name"], company_id=company["id"], on_server=True))
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
