"""Reads of changesets that pages, commands and (later) the API share."""

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.lookups import In

from console.audit.models import AuditEntry
from console.audit.queries import PAGE_SIZE as AUDIT_PAGE_SIZE
from console.prepared import Prepared, counted

from .models import Changeset, ChangeStep

PAGE_SIZE = 50
MAX_QUERY = 200


@dataclass
class ChangesetFilter:
    status: str = ""
    kind: str = ""
    requested_by: str = ""
    q: str = ""

    def as_query(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}


# The columns templates/jinja2/changes/rows.jinja shows (the JSON ones are not decoded for a list).
LIST_FIELDS = ("id", "created_at", "kind", "face", "summary", "requested_by", "source", "status")


def changeset_page(flt: ChangesetFilter, page: int = 1):
    """A page of changesets, newest first, each with its step counts.

    The counts are read for the page's changesets only, after paging: counting while paging
    would join and group every changeset's steps before the database could stop at a page."""
    if not flt.as_query():  # the page as opened
        shown = Paginator(_NEWEST_FIRST, PAGE_SIZE).get_page(page)
        return _with_step_counts(shown)
    rows = Changeset.objects.only(*LIST_FIELDS).order_by("-id")
    if flt.status:
        rows = rows.filter(status=flt.status)
    if flt.kind:
        rows = rows.filter(kind__startswith=flt.kind[:50])
    if flt.requested_by:
        rows = rows.filter(requested_by__iexact=flt.requested_by[:150])
    if flt.q:
        q = flt.q[:MAX_QUERY]
        match = Q(summary__icontains=q) | Q(steps__target__icontains=q)
        if q.isdigit():
            match |= Q(pk=int(q))
        rows = rows.filter(match).distinct()
    return _with_step_counts(Paginator(rows, PAGE_SIZE).get_page(page))


def _with_step_counts(shown):
    shown.object_list = list(shown.object_list)
    ids = [c.pk for c in shown.object_list]
    counts = {row["changeset"]: row for row in _STEP_COUNTS.fetch(ids=ids)}
    for changeset in shown.object_list:
        row = counts.get(changeset.pk, {})
        changeset.step_count = row.get("steps", 0)
        changeset.risky_count = row.get("risky", 0)
    return shown


# In(...) rather than changeset__in: a foreign key's own `in` lookup prepares each value as an
# id, which a prepared query's placeholder is not.
_STEP_COUNTS = Prepared(
    lambda ids: (
        ChangeStep.objects.filter(In(F("changeset_id"), ids))
        .order_by()
        .values("changeset")
        .annotate(steps=Count("id"), risky=Count("id", filter=Q(risky=True)))
    )
)


class _AllChangesets:
    """Every changeset, newest first, as the Paginator reads it (a count and a slice), through
    prepared queries: the Changes page as opened."""

    ordered = True

    def count(self) -> int:
        return (_CHANGESET_COUNT.fetch() or [0])[0]

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, part: slice) -> list[Changeset]:
        return _CHANGESET_SLICE.fetch({"start": part.start, "stop": part.stop})


_NEWEST_FIRST = _AllChangesets()
_CHANGESET_COUNT = Prepared(lambda: counted(Changeset.objects.all()))
_CHANGESET_SLICE = Prepared(
    lambda start, stop: Changeset.objects.only(*LIST_FIELDS).order_by("-id")[start:stop]
)


def changeset_entries(
    changeset: Changeset, fields: Sequence[str] = (), limit: int | None = None
) -> list[AuditEntry]:
    """The audit entries written while the changeset was planned and applied; with `fields`,
    only those columns are read (a page that shows a few skips decoding the JSON ones); with
    `limit`, the first that many."""
    entries = AuditEntry.objects.filter(changeset=changeset.audit_key).order_by("seq")
    entries = entries.only(*fields) if fields else entries
    return list(entries[:limit] if limit else entries)


@dataclass
class ChangesetPage:
    """What a changeset's page shows: a bounded number of its steps and entries, and counts."""

    steps: list
    step_count: int
    status_counts: dict[str, int]
    entries: list[AuditEntry]
    entry_count: int


def changeset_page_data(
    changeset: Changeset,
    *,
    entry_fields: Sequence[str],
    shown: int = 200,
    entries_shown: int = AUDIT_PAGE_SIZE,
) -> ChangesetPage:
    """A changeset of a SPEC with hundreds of tenants has thousands of steps and entries: the
    page shows the first `shown` steps and the first `entries_shown` entries (a page of the
    audit log, which has them all, filtered by the changeset; every call writes two), and says
    how many there are."""
    counts = dict(_STATUS_COUNTS.fetch(changeset=changeset.pk))
    # The first `entries_shown` entries and how many there are, in one query (the count is a window
    # over every entry of the changeset, computed before the limit).
    shape = {"fields": tuple(entry_fields), "size": entries_shown}
    entries = _FIRST_ENTRIES.fetch(shape, audit_key=changeset.audit_key)
    return ChangesetPage(
        steps=_FIRST_STEPS.fetch({"size": shown}, changeset=changeset.pk),
        step_count=sum(counts.values()),
        status_counts=counts,
        entries=entries,
        entry_count=entries[0].entry_total if entries else 0,
    )


# The changeset page's three reads, compiled once per process (console/prepared.py).
_STATUS_COUNTS = Prepared(
    lambda changeset: (
        ChangeStep.objects.filter(changeset=changeset)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
)
_FIRST_STEPS = Prepared(
    lambda size, changeset: ChangeStep.objects.filter(changeset=changeset).order_by("position")[
        :size
    ]
)


def _first_entries(fields: tuple[str, ...], size: int, audit_key) -> QuerySet:
    entries = AuditEntry.objects.filter(changeset=audit_key).order_by("seq")
    entries = entries.only(*fields) if fields else entries
    return entries.annotate(entry_total=Window(Count("pk")))[:size]


_FIRST_ENTRIES = Prepared(_first_entries)


def changeset_as_dict(changeset: Changeset) -> dict:
    """The changeset as `plan --json` and the API print it."""
    return {
        "id": changeset.pk,
        "hash": changeset.content_hash,
        "kind": changeset.kind,
        "status": changeset.status,
        "requested_by": changeset.requested_by,
        "approved_by": changeset.approved_by or None,
        "prune": changeset.prune,
        "notes": changeset.notes,
        "steps": [
            {
                "kind": s.kind,
                "target": s.target,
                "call": s.call,
                "risky": s.risky,
                "before": s.before,
                "after": s.after,
                "status": s.status,
            }
            for s in changeset.steps.all()
        ],
    }
