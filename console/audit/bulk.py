"""Appending many audit entries at once (imports, the benchmark, tests of large logs).

The same preparation as `audit_record` (masking, scrubbing, the chain) under the same lock, but
written with PostgreSQL's COPY (or one executemany on SQLite) instead of one INSERT per entry.
It appends only: it cannot change or remove an entry.
"""

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import chain, islice

from django.db import connections, router, transaction
from django.utils import timezone

from .chain import STORED_FIELDS, compute_hash
from .models import AuditEntry
from .service import chain_head, lock_chain, next_link, prepare_fields

# Every hashed field plus the hash itself; rows are built by name, so the order is free.
COLUMNS = (*STORED_FIELDS, "entry_hash")
JSON_COLUMNS = frozenset({"before", "after", "changed_fields", "calls"})


# Rows prepared (masked, scrubbed, their search text made) before the chain lock is taken: the
# lock serialises every audit writer until the transaction ends, so it is held only for the
# chaining and the writing. Beyond this many, the rest are prepared under the lock as they are
# written (a million-entry import does not hold them all in memory).
PREPARED_BEFORE_LOCK = 1000


def _prepared(row: dict) -> tuple[dict, datetime]:
    row = dict(row)
    created_at: datetime = row.pop("created_at", None) or timezone.now()
    return prepare_fields(**row), created_at


def _chained(prepared: Iterable[tuple[dict, datetime]], head) -> Iterator[dict]:
    for fields, created_at in prepared:
        fields.update(next_link(head, created_at))
        fields["entry_hash"] = compute_hash(fields)
        head = (fields["seq"], fields["entry_hash"], fields["created_at"])
        yield fields


# json.dumps(value, ensure_ascii=False), without building an encoder for each of the four JSON
# columns of every row.
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def _json(value) -> str | None:
    return None if value is None else _ENCODE(value)


def bulk_append(
    rows: Iterable[dict], *, batch_size: int = 5000, savepoint: bool = True
) -> list[int]:
    """Append entries in order; each row holds `audit_record`'s keyword arguments, plus optional
    `created_at` and `request_id`. Returns the sequence numbers written, in order.

    `savepoint=False`: inside the caller's transaction, without a savepoint of its own (two
    statements fewer); a failure here then fails the caller's whole transaction, for a caller
    that lets it end that transaction anyway."""
    using = router.db_for_write(AuditEntry)
    connection = connections[using]
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    column_list = ", ".join(connection.ops.quote_name(c) for c in COLUMNS)
    written: list[int] = []
    rows = iter(rows)
    first = [_prepared(row) for row in islice(rows, PREPARED_BEFORE_LOCK)]
    with transaction.atomic(using=using, savepoint=savepoint):
        lock_chain(using)
        entries = _chained(chain(first, map(_prepared, rows)), chain_head(using))
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:  # noqa: S608
                    for fields in entries:
                        copy.write_row(
                            [_json(fields[c]) if c in JSON_COLUMNS else fields[c] for c in COLUMNS]
                        )
                        written.append(fields["seq"])
                return written
            placeholders = ", ".join(["%s"] * len(COLUMNS))
            sql = f"INSERT INTO {table} ({column_list}) VALUES ({placeholders})"  # noqa: S608
            batch = []
            for fields in entries:
                batch.append(
                    [
                        _json(fields[c])
                        if c in JSON_COLUMNS
                        else connection.ops.adapt_datetimefield_value(fields[c])
                        if c == "created_at"
                        else fields[c]
                        for c in COLUMNS
                    ]
                )
                written.append(fields["seq"])
                if len(batch) >= batch_size:
                    cursor.executemany(sql, batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
    return written
