"""What `plan` reads of the server: the snapshot when it is fresh, the apiserver otherwise.

A refresh (`manage.py refresh_server_state`, the Refresh button, the worker) stores what the
server held: its companies, each tenant's users and sign-in routing. When the last refresh
succeeded less than CONSOLE_REFRESH_MINUTES ago and holds a row for everything a plan needs,
`plan` reads those rows and makes no call at all. `apply` always reads the server itself before
it sends anything, so a stale snapshot can make a plan out of date, never a change wrong.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from console.snapshot import queries as snapshot
from console.snapshot.models import ServerSnapshot
from console.snapshot.store import ERROR_KEY, ROUTING, USERS


@dataclass
class SnapshotReads:
    """The server as last refreshed: companies, users and routing by company id."""

    as_of: datetime
    companies: list[dict]
    users: dict[str, list[dict]] = field(default_factory=dict)
    routing: dict[str, dict] = field(default_factory=dict)


def fresh_snapshot(max_age: timedelta | None = None) -> SnapshotReads | None:
    """The snapshot, if the last refresh succeeded within `max_age`; else None (read live)."""
    max_age = max_age or timedelta(minutes=settings.CONSOLE_REFRESH_MINUTES)
    last = snapshot.last_read()
    if last is None or not last.ok or last.last_success_at is None:
        return None
    if timezone.now() - last.last_success_at > max_age:
        return None
    companies = snapshot.companies()
    if not companies.read:
        return None
    reads = SnapshotReads(as_of=last.last_success_at, companies=companies.companies)
    rows = ServerSnapshot.objects.filter(kind__in=[USERS, ROUTING]).values_list(
        "kind", "key", "data"
    )
    for kind, key, data in rows:
        if not isinstance(data, dict) or ERROR_KEY in data:
            continue  # this row's last read failed: a plan that needs it reads the server
        if kind == USERS:
            reads.users[key] = [u for u in data.get("users") or [] if isinstance(u, dict)]
        else:
            reads.routing[key] = data
    return reads
