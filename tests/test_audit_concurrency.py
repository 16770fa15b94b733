"""Concurrent writers on PostgreSQL: the chain never forks and seq has no gap or duplicate."""

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction

from console.audit import AuditEntry, audit_record
from console.audit.verify import verify_chain

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
    ),
]

THREADS = 8
PER_THREAD = 25


def run_threads(target, count: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def runner(n: int) -> None:
        try:
            target(n)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_concurrent_writers_build_one_unforked_chain():
    start = threading.Barrier(THREADS)

    def writer(n: int) -> None:
        start.wait()
        for i in range(PER_THREAD):
            # Half the writes run inside a caller's transaction, as services do.
            if i % 2:
                with transaction.atomic():
                    audit_record(
                        actor=f"writer-{n}",
                        action="tenant.update",
                        target_type="tenant",
                        target_id=f"{n}-{i}",
                    )
            else:
                audit_record(
                    actor=f"writer-{n}",
                    action="group.update",
                    target_type="group",
                    target_id=f"{n}-{i}",
                )

    assert run_threads(writer, THREADS) == []
    total = THREADS * PER_THREAD
    rows = list(AuditEntry.objects.order_by("seq").values_list("seq", "prev_hash", "created_at"))
    assert [r[0] for r in rows] == list(range(1, total + 1))
    assert len({r[1] for r in rows}) == total  # no two entries claim the same predecessor
    times = [r[2] for r in rows]
    assert times == sorted(times)  # no entry sorts behind the head it was chained to
    report = verify_chain()
    assert report.intact, report.problem
    assert report.count == total


def test_without_the_lock_the_database_refuses_a_fork_instead_of_storing_it(monkeypatch):
    """Two writers that both read the same head: the unique constraints stop the second."""
    import console.audit.service as service

    audit_record(actor="admin", action="tenant.create", target_type="tenant")
    both_read = threading.Barrier(2)
    real_head = service.chain_head

    def head_then_wait(using):
        head = real_head(using)
        both_read.wait(timeout=30)
        return head

    monkeypatch.setattr(service, "lock_chain", lambda using: None)
    monkeypatch.setattr(service, "chain_head", head_then_wait)

    def writer(n: int) -> None:
        audit_record(actor=f"writer-{n}", action="tenant.update", target_type="tenant")

    errors = run_threads(writer, 2)
    assert len(errors) == 1 and isinstance(errors[0], IntegrityError)
    monkeypatch.undo()
    assert AuditEntry.objects.count() == 2
    assert verify_chain().intact
