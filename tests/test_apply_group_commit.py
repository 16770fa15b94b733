"""Concurrent runs commit their writes together (tenants/provisioning/engine.py, _GroupCommit):
what arrives while a commit is under way is committed in one transaction after it, each run
returns only once its writes are committed, and one run's failing write is not another's."""

import threading
import time

import pytest
from django.db import OperationalError, connection

from tenants.models import Tenant
from tenants.provisioning import engine

pytestmark = pytest.mark.django_db(transaction=True)


def _exists_once_unlocked(name: str) -> bool:
    """Whether the tenant row is there, read while the next group may be committing.

    The test database on SQLite is in memory with a shared cache, where a read of a table that
    another connection's open transaction has written fails at once with "table is locked"
    instead of waiting (a file database, as the console runs, waits). Only another run's
    transaction holds that lock, never this run's own write, so reading again once it is over
    still shows whether this run's write was committed when commit() returned."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return Tenant.objects.filter(name=name).exists()
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def test_runs_queued_behind_a_commit_are_committed_together_and_keep_their_own_outcome():
    group = engine._GroupCommit()
    under_way, go_on = threading.Event(), threading.Event()
    errors: dict[str, str] = {}
    committed: dict[str, bool] = {}

    def first():
        Tenant.objects.create(name="first")
        under_way.set()
        assert go_on.wait(10)

    def second():
        Tenant.objects.create(name="second")

    def failing():
        raise RuntimeError("this run's write failed")

    def run(name, writes):
        try:
            group.commit(writes, [])
        except RuntimeError as exc:
            errors[name] = str(exc)
        else:
            # Returned: its write is committed (another connection sees it).
            committed[name] = _exists_once_unlocked(name)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=("first", [first]))]
    threads[0].start()
    assert under_way.wait(10)
    threads += [
        threading.Thread(target=run, args=("second", [second])),
        threading.Thread(target=run, args=("bad", [failing])),
    ]
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 10
    while len(group._queue) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(group._queue) == 2  # both wait behind the commit under way
    go_on.set()
    for thread in threads:
        thread.join(10)
    assert committed == {"first": True, "second": True}
    assert errors == {"bad": "this run's write failed"}
    assert sorted(Tenant.objects.values_list("name", flat=True)) == ["first", "second"]


def test_an_audit_append_that_fails_takes_back_only_its_own_runs_writes(monkeypatch):
    """The runs' audit entries are appended inside their writes' transaction (no savepoint of
    their own): when one run's entry cannot be written, the group's transaction is rolled back
    and each run is committed again on its own, so the other run's writes and entry are kept."""
    from console.audit import bulk
    from console.audit.models import AuditEntry

    chain_hash = bulk.compute_hash

    def compute_hash(fields):  # fails under the chain lock, as a write would
        if fields["actor"] == "bad":
            raise RuntimeError("this entry cannot be written")
        return chain_hash(fields)

    monkeypatch.setattr(bulk, "compute_hash", compute_hash)
    entry = {"actor": "t", "action": "tenant.apply", "target_type": "tenant"}
    good = engine._Ticket([lambda: Tenant.objects.create(name="good")], [entry])
    bad = engine._Ticket([lambda: Tenant.objects.create(name="bad")], [{**entry, "actor": "bad"}])
    engine._GroupCommit._write([good, bad])
    assert good.error is None
    assert str(bad.error) == "this entry cannot be written"
    assert list(Tenant.objects.values_list("name", flat=True)) == ["good"]
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["tenant.apply"]
    # The connection is usable afterwards, with the chain intact.
    engine._write([lambda: Tenant.objects.create(name="after")], [entry])
    assert AuditEntry.objects.count() == 2
