"""Writing the snapshot: what a refresh read from the apiserver, and how the refresh went.

Only `changes.refresh` (a refresh) and the change pipeline (after it changed something on the
server) write here; pages only read, through `console.snapshot.queries`.

A row whose read failed keeps what was read before: the failure is noted in its data under
`ERROR_KEY` (message and time), and the row's `fetched_at` still says when its data was read.
"""

from collections.abc import Mapping
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .models import ServerRead, ServerSnapshot

READ_NAME = "apiserver"
ERROR_KEY = "_error"
BATCH = 500

# The kinds of rows (ServerSnapshot.kind).
SERVER = "server"  # key "": server.info (version, whether it is the sandbox)
COMPANIES = "companies"  # key "": {"companies": [...]} as system.get_companies answers
ROUTING = "routing"  # key: company id; login.get_settings {"domains", "whitelist"}
USERS = "users"  # key: company id; {"users": [...]} from users.get_all by company
# key: company id; each user's keys (auth.get_credentials impersonating them), never a secret
CREDENTIALS = "credentials"
# key: company id; the tenant's admin vaults as summaries (users.get_vaults), never the content
VAULTS = "vaults"


def snapshot_put(
    kind: str, key: str, data: dict, fetched_at: datetime | None = None
) -> ServerSnapshot:
    """Store what the server answered for (kind, key), replacing what was there."""
    row, _ = ServerSnapshot.objects.update_or_create(
        kind=kind,
        key=key or "",
        defaults={"data": data, "fetched_at": fetched_at or timezone.now()},
    )
    return row


def snapshot_put_many(
    kind: str, items: Mapping[str, dict], fetched_at: datetime | None = None
) -> int:
    """`snapshot_put` for many keys of one kind, a few statements whatever their number."""
    at = fetched_at or timezone.now()
    rows = [
        ServerSnapshot(kind=kind, key=key, data=data, fetched_at=at) for key, data in items.items()
    ]
    ServerSnapshot.objects.bulk_create(
        rows,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["kind", "key"],
        update_fields=["data", "fetched_at"],
    )
    return len(rows)


def snapshot_note_errors(kind: str, errors: Mapping[str, str], at: datetime | None = None) -> None:
    """Note that (kind, key) could not be read; the data read before stays, with its time.

    A key never read before gets a row that holds only the failure (`fetched_at`: when it failed).
    """
    if not errors:
        return
    at = at or timezone.now()
    note = {"message": "", "at": at.isoformat()}
    old = {row.key: row for row in ServerSnapshot.objects.filter(kind=kind, key__in=list(errors))}
    rows = []
    for key, message in errors.items():
        previous = old.get(key)
        data = (
            dict(previous.data) if previous is not None and isinstance(previous.data, dict) else {}
        )
        data[ERROR_KEY] = {**note, "message": message}
        fetched_at = previous.fetched_at if previous is not None else at
        rows.append(ServerSnapshot(kind=kind, key=key, data=data, fetched_at=fetched_at))
    ServerSnapshot.objects.bulk_create(
        rows,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["kind", "key"],
        update_fields=["data", "fetched_at"],
    )


def companies_upsert(company: dict) -> bool:
    """Add or replace one company in the companies row (after the console created or changed it).

    Does nothing when the companies were never read (returns False): a list holding only the
    console's own companies would say every other company is gone from the server. The row keeps
    its `fetched_at`: the other companies are still as of then.
    """
    return companies_upsert_many([company])


def companies_upsert_many(changed: list[dict]) -> bool:
    """companies_upsert for many companies in one write."""
    by_id = {str(c.get("id") or ""): c for c in changed if c.get("id")}
    if not by_id:
        return False
    with transaction.atomic():
        row = ServerSnapshot.objects.select_for_update().filter(kind=COMPANIES, key="").first()
        if row is None:
            return False
        data = dict(row.data) if isinstance(row.data, dict) else {}
        companies, old = [], {}
        for item in data.get("companies") or []:
            if isinstance(item, dict) and item.get("id") in by_id:
                old[item["id"]] = item
            else:
                companies.append(item)
        for company_id, company in by_id.items():
            companies.append({**old.get(company_id, {}), **company, "id": company_id})
        data["companies"] = companies
        row.data = data
        row.save(update_fields=["data"])
    return True


def read_started(at: datetime | None = None) -> ServerRead:
    """A refresh begins (the rest of the row still describes the previous one)."""
    row, _ = ServerRead.objects.update_or_create(
        name=READ_NAME, defaults={"started_at": at or timezone.now()}
    )
    return row


def read_finished(
    ok: bool, error: str = "", calls: int = 0, duration_ms: int = 0, at: datetime | None = None
) -> ServerRead:
    """A refresh ended: whether it read everything it set out to, and if not, why."""
    at = at or timezone.now()
    values = {
        "finished_at": at,
        "ok": bool(ok),
        "error": "" if ok else error,
        "calls": max(0, int(calls)),
        "duration_ms": max(0, int(duration_ms)),
    }
    if ok:
        values["last_success_at"] = at
    row, created = ServerRead.objects.update_or_create(name=READ_NAME, defaults=values)
    if created and row.started_at is None:
        row.started_at = at
        row.save(update_fields=["started_at"])
    return row
