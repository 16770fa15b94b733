"""The archive's files: a segment `audit-<first>-<last>.jsonl.gz` (one entry per line, every
stored field and its hash) and its manifest `audit-<first>-<last>.manifest.json`, signed.

The manifest holds the first and last seq, the chain hash before the first entry
(`first_prev_hash`) and of the last (`last_hash`), the entry count, the SHA-256 of the .gz file,
when it was made, which key signed it, and `signature`: HMAC-SHA256 over the manifest's other
fields (sorted JSON) with AUDIT_ARCHIVE_KEY, or when unset a key derived from SECRET_KEY.
"""

import hashlib
import hmac
import json
from datetime import datetime

from django.conf import settings

from .chain import STORED_FIELDS, canonical_time

MANIFEST_VERSION = 1
ROW_FIELDS = (*STORED_FIELDS, "entry_hash")


def segment_name(first: int, last: int) -> str:
    return f"audit-{first}-{last}.jsonl.gz"


def manifest_name(first: int, last: int) -> str:
    return f"audit-{first}-{last}.manifest.json"


def archive_key() -> tuple[bytes, str]:
    """(key, the name of its source) for signing manifests."""
    if settings.AUDIT_ARCHIVE_KEY:
        return settings.AUDIT_ARCHIVE_KEY.encode(), "AUDIT_ARCHIVE_KEY"
    derived = hmac.new(settings.SECRET_KEY.encode(), b"console.audit.archive", hashlib.sha256)
    return derived.digest(), "SECRET_KEY"


def _signed_part(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(manifest: dict) -> dict:
    key, source = archive_key()
    manifest = {**manifest, "key": source, "version": MANIFEST_VERSION}
    manifest["signature"] = hmac.new(key, _signed_part(manifest), hashlib.sha256).hexdigest()
    return manifest


def signature_ok(manifest: dict) -> bool:
    key, _ = archive_key()
    expected = hmac.new(key, _signed_part(manifest), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, str(manifest.get("signature", "")))


def row_line(row: dict) -> bytes:
    """One archived entry: every stored field, the time as the hash sees it."""
    doc = {name: row[name] for name in ROW_FIELDS}
    doc["created_at"] = canonical_time(row["created_at"])
    return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode() + b"\n"


def row_from_line(line: bytes) -> dict:
    row = json.loads(line)
    row["created_at"] = datetime.fromisoformat(row["created_at"])
    return row
