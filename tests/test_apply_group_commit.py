"""Concurrent runs commit their writes together (tenants/provisioning/engine.py, _GroupCommit):
what arrives while a commit is under way is committed in one transaction after it, each run
returns only once its writes are committed, and one run's failing write is not another's."""

import threading
import time

import pytest
from django.db import connection

from tenants.models import Tenant
from tenants.provisioning import engine

pytestmark = pytest.mark.django_db(transaction=True)


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
            committed[name] = Tenant.objects.filter(name=name).exists()
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
