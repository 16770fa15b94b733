"""The hash chain: what an entry's hash covers, and how it is computed.

Each entry's `entry_hash` is SHA-256 over a canonical JSON document holding every stored field of
the entry (except the row id and the hash itself), including its `seq` and the previous entry's
hash, so changing any field, removing an entry or reordering entries breaks the chain.
"""

import hashlib
import json
from datetime import UTC, datetime

from .models import GENESIS_HASH

# Every stored field the hash covers, in a fixed order (the JSON is sorted anyway).
HASHED_FIELDS = (
    "seq",
    "prev_hash",
    "created_at",
    "request_id",
    "actor",
    "action",
    "target_type",
    "target_id",
    "target_repr",
    "outcome",
    "error",
    "before",
    "after",
    "changed_fields",
    "calls",
    "search_text",
)
# Fields added later: hashed only when set, so entries written before them verify unchanged.
OPTIONAL_HASHED_FIELDS = ("changeset", "outcome_of")
STORED_FIELDS = (*HASHED_FIELDS, *OPTIONAL_HASHED_FIELDS)
# What an entry shows outside the table (the API, the sinks): every stored field and its hash,
# without `search_text`, the index the audit page searches (derived from the others).
ENTRY_FIELDS = (*(name for name in STORED_FIELDS if name != "search_text"), "entry_hash")
HASH_VERSION = 1

__all__ = [
    "ENTRY_FIELDS",
    "GENESIS_HASH",
    "HASHED_FIELDS",
    "OPTIONAL_HASHED_FIELDS",
    "STORED_FIELDS",
    "canonical_time",
    "compute_hash",
]


def canonical_time(value: datetime) -> str:
    """The timestamp as the hash sees it: UTC, ISO 8601, microseconds."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(fields: dict) -> bytes:
    doc = {name: fields[name] for name in HASHED_FIELDS}
    for name in OPTIONAL_HASHED_FIELDS:
        if fields.get(name):
            doc[name] = fields[name]
    doc["created_at"] = canonical_time(doc["created_at"])
    doc["v"] = HASH_VERSION
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(fields: dict) -> str:
    """SHA-256 (hex) of an entry's stored fields; `fields` maps every name of HASHED_FIELDS (and
    of OPTIONAL_HASHED_FIELDS where set)."""
    return hashlib.sha256(canonical_json(fields)).hexdigest()
