"""Benchmark: streaming the audit log to a webhook receiver, and catching up after an outage.

    .venv/bin/python bench/audit_stream.py [--entries 100000] [--outage-seconds 60] [--rate 10]

Uses a fresh SQLite database in a temporary directory (or, with --database-url, the database it
names, which must be empty and migrated), a real HTTPS receiver process with a self-signed
certificate that checks every signature and fsyncs what it keeps (tests/audit_receiver.py).

1. Throughput: --entries entries appended with bulk_append, then one delivery run of a webhook
   sink from #1 to the head, in batches of 500: entries/s (target: 5,000/s).
2. Outage: `manage.py audit_sink deliver --loop` runs as the worker would; --rate entries/s are
   written (audit_record, one transaction each); the receiver is killed for --outage-seconds and
   restarted; prints the backlog at the restart and how long until the sink has delivered it.
   The catch-up time is the wait for the next attempt (at most the backoff cap, 15 s, whatever
   the outage's length) plus backlog / throughput: a 10-minute outage at 10 entries/s leaves
   6,000 entries, about 1.2 s at 5,000/s.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECRET = "bench-shared-secret-0123456789abcdef"


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["BENCH_SINK_KEY"] = SECRET
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    import django

    django.setup()


def throughput(entries: int, receiver, cert: Path) -> float:
    from changes.audit_sinks import audit_sink_add
    from console.audit.bulk import bulk_append
    from console.audit.sinks.delivery import deliver_sink

    started = time.perf_counter()
    bulk_append(
        {"actor": "bench", "action": "tenant.update", "target_id": str(i)} for i in range(entries)
    )
    print(f"appended {entries:,} entries in {time.perf_counter() - started:.1f} s")
    _, sink = audit_sink_add(
        name="bench",
        kind="webhook",
        url=f"https://127.0.0.1:{receiver.port}/audit",
        secret="env:BENCH_SINK_KEY",
        ca_file=str(cert),
        from_seq=1,
        actor="bench",
    )
    started = time.perf_counter()
    run = deliver_sink(sink, respect_backoff=False)
    elapsed = time.perf_counter() - started
    assert not run.error, run.error
    got = receiver.received()
    assert set(got) >= set(range(1, entries + 1)), "entries missing at the receiver"
    rate = run.sent / elapsed
    print(
        f"streamed {run.sent:,} entries in {run.batches} batches in {elapsed:.2f} s: "
        f"{rate:,.0f} entries/s"
    )
    return rate


def _writer(stop: threading.Event, rate: float, written: list) -> None:
    from django.db import connection

    from console.audit import audit_record

    while not stop.is_set():
        audit_record(actor="bench", action="tenant.update", target_type="tenant", target_id="x")
        written.append(time.monotonic())
        stop.wait(1 / rate)
    connection.close()


def _cursor_and_head() -> tuple[int, int]:
    from console.audit.sinks.models import AuditSink
    from console.audit.sinks.status import head_seq

    return AuditSink.objects.get(name="bench").last_delivered_seq, head_seq()


def outage(receiver, outage_seconds: float, rate: float) -> dict:
    env = {**os.environ}
    loop = subprocess.Popen(
        [sys.executable, "manage.py", "audit_sink", "deliver", "--loop"], cwd=ROOT, env=env
    )
    stop, written = threading.Event(), []
    writer = threading.Thread(target=_writer, args=(stop, rate, written), daemon=True)
    writer.start()
    try:
        time.sleep(5)
        receiver.kill()
        print(f"receiver down for {outage_seconds:.0f} s while {rate:g} entries/s are written …")
        time.sleep(outage_seconds)
        cursor, head = _cursor_and_head()
        receiver.start()
        restarted = time.monotonic()
        print(f"receiver back: backlog {head - cursor:,} entries (#{cursor + 1}..#{head})")
        lags = []
        while True:
            now_cursor, now_head = _cursor_and_head()
            lags.append(now_head - now_cursor)
            if now_cursor >= head:
                caught_up = time.monotonic() - restarted
                break
            if time.monotonic() - restarted > 120:
                caught_up = float("nan")
                break
            time.sleep(0.05)
        time.sleep(3)
        final_cursor, final_head = _cursor_and_head()
    finally:
        stop.set()
        writer.join(5)
        os.kill(loop.pid, signal.SIGTERM)
        loop.wait(10)
    print(
        f"backlog delivered {caught_up:.1f} s after the receiver came back; "
        f"3 s later the lag is {final_head - final_cursor} entries (new ones keep arriving)"
    )
    return {
        "backlog": head - cursor,
        "catch_up_s": caught_up,
        "median_lag": statistics.median(lags),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--outage-seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=10, help="entries/s during the outage")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="audit-stream-") as tmp:
        tmp_path = Path(tmp)
        url = args.database_url or f"sqlite:///{tmp_path / 'bench.sqlite3'}"
        setup_django(url)
        from django.core.management import call_command

        from tests.audit_receivers import Receiver, self_signed

        if not args.database_url:
            call_command("migrate", verbosity=0)
        cert, key = self_signed(tmp_path)
        receiver = Receiver(
            "webhook", tmp_path / "received", cert=cert, key=key, secret=SECRET
        ).start()
        try:
            rate = throughput(args.entries, receiver, cert)
            result = outage(receiver, args.outage_seconds, args.rate)
        finally:
            receiver.kill()
    print(
        f"\nsummary: {rate:,.0f} entries/s (target 5,000); outage {args.outage_seconds:.0f} s at "
        f"{args.rate:g}/s -> backlog {result['backlog']:,}, delivered {result['catch_up_s']:.1f} s "
        "after the receiver's return (target: within 30 s of a 10-minute outage)"
    )


if __name__ == "__main__":
    main()
