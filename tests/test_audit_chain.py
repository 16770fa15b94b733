"""The hash chain and `manage.py verify_audit`: intact logs pass, any tampering is named."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from console.audit import AuditEntry, audit_record
from console.audit.chain import compute_hash
from console.audit.models import GENESIS_HASH

pytestmark = pytest.mark.django_db

EXIT_BROKEN = 3


def write(n: int) -> list[AuditEntry]:
    return [
        audit_record(
            actor="admin",
            action="tenant.update",
            target_type="tenant",
            target_id=f"c-{i}",
            target_repr=f"Tenant {i}",
            before={"allowed_users": i},
            after={"allowed_users": i + 1},
            calls=[{"endpoint": "system.update_company_settings", "status": 200, "trx": f"t{i}"}],
        )
        for i in range(1, n + 1)
    ]


def verify(*args) -> tuple[int, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, err.getvalue()
    return 0, out.getvalue()


def tamper(sql: str, params: tuple = ()) -> None:
    """Change the table behind the console's back, as someone with database access could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE console_auditentry DISABLE TRIGGER USER")
        cursor.execute(sql, params or None)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE console_auditentry ENABLE TRIGGER USER")


def test_each_entry_links_to_the_previous_ones_hash():
    entries = write(3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS_HASH
    assert entries[1].prev_hash == entries[0].entry_hash
    assert entries[2].prev_hash == entries[1].entry_hash
    assert len({e.entry_hash for e in entries}) == 3


def test_the_hash_covers_the_stored_fields_as_read_back():
    write(2)
    for row in AuditEntry.objects.values():
        assert compute_hash(row) == row["entry_hash"]


def test_an_intact_chain_verifies_with_exit_0():
    entries = write(5)
    code, out = verify()
    assert code == 0
    assert out.startswith("5 entries, chain intact")
    assert f"head #5 {entries[-1].entry_hash}" in out


def test_an_empty_log_verifies():
    assert verify() == (0, "0 entries, chain intact\n")


TAMPERING = {
    "actor": "UPDATE console_auditentry SET actor = 'mallory' WHERE seq = 3",
    "action": "UPDATE console_auditentry SET action = 'tenant.read' WHERE seq = 3",
    "target": "UPDATE console_auditentry SET target_repr = 'Other' WHERE seq = 3",
    "outcome": "UPDATE console_auditentry SET outcome = 'failure' WHERE seq = 3",
    "error": "UPDATE console_auditentry SET error = 'nothing happened' WHERE seq = 3",
    "time": "UPDATE console_auditentry SET created_at = '2001-01-01 00:00:00' WHERE seq = 3",
    "after": "UPDATE console_auditentry SET after = '{\"allowed_users\": 99}' WHERE seq = 3",
    "before": "UPDATE console_auditentry SET before = NULL WHERE seq = 3",
    "calls": "UPDATE console_auditentry SET calls = '[]' WHERE seq = 3",
    "changed_fields": "UPDATE console_auditentry SET changed_fields = '[]' WHERE seq = 3",
    "request_id": "UPDATE console_auditentry SET request_id = 'x' WHERE seq = 3",
    "search_text": "UPDATE console_auditentry SET search_text = 'x' WHERE seq = 3",
    "entry_hash": "UPDATE console_auditentry SET entry_hash = "
    "'1111111111111111111111111111111111111111111111111111111111111111' WHERE seq = 3",
}


@pytest.mark.parametrize("sql", TAMPERING.values(), ids=TAMPERING.keys())
def test_an_altered_field_is_detected_and_the_entry_named(sql):
    write(5)
    tamper(sql)
    code, err = verify()
    assert code == EXIT_BROKEN
    assert "audit chain BROKEN at entry #3" in err
    assert "hash mismatch: a stored field was altered" in err
    assert "(2 entries before it verified)" in err


def test_an_altered_prev_hash_is_detected():
    write(5)
    tamper(
        "UPDATE console_auditentry SET prev_hash = "
        "'2222222222222222222222222222222222222222222222222222222222222222' WHERE seq = 4"
    )
    code, err = verify()
    assert code == EXIT_BROKEN
    assert "entry #4" in err
    assert "prev_hash does not match the hash of #3" in err


def test_an_altered_entry_with_a_recomputed_hash_breaks_the_next_link():
    write(5)
    row = AuditEntry.objects.filter(seq=3).values().get()
    row["actor"] = "mallory"
    forged = compute_hash(row)
    tamper(
        "UPDATE console_auditentry SET actor = 'mallory', entry_hash = %s WHERE seq = 3", (forged,)
    )
    code, err = verify()
    assert code == EXIT_BROKEN
    assert "entry #4" in err
    assert "prev_hash does not match the hash of #3" in err


def test_a_removed_entry_is_detected():
    write(5)
    tamper("DELETE FROM console_auditentry WHERE seq = 3")
    code, err = verify()
    assert code == EXIT_BROKEN
    assert "entry #3: missing: the chain jumps from #2 to #4" in err


def test_a_removed_first_entry_is_detected():
    write(3)
    tamper("DELETE FROM console_auditentry WHERE seq = 1")
    code, err = verify()
    assert code == EXIT_BROKEN
    assert "entry #1: missing: the chain starts at #2, not #1" in err


def test_renumbered_entries_are_detected():
    write(4)
    tamper("UPDATE console_auditentry SET seq = 40 WHERE seq = 4")
    code, err = verify()
    assert code == EXIT_BROKEN
    assert "entry #4: missing: the chain jumps from #3 to #40" in err


def test_entries_removed_from_the_end_are_detected_with_an_anchor():
    entries = write(5)
    anchor = f"5:{entries[-1].entry_hash}"
    assert verify("--anchor", anchor)[0] == 0
    tamper("DELETE FROM console_auditentry WHERE seq >= 4")
    assert verify()[0] == 0  # a plain chain cannot see a cut tail: that is what anchors are for
    code, err = verify("--anchor", anchor)
    assert code == EXIT_BROKEN
    assert "entry #5: missing: the anchor is #5 but the log ends at #3" in err


def test_a_chain_rewritten_from_the_start_is_detected_with_an_anchor():
    entries = write(3)
    anchor = f"2:{entries[1].entry_hash}"
    # Rewrite entry 2 and everything after it with fresh, self-consistent hashes.
    prev = entries[0].entry_hash
    for seq in (2, 3):
        row = AuditEntry.objects.filter(seq=seq).values().get()
        row["actor"], row["prev_hash"] = "mallory", prev
        prev = compute_hash(row)
        tamper(
            "UPDATE console_auditentry SET actor = 'mallory', prev_hash = %s, entry_hash = %s "
            "WHERE seq = %s",
            (row["prev_hash"], prev, seq),
        )
    assert verify()[0] == 0
    code, err = verify("--anchor", anchor)
    assert code == EXIT_BROKEN
    assert "entry #2" in err and "hash differs from the anchor given" in err


@pytest.mark.parametrize("anchor", ["5", "x:abc", "5:" + "g" * 64, "5:abc"])
def test_an_unreadable_anchor_is_bad_input(anchor):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--anchor: expected SEQ:HASH") as failure:
        call_command("verify_audit", "--anchor", anchor)
    assert failure.value.returncode == 2


def test_a_time_never_sorts_behind_the_chain_head(monkeypatch):
    first = write(1)[0]
    earlier = first.created_at - timedelta(seconds=30)
    monkeypatch.setattr("console.audit.service.timezone.now", lambda: earlier)
    second = write(1)[0]
    assert second.created_at == first.created_at
    assert second.seq == first.seq + 1
    monkeypatch.undo()
    assert write(1)[0].created_at >= timezone.now() - timedelta(seconds=5)
    assert verify()[0] == 0


def test_a_large_log_written_in_bulk_verifies():
    from console.audit.bulk import bulk_append

    write(2)
    rows = (
        {
            "actor": "cli:bench",
            "action": "group.update",
            "target_type": "group",
            "target_id": str(i),
        }
        for i in range(3000)
    )
    assert len(bulk_append(rows, batch_size=500)) == 3000
    code, out = verify()
    assert code == 0
    assert out.startswith("3002 entries, chain intact")
