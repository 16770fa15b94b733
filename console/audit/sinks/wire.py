"""An audit entry as every sink sends it: one JSON document per entry.

`seq`, `at`, `actor`, `action`, `target`, `changes`, `prev_hash`, `entry_hash`, plus `outcome`,
`error`, `request_id`, `changeset`, `outcome_of` and `calls`. Values are the stored ones, already
masked by the audit service: no secret reaches a sink. Receivers de-duplicate by `seq`; `seq` 0
is a test event ("Send test event"), which is not part of the chain.
"""

import json
from collections.abc import Iterable

from django.utils import timezone

from ..chain import ENTRY_FIELDS, canonical_time
from ..models import AuditEntry

TEST_ACTION = "audit_sink.test"


def wire_entry(row: dict) -> dict:
    """The document of one entry, from a `values(*ENTRY_FIELDS)` row."""
    return {
        "seq": row["seq"],
        "at": canonical_time(row["created_at"]),
        "actor": row["actor"],
        "action": row["action"],
        "target": {"type": row["target_type"], "id": row["target_id"], "name": row["target_repr"]},
        "changes": {
            "before": row["before"],
            "after": row["after"],
            "changed_fields": row["changed_fields"],
        },
        "outcome": row["outcome"],
        "error": row["error"],
        "request_id": row["request_id"],
        "changeset": row["changeset"],
        "outcome_of": row["outcome_of"],
        "calls": row["calls"],
        "prev_hash": row["prev_hash"],
        "entry_hash": row["entry_hash"],
    }


def entries_after(seq: int, limit: int) -> list[dict]:
    """Up to `limit` entries after `seq`, oldest first, as documents."""
    rows = AuditEntry.objects.filter(seq__gt=seq).order_by("seq").values(*ENTRY_FIELDS)[:limit]
    return [wire_entry(r) for r in rows]


def test_entry(sink_name: str, actor: str) -> dict:
    """A test event: seq 0, no hashes; receivers can tell it from the chain."""
    now = timezone.now()
    return {
        "seq": 0,
        "at": canonical_time(now),
        "actor": actor,
        "action": TEST_ACTION,
        "target": {"type": "audit_sink", "id": sink_name, "name": sink_name},
        "changes": {"before": None, "after": None, "changed_fields": []},
        "outcome": "success",
        "error": "",
        "request_id": "",
        "changeset": "",
        "outcome_of": None,
        "calls": [],
        "prev_hash": "",
        "entry_hash": "",
    }


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dumps_lines(entries: Iterable[dict]) -> str:
    return "".join(dumps(e) + "\n" for e in entries)
