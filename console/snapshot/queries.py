"""Reading the snapshot: what the apiserver held when the console last read it, and when.

Every page that shows server state reads it from here (a page view never calls the apiserver)
and says how old it is ("as of ...", templates/console/_snapshot_age.html).
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.timesince import timesince

from console.prepared import Prepared

from .models import ServerRead, ServerSnapshot
from .store import COMPANIES, ERROR_KEY, READ_NAME, ROUTING, SERVER, USERS


@dataclass
class SnapshotRow:
    """One row: the server's answer (None if it was never read), when, and the last failure."""

    kind: str
    key: str
    data: dict | None
    fetched_at: datetime | None
    error: str = ""
    error_at: str = ""

    @property
    def read(self) -> bool:
        return self.data is not None


@dataclass
class Companies:
    """The server's companies as last read; `fetched_at` None: never read."""

    companies: list[dict] = field(default_factory=list)
    fetched_at: datetime | None = None

    @property
    def read(self) -> bool:
        return self.fetched_at is not None


def _row(obj: ServerSnapshot) -> SnapshotRow:
    data = dict(obj.data) if isinstance(obj.data, dict) else {}
    note = data.pop(ERROR_KEY, None) or {}
    return SnapshotRow(
        kind=obj.kind,
        key=obj.key,
        # a row holding only a failure was never read
        data=data if data or not note else None,
        fetched_at=obj.fetched_at if data or not note else None,
        error=str(note.get("message") or ""),
        error_at=str(note.get("at") or ""),
    )


def row(kind: str, key: str = "") -> SnapshotRow | None:
    found = _ROW.fetch(kind=kind, key=key or "")
    return _row(found[0]) if found else None


_ROW = Prepared(
    lambda kind, key: ServerSnapshot.objects.filter(kind=kind, key=key).order_by("pk")[:1]
)


def rows(*wanted: tuple[str, str]) -> dict[tuple[str, str], SnapshotRow]:
    """Several rows in one query, by (kind, key); a row never written is absent."""
    keys: dict[str, set[str]] = {}
    for kind, key in wanted:
        keys.setdefault(kind, set()).add(key or "")
    # One `key IN (...)` per kind: a condition per row made building the query cost more than
    # running it (6 ms for the Tenants page's 50 routing rows).
    found = _ROWS.fetch(
        {"kinds": tuple(keys)}, **{f"keys{i}": sorted(k) for i, k in enumerate(keys.values())}
    )
    return {(obj.kind, obj.key): _row(obj) for obj in found}


def _rows_of(kinds: tuple[str, ...], **keys) -> QuerySet:
    match = Q(pk__in=[])
    for i, kind in enumerate(kinds):
        match |= Q(kind=kind, key__in=keys[f"keys{i}"])
    return ServerSnapshot.objects.filter(match)


_ROWS = Prepared(_rows_of)


def companies() -> Companies:
    """`system.get_companies` as last read: each company as a dict with at least id and name."""
    return companies_from(row(COMPANIES))


def companies_from(found: SnapshotRow | None) -> Companies:
    """`companies()` from the row already read (e.g. by `rows`, along with others)."""
    if found is None or found.data is None:
        return Companies()
    items = [c for c in found.data.get("companies") or [] if isinstance(c, dict) and c.get("id")]
    return Companies(companies=items, fetched_at=found.fetched_at)


def companies_fetched_at() -> datetime | None:
    """When the companies were last read, without loading them."""
    return (
        ServerSnapshot.objects.filter(kind=COMPANIES, key="")
        .values_list("fetched_at", flat=True)
        .first()
    )


def routing_of(company_id: str) -> SnapshotRow | None:
    """The company's `login.get_settings` answer as last read (None: never tried)."""
    return row(ROUTING, company_id) if company_id else None


def users_of(company_id: str) -> SnapshotRow | None:
    """The company's users (`users.get_all` by company) as last read (None: never tried)."""
    return row(USERS, company_id) if company_id else None


def server_info() -> SnapshotRow | None:
    """`server.info` as last read (version, whether it is the sandbox)."""
    return row(SERVER)


def platform_company_id(info: SnapshotRow | None = None) -> str:
    """The id of the company the console's own key belongs to (the platform), as last read
    (from `info`, the server row, when the caller has read it already)."""
    info = info if info is not None else server_info()
    company = (info.data or {}).get("platform_company") if info is not None else None
    return str((company or {}).get("id") or "")


def last_read() -> ServerRead | None:
    """The latest refresh (one row), or None when no refresh ever ran."""
    found = _LAST_READ.fetch()
    return found[0] if found else None


_LAST_READ = Prepared(lambda: ServerRead.objects.filter(name=READ_NAME).order_by("pk")[:1])


def age_text(at: datetime | None, now: datetime | None = None) -> str:
    """`as of 2025-01-31 14:03:12 UTC (5 minutes ago)`, or `never read from the apiserver`."""
    if at is None:
        return "never read from the apiserver"
    now = now or timezone.now()
    stamp = timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"as of {stamp} ({timesince(at, now)} ago)"
