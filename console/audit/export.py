"""Exporting audit entries as CSV or JSON Lines, streamed row by row in constant memory."""

import csv
import json
from collections.abc import Iterator

from django.db.models import QuerySet

from .chain import canonical_time

EXPORT_FIELDS = (
    "seq",
    "created_at",
    "request_id",
    "actor",
    "action",
    "target_type",
    "target_id",
    "target_repr",
    "outcome",
    "error",
    "changed_fields",
    "before",
    "after",
    "calls",
    "changeset",
    "outcome_of",
    "prev_hash",
    "entry_hash",
)
JSON_FIELDS = frozenset({"changed_fields", "before", "after", "calls"})
FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "jsonl": ("application/x-ndjson; charset=utf-8", "jsonl"),
}
CHUNK_SIZE = 2000
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _rows(queryset: QuerySet) -> Iterator[dict]:
    for row in queryset.values(*EXPORT_FIELDS).iterator(chunk_size=CHUNK_SIZE):
        row["created_at"] = canonical_time(row["created_at"])
        yield row


class _Line:
    """A file-like object whose write() returns the text, for csv.writer in a generator."""

    def write(self, text: str) -> str:
        return text


def _csv_cell(name: str, value) -> str:
    if name in JSON_FIELDS and name != "changed_fields":
        return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
    if name == "changed_fields":
        text = "; ".join(value or [])  # keys of the caller's data: may start like a formula
    else:
        text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def iter_csv(queryset: QuerySet) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(EXPORT_FIELDS)
    for row in _rows(queryset):
        yield writer.writerow([_csv_cell(name, row[name]) for name in EXPORT_FIELDS])


def iter_jsonl(queryset: QuerySet) -> Iterator[str]:
    for row in _rows(queryset):
        yield json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"


def iter_export(queryset: QuerySet, fmt: str) -> Iterator[str]:
    if fmt == "csv":
        return iter_csv(queryset)
    if fmt == "jsonl":
        return iter_jsonl(queryset)
    raise ValueError(f"unknown export format {fmt!r}")
