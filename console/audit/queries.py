"""Reading the audit log: the filters of the Audit page and exports, pages, a target's slice.

Pages are keyset-paginated by `seq` ("older than #N" / "newer than #N"), so a page costs the same
at entry 10 and at entry 1,000,000 and nothing counts all rows. Every filter is served by an
index that ends in `seq` (see the model's Meta); a date range is turned into a seq range first,
because entries' times never decrease along the chain.
"""

from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from console.prepared import Prepared

from .models import AuditEntry

PAGE_SIZE = 50
SEARCH_MIN_LENGTH = 1


@dataclass(frozen=True)
class AuditFilter:
    """The filters of the Audit page, its exports and `export_audit` (all optional)."""

    actor: str = ""
    action: str = ""
    target_type: str = ""
    target: str = ""
    outcome: str = ""
    since: date | datetime | None = None
    until: date | datetime | None = None
    q: str = ""
    request_id: str = ""
    changeset: str = ""

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    def as_query(self) -> dict[str, str]:
        """The GET parameters that reproduce this filter (for links and exports)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value:
                out[f.name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
        return out


def start_of(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    return timezone.make_aware(datetime.combine(value, time.min))


def end_of(value: date | datetime) -> datetime:
    """The first instant after `until`: a date includes the whole day."""
    if isinstance(value, datetime):
        return start_of(value)
    return start_of(value + timedelta(days=1))


def _seq_bounds(flt: AuditFilter) -> tuple[int | None, int | None]:
    """Turn the date range into (lowest seq, highest seq) with two index lookups."""
    low = high = None
    if flt.since:
        first = (
            AuditEntry.objects.filter(created_at__gte=start_of(flt.since))
            .order_by("created_at", "seq")
            .values_list("seq", flat=True)
            .first()
        )
        low = first if first is not None else -1  # nothing that recent: empty result
    if flt.until:
        last = (
            AuditEntry.objects.filter(created_at__lt=end_of(flt.until))
            .order_by("-created_at", "-seq")
            .values_list("seq", flat=True)
            .first()
        )
        high = last if last is not None else 0
    return low, high


def filtered(flt: AuditFilter) -> QuerySet:
    """Entries matching the filter (unordered)."""
    qs = AuditEntry.objects.all()
    if flt.actor:
        qs = qs.filter(actor=flt.actor.strip())
    if flt.action:
        action = flt.action.strip()
        if action.endswith("*"):
            qs = qs.filter(action__startswith=action.rstrip("*"))
        else:
            qs = qs.filter(action=action)
    if flt.target_type:
        qs = qs.filter(target_type=flt.target_type.strip())
    if flt.target:
        # An id when some entry has that id, else an exact name ignoring case. Deciding first
        # (one index probe) keeps each query on one index; an OR of both made PostgreSQL scan
        # the whole table newest-first.
        target = flt.target.strip()
        if AuditEntry.objects.filter(target_id=target).exists():
            qs = qs.filter(target_id=target)
        else:
            qs = qs.filter(target_repr__iexact=target)
    if flt.outcome:
        qs = qs.filter(outcome=flt.outcome)
    if flt.request_id:
        qs = qs.filter(request_id=flt.request_id.strip())
    if flt.changeset:
        qs = qs.filter(changeset=flt.changeset.strip())
    if flt.q and len(flt.q.strip()) >= SEARCH_MIN_LENGTH:
        qs = qs.filter(search_text__contains=flt.q.strip().lower())
    low, high = _seq_bounds(flt)
    if low is not None:
        qs = qs.filter(seq__gte=low) if low >= 0 else qs.none()
    if high is not None:
        qs = qs.filter(seq__lte=high)
    return qs


@dataclass
class AuditPage:
    entries: list[AuditEntry]
    older: int | None = None  # pass as ?before=N for the next older page
    newer: int | None = None  # pass as ?after=N for the next newer page
    is_first: bool = True
    filter_query: dict[str, str] = field(default_factory=dict)


def audit_page(
    flt: AuditFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
    fields: tuple[str, ...] = (),
) -> AuditPage:
    """One page of matching entries, newest first, older than `before` or newer than `after`;
    with `fields`, only those columns are read."""
    qs = filtered(flt)
    qs = qs.only(*fields) if fields else qs
    if after is not None:
        rows = list(qs.filter(seq__gt=after).order_by("seq")[: size + 1])
        if len(rows) <= size:
            # Back at the newest end: show the full first page rather than a short one.
            return audit_page(flt, size=size, fields=fields)
        has_newer = True
        rows = rows[:size][::-1]
        has_older = qs.filter(seq__lt=rows[-1].seq).exists()
        is_first = False
    else:
        if flt.is_empty():  # the page as opened: its query is compiled once per process
            shape = {"size": size + 1, "paged": before is not None, "fields": fields}
            rows = _NEWEST.fetch(shape, **({"before": before} if before is not None else {}))
        else:
            if before is not None:
                qs = qs.filter(seq__lt=before)
            rows = list(qs.order_by("-seq")[: size + 1])
        has_older = len(rows) > size
        rows = rows[:size]
        has_newer = before is not None and bool(rows)
        is_first = before is None
    return AuditPage(
        entries=rows,
        older=rows[-1].seq if rows and has_older else None,
        newer=rows[0].seq if rows and has_newer else None,
        is_first=is_first,
        filter_query=flt.as_query(),
    )


def _newest(size: int, paged: bool, fields: tuple[str, ...], before=None) -> QuerySet:
    entries = AuditEntry.objects.filter(seq__lt=before) if paged else AuditEntry.objects.all()
    entries = entries.only(*fields) if fields else entries
    return entries.order_by("-seq")[:size]


_NEWEST = Prepared(_newest)


def export_queryset(flt: AuditFilter) -> QuerySet:
    """Matching entries in chain order, oldest first, for exports."""
    return filtered(flt).order_by("seq")


# The columns templates/jinja2/audit/slice.jinja shows: a page passes them to audit_for_target so
# the entries' JSON (the change before and after, the calls) is not read and decoded for nothing.
SLICE_FIELDS = (
    "seq",
    "created_at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "changed_fields",
    "error",
)


# The columns the Audit page's rows show (templates/jinja2/audit/rows.jinja): the change's before
# and after, the search text and the hashes are not read for a list.
PAGE_FIELDS = (*SLICE_FIELDS, "target_repr", "calls")


def audit_for_target(
    target_type: str, target_id: str, limit: int = 20, *, fields: tuple[str, ...] = ()
) -> list[AuditEntry]:
    """The newest entries about one tenant, group, identity provider, ... (newest first); with
    `fields`, only those columns are read."""
    shape = {"fields": tuple(fields), "limit": limit}
    return _FOR_TARGET.fetch(shape, target_type=target_type, target_id=str(target_id))


def _for_target(fields: tuple[str, ...], limit: int, target_type, target_id) -> QuerySet:
    rows = AuditEntry.objects.filter(target_type=target_type, target_id=target_id)
    rows = rows.only(*fields) if fields else rows
    return rows.order_by("-seq")[:limit]


# Every object's page shows its slice: compiled once per set of columns and limit.
_FOR_TARGET = Prepared(_for_target)


_RECENT = Prepared(
    lambda limit: AuditEntry.objects.order_by("-seq").values_list("actor", "action", "target_type")[
        :limit
    ]
)


def recent_choices(limit: int = 1000) -> dict[str, list[str]]:
    """Actors, actions and target types of the newest entries, for the filters' suggestions.

    One index scan of `limit` rows: cheap at any size, unlike SELECT DISTINCT over the table.
    """
    recent = _RECENT.fetch({"limit": limit})
    return {
        "actors": sorted({r[0] for r in recent}),
        "actions": sorted({r[1] for r in recent}),
        "target_types": sorted({r[2] for r in recent if r[2]}),
    }
