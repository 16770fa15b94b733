"""Reads of sign-in routing that several pages and services share."""

from dataclasses import dataclass

import idna
from django.db.models import Count, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from console.prepared import Prepared, counted
from sso.models import LoginDomain, RoutingPushJob, WhitelistEntry
from tenants.models import Tenant

from .validation import RoutingSet

MAP_PAGE_SIZE = 50


def tenant_routing(tenant: Tenant) -> RoutingSet:
    """The tenant's routing as the console holds it, each list in its stored order (two
    queries)."""
    domains = _DOMAINS_OF.fetch(tenant=tenant.pk)
    whitelist = dict(_WHITELIST_OF.fetch(tenant=tenant.pk))
    return RoutingSet.from_whitelist(tenant.name, domains, whitelist, path="login")


_DOMAINS_OF = Prepared(
    lambda tenant: (
        LoginDomain.objects.filter(tenant=tenant)
        .order_by("position", "id")
        .values_list("domain", flat=True)
    )
)
_WHITELIST_OF = Prepared(
    lambda tenant: (
        WhitelistEntry.objects.filter(tenant=tenant)
        .order_by("position", "id")
        .values_list("email", "is_admin")
    )
)


def tenants_routing(tenants) -> dict[int, RoutingSet]:
    """Each tenant's routing as the console holds it (lists in stored order), for many tenants
    in two queries."""
    tenants = list(tenants)
    domains: dict[int, list[str]] = {t.pk: [] for t in tenants}
    whitelists: dict[int, dict[str, bool]] = {t.pk: {} for t in tenants}
    ids = list(domains)
    rows = LoginDomain.objects.filter(tenant_id__in=ids).order_by("position", "id")
    for tenant_id, domain in rows.values_list("tenant_id", "domain"):
        domains[tenant_id].append(domain)
    rows = WhitelistEntry.objects.filter(tenant_id__in=ids).order_by("position", "id")
    for tenant_id, email, is_admin in rows.values_list("tenant_id", "email", "is_admin"):
        whitelists[tenant_id][email] = is_admin
    return {
        t.pk: RoutingSet.from_whitelist(t.name, domains[t.pk], whitelists[t.pk], path="login")
        for t in tenants
    }


def _count(model, **filters):
    rows = (
        model.objects.filter(tenant=OuterRef("pk"), **filters)
        .order_by()
        .values("tenant")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows[:1]), 0)


def routing_counts() -> dict:
    """Each tenant's sign-in routing counts as subqueries of a Tenant query (the Tenants page:
    tenants.queries.tenant_page's `annotations`): domains, the first domain, whitelisted
    emails. The first domain is the first of the tenant's list, in the admin's order."""
    first = LoginDomain.objects.filter(tenant=OuterRef("pk")).order_by("position", "id")
    return {
        "domain_count": _count(LoginDomain),
        "first_domain": Coalesce(Subquery(first.values("domain")[:1]), Value("")),
        "whitelist_count": _count(WhitelistEntry),
    }


def routing_rows() -> dict:
    """The rows `routing_counts` counts, as each one's tenant id: sorting by domains or the
    whitelist reads them once instead of a subquery per tenant (tests/test_tenant_list_sql_order.py
    checks the two agree)."""
    return {
        "domain_count": LoginDomain.objects.values_list("tenant_id", flat=True),
        "whitelist_count": WhitelistEntry.objects.values_list("tenant_id", flat=True),
    }


def routing_tenants() -> list[Tenant]:
    """Live tenants with their routing counts and last push status (one query)."""
    return _ROUTING_TENANTS.fetch()


def _routing_tenants():
    last_push = RoutingPushJob.objects.filter(tenant=OuterRef("pk")).order_by("-id")
    return (
        Tenant.objects.filter(deleted_at__isnull=True)
        .annotate(
            domain_count=_count(LoginDomain),
            admin_count=_count(WhitelistEntry, is_admin=True),
            user_count=_count(WhitelistEntry, is_admin=False),
            last_push_status=Subquery(last_push.values("status")[:1]),
            last_push_id=Subquery(last_push.values("id")[:1]),
        )
        .order_by("name")
    )


_ROUTING_TENANTS = Prepared(_routing_tenants)


def unicode_domain(domain: str) -> str:
    """The readable form of an IDNA domain (`xn--bcher-kva.example` -> `bücher.example`)."""
    if "xn--" not in domain:
        return ""
    try:
        return idna.decode(domain)
    except idna.IDNAError:
        return ""


def search_key(text: str) -> str:
    """What a search box's text looks like once stored: lower case, IDNA for non-ASCII parts."""
    text = (text or "").strip().lower()
    if text.isascii():
        return text
    local, at, domain = text.rpartition("@")
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return text
    return f"{local}{at}{domain}"


@dataclass
class MapRow:
    key: str
    kind: str  # domain | admin | user
    tenant_id: int
    tenant_name: str
    readable: str = ""


@dataclass
class MapPage:
    rows: list[MapRow]
    total: int
    page: int
    pages: int
    domain_total: int
    email_total: int


def routing_map(*, q: str = "", kind: str = "", tenant_id: int | None = None, page: int = 1):
    """Every domain and whitelisted email with its tenant, domains first, searchable, paged.

    Two counts and one slice, whatever the page.
    """
    key = search_key(q)
    shape = {"searched": bool(key), "one_tenant": bool(tenant_id), "kind": kind}
    values = {"key": key, "name": q.strip()} if key else {}
    values.update({"tenant_id": tenant_id} if tenant_id else {})
    domain_total = (_DOMAIN_TOTAL.fetch(shape, **values) or [0])[0]
    email_total = (_EMAIL_TOTAL.fetch(shape, **values) or [0])[0]
    total = domain_total + email_total
    pages = max(1, -(-total // MAP_PAGE_SIZE))
    page = min(max(1, page), pages)
    start, end = (page - 1) * MAP_PAGE_SIZE, page * MAP_PAGE_SIZE
    shown = _MAP_SLICE.fetch({**shape, "start": start, "end": end}, **values)
    rows: list[MapRow] = []
    for part, key, is_admin, tid, name in shown:
        if part == 0:
            rows.append(MapRow(key, "domain", tid, name, unicode_domain(key)))
            continue
        readable = unicode_domain(key.rsplit("@", 1)[-1])
        rows.append(
            MapRow(
                key,
                "admin" if is_admin else "user",
                tid,
                name,
                f"{key.rsplit('@', 1)[0]}@{readable}" if readable else "",
            )
        )
    return MapPage(rows, total, page, pages, domain_total, email_total)


def _map_lists(searched: bool, one_tenant: bool, kind: str, key="", name="", tenant_id=None):
    """The map's domains and whitelisted emails of live tenants, as the filters narrow them."""
    domains = LoginDomain.objects.filter(tenant__deleted_at__isnull=True)
    emails = WhitelistEntry.objects.filter(tenant__deleted_at__isnull=True)
    if searched:
        domains = domains.filter(Q(domain__contains=key) | Q(tenant__name__icontains=name))
        emails = emails.filter(Q(email__contains=key) | Q(tenant__name__icontains=name))
    if one_tenant:
        domains = domains.filter(tenant_id=tenant_id)
        emails = emails.filter(tenant_id=tenant_id)
    if kind == "domain":
        emails = emails.none()
    elif kind in ("admin", "user"):
        domains = domains.none()
        emails = emails.filter(is_admin=kind == "admin")
    return domains, emails


def _map_slice(start: int, end: int, **filters):
    """The page's slice in one query, whichever lists it spans: domains (part 0) by name, then
    emails (part 1) by address, as one list."""
    domains, emails = _map_lists(**filters)
    shown = (
        domains.order_by()
        .annotate(part=Value(0), key=F("domain"), admin=Value(False))
        .values_list("part", "key", "admin", "tenant_id", "tenant__name")
    )
    listed = (
        emails.order_by()
        .annotate(part=Value(1), key=F("email"))
        .values_list("part", "key", "is_admin", "tenant_id", "tenant__name")
    )
    return shown.union(listed, all=True).order_by("part", "key")[start:end]


# The map's two counts and its slice, compiled once per filter combination (console/prepared.py).
_DOMAIN_TOTAL = Prepared(lambda **filters: counted(_map_lists(**filters)[0]))
_EMAIL_TOTAL = Prepared(lambda **filters: counted(_map_lists(**filters)[1]))
_MAP_SLICE = Prepared(_map_slice)
