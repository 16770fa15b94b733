"""Retention: 100,000 entries archived into signed segments; the live chain and the archives
verify, joined; a changed archive, a forged checkpoint and entries deleted by hand are caught;
archiving waits for sinks unless forced (and says so in the log)."""

import gzip
import hashlib
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from changes.audit_sinks import audit_sink_add, audit_sink_replay
from console.audit.archive import ArchiveRefused, archive_by_retention, archive_entries
from console.audit.archive_models import AuditArchive
from console.audit.archive_verify import verify_archives
from console.audit.bulk import bulk_append
from console.audit.models import AuditEntry
from console.audit.sinks.models import AuditSink
from console.audit.verify import verify_chain
from console.validation import InvalidInput

pytestmark = pytest.mark.django_db


def old_entries(count: int, days_ago: int = 100) -> list[int]:
    start = timezone.now() - timedelta(days=days_ago)
    rows = (
        {
            "actor": "admin",
            "action": "tenant.update",
            "target_type": "tenant",
            "target_id": str(i),
            "created_at": start + timedelta(milliseconds=i),
        }
        for i in range(count)
    )
    return bulk_append(rows)


def recent_entries(count: int) -> list[int]:
    return bulk_append({"actor": "admin", "action": "group.update"} for _ in range(count))


def test_archiving_100000_entries_keeps_the_live_chain_and_the_archives_verifiable(
    tmp_path, settings
):
    settings.AUDIT_RETENTION_DAYS = 30
    old = old_entries(100_000)
    recent_entries(10)

    result = archive_by_retention(actor="cli:ops", directory=tmp_path)

    assert result.count == 100_000 and len(result.segments) == 2
    assert not AuditEntry.objects.filter(seq__lte=old[-1]).exclude(action="audit.archive").exists()
    first_live = AuditEntry.objects.order_by("seq").first()
    assert first_live.seq == old[-1] + 1  # it carries the anchor: its prev_hash ends the archive
    assert first_live.prev_hash == AuditArchive.objects.order_by("-last_seq").first().last_hash
    report = verify_chain()
    assert report.intact, report.problem
    archives = verify_archives(tmp_path)
    assert archives.intact, archives.problems
    assert (archives.segments, archives.entries) == (2, 100_000)
    entry = AuditEntry.objects.filter(action="audit.archive").order_by("seq").first()
    assert entry.actor == "cli:ops" and entry.after["entry_count"] == 50_000

    # Tampering with an archived entry is caught (the file's hash, and its chain).
    segment = tmp_path / result.segments[0].file_name
    lines = gzip.decompress(segment.read_bytes()).splitlines()
    row = json.loads(lines[10])
    row["actor"] = "mallory"
    lines[10] = json.dumps(row, sort_keys=True).encode()
    segment.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    problems = verify_archives(tmp_path).problems
    assert problems and "SHA-256 differs" in problems[0]

    # Even with the manifest's SHA-256 rewritten, its signature no longer verifies.
    manifest_path = next(tmp_path.glob("audit-1-*.manifest.json"))
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = hashlib.sha256(segment.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    assert "signature does not verify" in verify_archives(tmp_path).problems[0]


def test_verify_audit_with_archives_exits_3_on_a_tampered_archive(tmp_path, settings, capsys):
    settings.AUDIT_RETENTION_DAYS = 30
    old_entries(300)
    recent_entries(3)
    call_command("audit_archive", "--dir", str(tmp_path))
    call_command("verify_audit", "--archives", str(tmp_path))
    assert "joined to the live chain" in capsys.readouterr().out

    segment = next(tmp_path.glob("*.jsonl.gz"))
    segment.write_bytes(segment.read_bytes()[:-20])
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_audit", "--archives", str(tmp_path))
    assert exit_info.value.code == 3
    assert "archive BROKEN" in capsys.readouterr().err


def test_entries_removed_by_hand_are_not_taken_for_an_archive(settings):
    old_entries(50)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            pytest.skip("the database refuses the delete itself (test_audit_append_only.py)")
        cursor.execute("DELETE FROM console_auditentry WHERE seq <= 10")
    report = verify_chain()
    assert not report.intact and "starts at #11, not #1" in report.problem.reason


def test_a_checkpoint_written_without_the_key_is_caught(tmp_path, settings):
    settings.AUDIT_RETENTION_DAYS = 30
    old_entries(100)
    recent_entries(1)
    archive_by_retention(actor="cli:ops", directory=tmp_path)
    settings.AUDIT_ARCHIVE_KEY = "another-key-than-the-archivers"
    report = verify_chain()
    assert not report.intact and "not signed by the archive key" in report.problem.reason


def test_archiving_waits_for_sinks_unless_forced(tmp_path, settings):
    settings.AUDIT_RETENTION_DAYS = 30
    old = old_entries(100)
    recent_entries(1)
    AuditSink.objects.create(
        name="siem", kind="jsonl", url=str(tmp_path / "x"), last_delivered_seq=40
    )
    with pytest.raises(ArchiveRefused, match=r"siem \(delivered #40\)"):
        archive_by_retention(actor="cli:ops", directory=tmp_path)
    assert AuditEntry.objects.filter(seq=1).exists()

    result = archive_by_retention(actor="cli:ops", directory=tmp_path, force=True)
    assert result.count == old[-1]
    entry = AuditEntry.objects.get(action="audit.archive")
    assert entry.after["forced_past_sinks"] == ["siem (delivered #40)"]


def test_nothing_is_archived_without_retention_or_before_its_age(tmp_path, settings):
    settings.AUDIT_RETENTION_DAYS = None
    old_entries(10, days_ago=5)
    assert archive_by_retention(actor="x", directory=tmp_path) is None
    settings.AUDIT_RETENTION_DAYS = 30
    assert archive_by_retention(actor="x", directory=tmp_path).count == 0
    assert AuditEntry.objects.count() == 10


def test_a_broken_chain_is_never_archived(tmp_path):
    old_entries(20)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            pytest.skip("the database refuses the change itself")
        cursor.execute("UPDATE console_auditentry SET actor = 'mallory' WHERE seq = 7")
    with pytest.raises(ArchiveRefused, match="#7 was altered"):
        archive_entries(through_seq=20, directory=tmp_path, actor="x")
    assert AuditEntry.objects.count() == 20 and not AuditArchive.objects.exists()


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="database triggers are PostgreSQL only"
)
def test_the_database_lets_only_archived_entries_be_deleted(tmp_path, settings):
    settings.AUDIT_RETENTION_DAYS = 30
    old_entries(20)
    recent_entries(5)
    archive_by_retention(actor="cli:ops", directory=tmp_path)  # 1..20 through the sanctioned path
    for statement in (
        "DELETE FROM console_auditentry WHERE seq = 22",  # no archive session flag
        "SELECT set_config('console.audit_archive', 'on', true); "
        "DELETE FROM console_auditentry WHERE seq = 22",  # the flag, but not archived
        "DELETE FROM console_auditarchive",
        "UPDATE console_auditarchive SET last_hash = 'x'",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEntry.objects.filter(seq=22).exists()


def test_a_retention_below_one_day_stops_the_start():
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "AUDIT_RETENTION_DAYS": "0"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "AUDIT_RETENTION_DAYS: 0 is not a number of days" in result.stderr


def test_a_sink_cannot_start_or_replay_inside_the_archive(tmp_path, settings):
    settings.AUDIT_RETENTION_DAYS = 30
    old = old_entries(50)
    recent_entries(2)
    archive_by_retention(actor="cli:ops", directory=tmp_path)
    url = str(tmp_path / "a.jsonl")
    with pytest.raises(InvalidInput, match=f"#1 is archived; the log holds #{old[-1] + 1} onwards"):
        audit_sink_add(name="late", kind="jsonl", url=url, from_seq=1, actor="admin")
    _, sink = audit_sink_add(name="late", kind="jsonl", url=url, from_seq=old[-1] + 1, actor="x")
    with pytest.raises(InvalidInput, match="is archived"):
        audit_sink_replay(name="late", from_seq=old[-1], actor="admin")
