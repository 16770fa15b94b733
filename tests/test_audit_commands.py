"""`manage.py export_audit`: the audit log as CSV or JSON Lines on the command line."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from console.audit.bulk import bulk_append

pytestmark = pytest.mark.django_db

START = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def log():
    bulk_append(
        {
            "actor": "admin" if i % 2 else "cli:ops",
            "action": "tenant.update",
            "target_type": "tenant",
            "target_id": f"c-{i}",
            "after": {"n": i, "client_secret": "Lk4Jh7Gf2Ds9Aq1W"},
            "created_at": START + timedelta(days=i),
        }
        for i in range(10)
    )


def export(*args) -> str:
    out = io.StringIO()
    call_command("export_audit", *args, stdout=out)
    return out.getvalue()


def test_jsonl_holds_every_entry_oldest_first(log):
    lines = [json.loads(line) for line in export("--format", "jsonl").splitlines()]
    assert [e["seq"] for e in lines] == list(range(1, 11))
    assert lines[0]["after"] == {"n": 0, "client_secret": "•••• (set)"}
    assert all(len(e["entry_hash"]) == 64 for e in lines)


def test_csv_has_a_header_and_one_row_per_entry(log):
    rows = list(csv.DictReader(io.StringIO(export("--format", "csv"))))
    assert len(rows) == 10
    assert rows[3]["target_id"] == "c-3"
    assert rows[3]["created_at"] == "2025-01-04T09:00:00.000000+00:00"


@pytest.mark.parametrize(
    ("since", "first_seq", "count"),
    [
        ("2025-01-05", 5, 6),
        ("2025-01-05T10:00:00", 6, 5),
        ("2025-01-05T10:00:00+02:00", 5, 6),
        ("2024-01-01", 1, 10),
        ("2026-01-01", None, 0),
    ],
)
def test_since_keeps_entries_from_that_date_or_time(log, since, first_seq, count):
    lines = [json.loads(x) for x in export("--format", "jsonl", "--since", since).splitlines()]
    assert len(lines) == count
    if count:
        assert lines[0]["seq"] == first_seq


def test_since_and_until_and_filters_combine(log):
    text = export(
        "--format", "jsonl", "--since", "2025-01-03", "--until", "2025-01-08", "--actor", "admin"
    )
    assert [json.loads(x)["seq"] for x in text.splitlines()] == [4, 6, 8]


def test_the_secret_is_in_no_export(log):
    assert "Lk4Jh7Gf2Ds9Aq1W" not in export("--format", "csv")
    assert "Lk4Jh7Gf2Ds9Aq1W" not in export("--format", "jsonl")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last week"], "--since: 'last week' is not a date"),
        (["--since", "2025-13-01"], "--since: '2025-13-01' is not a date"),
        (["--until", "2025-01-01T25:00"], "--until: '2025-01-01T25:00' is not a date"),
        (["--since", "2025-02-01", "--until", "2025-01-01"], "--until: is before --since"),
    ],
)
def test_a_bad_date_is_bad_input(log, args, message):
    with pytest.raises(CommandError) as failure:
        call_command("export_audit", "--format", "csv", *args)
    assert message in str(failure.value)
    assert failure.value.returncode == 2


def test_the_format_is_required_and_checked():
    with pytest.raises(CommandError, match="--format"):
        call_command("export_audit")
    with pytest.raises(CommandError, match="invalid choice: 'xml'"):
        call_command("export_audit", "--format", "xml")
