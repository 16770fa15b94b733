"""The inventory page's filters, read from the URL: each bad value is named, then ignored."""

from dataclasses import dataclass, field
from datetime import date

from django.utils.dateparse import parse_date

from console.snapshot.credentials import SORTS, USAGE

MAX_TENANT_FILTER = 200
MAX_DAYS = 36_500


@dataclass
class Filters:
    tenant: str = ""
    usage: str = "all"
    days: int | None = None
    created_before: date | None = None
    sort: str = "tenant"
    errors: list[str] = field(default_factory=list)

    def params(self) -> dict:
        """The filters as URL parameters (what links to other pages and sorts keep)."""
        values = {
            "tenant": self.tenant,
            "usage": self.usage,
            "days": "" if self.days is None else str(self.days),
            "created_before": self.created_before.isoformat() if self.created_before else "",
            "sort": self.sort,
        }
        return {k: v for k, v in values.items() if v}


def read_filters(query) -> Filters:
    found = Filters(tenant=query.get("tenant", "").strip()[:MAX_TENANT_FILTER])
    usage = query.get("usage", "all")
    if usage in USAGE:
        found.usage = usage
    else:
        found.errors.append(
            f"Usage {usage[:60]!r} is not one of: {', '.join(USAGE)}; showing all keys."
        )
    days = query.get("days", "").strip()
    if days:
        if days.isdigit() and 0 < int(days) <= MAX_DAYS:
            found.days = int(days)
        else:
            found.errors.append(
                f"Days {days[:60]!r}: give a whole number of days from 1 to {MAX_DAYS}."
            )
    if found.usage == "stale" and found.days is None:
        found.errors.append("Not used for N days: give the number of days; showing all keys.")
        found.usage = "all"
    before = query.get("created_before", "").strip()
    if before:
        try:
            found.created_before = parse_date(before)
        except ValueError:
            found.created_before = None
        if found.created_before is None:
            found.errors.append(
                f"Created before {before[:60]!r}: give a date as YYYY-MM-DD, e.g. 2026-01-31."
            )
    sort = query.get("sort", "tenant")
    found.sort = sort if sort.removeprefix("-") in SORTS else "tenant"
    return found
