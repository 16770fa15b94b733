"""Delivering the audit log to each sink: at least once, in order, one process per sink.

A run sends batches of the entries after the sink's cursor; the cursor moves only after the
receiver acknowledged a batch (a 2xx, a clean close of the syslog connection, an fsync), so a
crash at any point sends that batch again — receivers de-duplicate by `seq`. A failure sets
`next_attempt_at` by exponential backoff with jitter (capped at BACKOFF_CAP seconds) and never
disables the sink: a receiver that is down falls behind and catches up in order when it is back.

One delivery per sink at a time, across processes: on PostgreSQL each batch holds the sink's row
lock (`SELECT … FOR UPDATE SKIP LOCKED`; another process skips the sink, and a killed process's
lock dies with its connection); elsewhere (SQLite, where a transaction would lock the whole
database during the send) a lease row field `host:pid`, taken back at once from a process of this
host that no longer runs, or after LEASE seconds from another host.
"""

import os
import random
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from . import jsonl, syslog, webhook
from .errors import DeliveryFailed
from .models import AuditSink
from .wire import entries_after

BATCH = 1000
BACKOFF_BASE = 1.0
# Low enough that a sink catches up within ~30 s of its receiver's return; a receiver that is
# down sees one attempt every 7.5-15 s.
BACKOFF_CAP = 15.0
LEASE = timedelta(seconds=120)

TRANSPORTS: dict[str, Callable[[AuditSink, list[dict]], None]] = {
    AuditSink.Kind.WEBHOOK: webhook.send,
    AuditSink.Kind.SYSLOG: syslog.send,
    AuditSink.Kind.JSONL: jsonl.send,
}


@dataclass
class SinkRun:
    name: str
    sent: int = 0
    batches: int = 0
    error: str = ""
    busy: bool = False  # another process delivers it now
    waiting: bool = False  # backing off after a failure

    def __str__(self) -> str:
        if self.busy:
            return f"{self.name}: delivered by another process"
        if self.waiting:
            return f"{self.name}: backing off after a failure"
        result = f"{self.name}: {self.sent} entries in {self.batches} batches"
        return result + (f"; failed: {self.error}" if self.error else "")


def backoff_seconds(failures: int, rand: Callable[[], float] = random.random) -> float:
    """Exponential, capped, with jitter in the upper half (so retries of many sinks spread)."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(failures - 1, 0))
    return ceiling / 2 + rand() * ceiling / 2


def send_batch(sink: AuditSink, entries: list[dict]) -> None:
    """Send entries to the sink; returns once acknowledged, else raises DeliveryFailed."""
    TRANSPORTS[sink.kind](sink, entries)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_here(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _take_lease(sink_id: int, me: str) -> bool:
    now = timezone.now()
    free = Q(lease_owner="") | Q(lease_until__lt=now) | Q(lease_owner=me)
    rows = AuditSink.objects.filter(pk=sink_id)
    if rows.filter(free).update(lease_owner=me, lease_until=now + LEASE):
        return True
    holder = rows.values_list("lease_owner", flat=True).first()
    if holder and _dead_here(holder):
        return bool(rows.filter(lease_owner=holder).update(lease_owner=me, lease_until=now + LEASE))
    return False


@contextmanager
def _leased(sink_id: int) -> Iterator[bool]:
    me = _owner()
    if not _take_lease(sink_id, me):
        yield False
        return
    try:
        yield True
    finally:
        mine = AuditSink.objects.filter(pk=sink_id, lease_owner=me)
        mine.update(lease_owner="", lease_until=None)


def _record_failure(sink: AuditSink, error: str) -> None:
    now = timezone.now()
    failures = sink.failures + 1
    AuditSink.objects.filter(pk=sink.pk).update(
        failures=failures,
        last_error=error[:2000],
        last_error_at=now,
        next_attempt_at=now + timedelta(seconds=backoff_seconds(failures)),
    )


def _advance(sink: AuditSink, cursor: int, new_cursor: int) -> bool:
    """Move the cursor, unless a replay moved it meanwhile (the batch then counts for nothing)."""
    return bool(
        AuditSink.objects.filter(pk=sink.pk, last_delivered_seq=cursor).update(
            last_delivered_seq=new_cursor,
            last_success_at=timezone.now(),
            failures=0,
            last_error="",
            next_attempt_at=None,
        )
    )


class _Batches:
    """Reads the next batch while the current one is on its way (sending runs in a second
    thread, which never touches the database), so reading and sending overlap."""

    def __init__(self, size: int, sender: ThreadPoolExecutor):
        self.size, self.sender = size, sender
        self.ahead: tuple[int, list[dict]] | None = None

    def after(self, seq: int) -> list[dict]:
        ahead, self.ahead = self.ahead, None
        if ahead and ahead[0] == seq:
            return ahead[1]
        return entries_after(seq, self.size)

    def read_ahead(self, seq: int) -> None:
        self.ahead = (seq, entries_after(seq, self.size))


def _one_batch(sink: AuditSink, run: SinkRun, batches: _Batches) -> bool:
    """Send the next batch; True when there may be more to send."""
    cursor = sink.last_delivered_seq
    entries = batches.after(cursor)
    if not entries:
        return False
    sending = batches.sender.submit(send_batch, sink, entries)
    full = len(entries) == batches.size
    if full:
        batches.read_ahead(entries[-1]["seq"])
    try:
        sending.result()
    except DeliveryFailed as exc:
        run.error = str(exc)
        _record_failure(sink, run.error)
        return False
    if not _advance(sink, cursor, entries[-1]["seq"]):
        return False
    run.sent += len(entries)
    run.batches += 1
    return full


def _due(sink: AuditSink) -> bool:
    return sink.next_attempt_at is None or sink.next_attempt_at <= timezone.now()


def _deliver_locked_rows(sink_id: int, run: SinkRun, batches: _Batches, stop, respect_backoff):
    """PostgreSQL: each batch under the sink's row lock."""
    while True:
        with transaction.atomic():
            sink = AuditSink.objects.select_for_update(skip_locked=True).filter(pk=sink_id).first()
            if sink is None:
                run.busy = run.batches == 0
                return
            if respect_backoff and not _due(sink):
                run.waiting = True
                return
            more = _one_batch(sink, run, batches)
        if not more or stop():
            return


def _deliver_leased(sink_id: int, run: SinkRun, batches: _Batches, stop, respect_backoff):
    with _leased(sink_id) as held:
        if not held:
            run.busy = True
            return
        while True:
            sink = AuditSink.objects.filter(pk=sink_id).first()
            if sink is None:
                return
            if respect_backoff and not _due(sink):
                run.waiting = True
                return
            if not _one_batch(sink, run, batches) or stop():
                return


def deliver_sink(
    sink: AuditSink,
    *,
    batch_size: int = BATCH,
    deadline: float | None = None,
    respect_backoff: bool = True,
) -> SinkRun:
    """Deliver the sink's backlog (until caught up, a failure, or `deadline`, a monotonic time)."""
    run = SinkRun(sink.name)

    def stop() -> bool:
        return deadline is not None and time.monotonic() >= deadline

    deliver = _deliver_locked_rows if connection.vendor == "postgresql" else _deliver_leased
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sink-{sink.pk}") as sender:
        deliver(sink.pk, run, _Batches(batch_size, sender), stop, respect_backoff)
    return run


def deliver_all(
    *, budget_seconds: float | None = None, respect_backoff: bool = True
) -> list[SinkRun]:
    """One turn over every sink (those backing off are skipped when `respect_backoff`)."""
    deadline = time.monotonic() + budget_seconds if budget_seconds else None
    return [
        deliver_sink(sink, deadline=deadline, respect_backoff=respect_backoff)
        for sink in AuditSink.objects.order_by("name")
    ]


def send_test_event(sink: AuditSink, entry: dict) -> str:
    """Send one test event (not part of the chain); "" when acknowledged, else the error."""
    try:
        send_batch(sink, [entry])
    except DeliveryFailed as exc:
        return str(exc)
    return ""
