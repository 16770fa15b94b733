"""Streaming the audit log to real receivers: an HTTPS webhook with a self-signed certificate
that checks every signature, and a TCP (and TLS) syslog receiver, each a process of its own.

Receivers are killed mid-stream while 10,000 entries are written; after the restart every entry
arrives, in order, at least once. A batch signed with another key is refused by the receiver.
"""

import json
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from changes.audit_sinks import audit_sink_add, audit_sink_replay, audit_sink_test
from console.audit.bulk import bulk_append
from console.audit.sinks import delivery, jsonl
from console.audit.sinks.models import AuditSink
from console.audit.sinks.status import sink_status
from tests.audit_receivers import Receiver, self_signed

pytestmark = pytest.mark.django_db

SECRET = "receiver-shared-secret-0123456789"


def write_entries(count: int) -> list[int]:
    rows = (
        {"actor": "bench", "action": "tenant.update", "target_type": "tenant", "target_id": str(i)}
        for i in range(count)
    )
    return bulk_append(rows)


def deliver_until_caught_up(sink: AuditSink, rounds: int = 50) -> None:
    for _ in range(rounds):
        delivery.deliver_sink(sink, respect_backoff=False)
        sink.refresh_from_db()
        if sink_status(sink).lag_entries == 0:
            return
    raise AssertionError(f"{sink.name} did not catch up: {sink.last_error}")


def assert_in_order_at_least_once(received: list[int], expected: range) -> None:
    assert set(expected) <= set(received)
    first_seen, seen = [], set()
    for seq in received:
        if seq not in seen:
            seen.add(seq)
            first_seen.append(seq)
    assert first_seen == sorted(first_seen), "entries arrived out of order"


@pytest.fixture
def cert(tmp_path):
    return self_signed(tmp_path)


@pytest.fixture
def receivers():
    started: list[Receiver] = []
    yield started
    for receiver in started:
        receiver.kill()


def add(name: str, kind: str, url: str, **options) -> AuditSink:
    _, sink = audit_sink_add(name=name, kind=kind, url=url, actor="admin", **options)
    return sink


def test_a_webhook_receiver_killed_mid_stream_gets_every_entry_in_order(
    tmp_path, cert, receivers, monkeypatch
):
    monkeypatch.setenv("SINK_KEY", SECRET)
    receiver = Receiver("webhook", tmp_path / "got", cert=cert[0], key=cert[1], secret=SECRET)
    receivers.append(receiver.start("--die-after", "2750"))
    url = f"https://127.0.0.1:{receiver.port}/audit"
    sink = add("siem", "webhook", url, secret="env:SINK_KEY", ca_file=str(cert[0]), from_seq=1)
    seqs = write_entries(10_000)

    run = delivery.deliver_sink(sink, respect_backoff=False)
    assert receiver.wait_exit() == 9  # it died inside a batch, without answering
    assert run.error and run.sent < 10_000
    sink.refresh_from_db()
    assert sink.failures == 1 and sink.last_error and sink.next_attempt_at
    stuck_at = sink.last_delivered_seq

    again = delivery.deliver_sink(sink, respect_backoff=False)  # the receiver is down
    sink.refresh_from_db()
    assert again.error and sink.failures == 2 and sink.last_delivered_seq == stuck_at
    assert delivery.deliver_sink(sink).waiting  # backing off, never given up

    receiver.start()
    deliver_until_caught_up(sink)
    assert_in_order_at_least_once(receiver.received(), range(1, seqs[-1] + 1))
    assert receiver.forged() == 0
    sink.refresh_from_db()
    assert sink.last_delivered_seq == seqs[-1] and sink.failures == 0 and not sink.last_error


def test_the_receiver_refuses_a_batch_signed_with_another_key(
    tmp_path, cert, receivers, monkeypatch
):
    monkeypatch.setenv("SINK_KEY", "not-the-receivers-key")
    receiver = Receiver("webhook", tmp_path / "got", cert=cert[0], key=cert[1], secret=SECRET)
    receivers.append(receiver.start())
    url = f"https://127.0.0.1:{receiver.port}/"
    sink = add("forged", "webhook", url, secret="env:SINK_KEY", ca_file=str(cert[0]))
    write_entries(3)

    run = delivery.deliver_sink(sink, respect_backoff=False)
    assert "HTTP 401" in run.error
    assert receiver.forged() == 1 and receiver.received() == []
    sink.refresh_from_db()
    assert sink_status(sink).lag_entries == 4  # its own creation and the 3: none delivered
    assert "not-the-receivers-key" not in sink.last_error


def test_an_untrusted_certificate_is_refused(tmp_path, cert, receivers, monkeypatch):
    monkeypatch.setenv("SINK_KEY", SECRET)
    receiver = Receiver("webhook", tmp_path / "got", cert=cert[0], key=cert[1], secret=SECRET)
    receivers.append(receiver.start())
    sink = add("no-ca", "webhook", f"https://127.0.0.1:{receiver.port}/", secret="env:SINK_KEY")
    write_entries(1)
    assert "SSLError" in delivery.deliver_sink(sink, respect_backoff=False).error
    assert receiver.received() == []


def test_a_syslog_receiver_killed_mid_stream_gets_every_entry_in_order(tmp_path, receivers):
    receiver = Receiver("syslog", tmp_path / "got")
    receivers.append(receiver.start("--die-after", "1250"))
    sink = add("syslog", "syslog", f"tcp://127.0.0.1:{receiver.port}", from_seq=1)
    seqs = write_entries(10_000)

    run = delivery.deliver_sink(sink, respect_backoff=False)
    receiver.wait_exit()
    assert run.error and run.sent < 10_000

    receiver.start()
    deliver_until_caught_up(sink)
    assert_in_order_at_least_once(receiver.received(), range(1, seqs[-1] + 1))


def test_syslog_over_tls_and_the_test_event(tmp_path, cert, receivers):
    receiver = Receiver("syslog", tmp_path / "got", cert=cert[0], key=cert[1])
    receivers.append(receiver.start())
    url = f"tls://127.0.0.1:{receiver.port}"
    sink = add("syslog-tls", "syslog", url, ca_file=str(cert[0]), from_seq=1)
    write_entries(20)
    deliver_until_caught_up(sink)
    assert receiver.received()[-1] == sink.last_delivered_seq

    assert audit_sink_test(name="syslog-tls", actor="admin") == ""
    assert receiver.received()[-1] == 0  # the test event: seq 0, not part of the chain


def test_replay_sends_again_from_a_sequence(tmp_path):
    path = tmp_path / "audit.jsonl"
    sink = add("file", "jsonl", str(path), from_seq=1)
    write_entries(10)
    deliver_until_caught_up(sink)
    first = sink.last_delivered_seq
    audit_sink_replay(name="file", from_seq=5, actor="admin")  # itself entry first + 1
    deliver_until_caught_up(sink)
    seqs = [json.loads(line)["seq"] for line in path.read_text().splitlines()]
    assert seqs == list(range(1, first + 1)) + list(range(5, first + 2))


def test_the_jsonl_file_is_rotated_and_each_line_is_an_entry(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "ROTATE_BYTES", 20_000)
    path = tmp_path / "audit.jsonl"
    sink = add("file", "jsonl", str(path), from_seq=1)
    write_entries(300)
    for _ in range(10):
        delivery.deliver_sink(sink, batch_size=25, respect_backoff=False)
    files = sorted(tmp_path.glob("audit.jsonl*"))
    assert path in files and len(files) == 1 + jsonl.KEEP  # the oldest were dropped
    lines = path.read_text().splitlines()
    entry = json.loads(lines[-1])
    assert set(entry) >= {"seq", "at", "actor", "action", "target", "changes", "entry_hash"}
    assert entry["seq"] == sink_status(AuditSink.objects.get()).sink.last_delivered_seq


def test_backoff_grows_with_jitter_and_is_capped():
    low = [delivery.backoff_seconds(n, rand=lambda: 0.0) for n in range(1, 12)]
    high = [delivery.backoff_seconds(n, rand=lambda: 1.0) for n in range(1, 12)]
    assert low[0] < low[1] < low[2]
    assert max(high) == delivery.BACKOFF_CAP and all(
        lo == hi / 2 for lo, hi in zip(low, high, strict=True)
    )


@pytest.mark.skipif(connection.vendor == "postgresql", reason="PostgreSQL locks the row instead")
def test_one_process_delivers_a_sink_and_a_dead_holders_lease_is_taken_back(tmp_path):
    sink = add("file", "jsonl", str(tmp_path / "a.jsonl"), from_seq=1)
    later = timezone.now() + timedelta(minutes=1)
    AuditSink.objects.update(lease_owner="another-host:4242", lease_until=later)
    assert delivery.deliver_sink(sink).busy  # another host's live lease: skipped

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    AuditSink.objects.update(lease_owner=f"{socket.gethostname()}:{dead.pid}")
    run = delivery.deliver_sink(sink)
    assert not run.busy and run.sent == 1  # this host's dead process: taken back at once
    assert AuditSink.objects.get().lease_owner == ""  # released after the run
