"""`manage.py audit_sink`: add/list/test/replay/remove through the pipeline (audited, with exit
codes), and `deliver --loop` killed with SIGKILL mid-delivery resuming from its cursor."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from changes.models import Changeset
from console.audit.models import AuditEntry
from console.audit.sinks.models import AuditSink
from tests.audit_receivers import Receiver, self_signed

ROOT = Path(__file__).resolve().parent.parent
SECRET = "receiver-shared-secret-0123456789"


@pytest.mark.django_db
def test_add_list_replay_remove_are_audited_changes(tmp_path, capsys):
    call_command("audit_sink", "add", "file", "--kind", "jsonl", "--url", str(tmp_path / "a.jsonl"))
    sink = AuditSink.objects.get(name="file")
    created = AuditEntry.objects.get(action="audit_sink.create")
    assert sink.last_delivered_seq == created.seq - 1  # starts after the newest entry
    assert Changeset.objects.get(kind="audit_sink.create").audit_key == created.changeset

    capsys.readouterr()
    call_command("audit_sink", "list", "--json")
    listed = json.loads(capsys.readouterr().out)
    assert listed == [
        {
            "name": "file",
            "kind": "jsonl",
            "url": str(tmp_path / "a.jsonl"),
            "last_delivered_seq": sink.last_delivered_seq,
            "lag_entries": 1,
            "lag_seconds": listed[0]["lag_seconds"],
            "last_error": "",
        }
    ]
    call_command("audit_sink", "deliver", "--once")
    call_command("audit_sink", "replay", "file", "--from", "1")
    replay = AuditEntry.objects.get(action="audit_sink.replay")
    assert replay.after["last_delivered_seq"] == 0 and replay.before["last_delivered_seq"] == 1
    call_command("audit_sink", "remove", "file")
    assert not AuditSink.objects.exists()
    assert AuditEntry.objects.filter(action="audit_sink.delete").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["add", "x y", "--kind", "jsonl", "--url", "/tmp/x.jsonl"], "name"),
        (["add", "w", "--kind", "webhook", "--url", "http://example.com/"], "url"),
        (["add", "w", "--kind", "webhook", "--url", "https://u:p@example.com/"], "url"),
        (["add", "w", "--kind", "webhook", "--url", "https://example.com/"], "secret"),
        (
            ["add", "w", "--kind", "webhook", "--url", "https://e.com/", "--secret", "s3cr3t"],
            "secret",
        ),
        (["add", "s", "--kind", "syslog", "--url", "udp://h:514"], "url"),
        (["add", "f", "--kind", "jsonl", "--url", "relative.jsonl"], "url"),
        (["add", "f", "--kind", "jsonl", "--url", "/no/such/dir/a.jsonl"], "url"),
        (["add", "f", "--kind", "jsonl", "--url", "/tmp/.bashrc"], "url"),
        (
            ["add", "s", "--kind", "syslog", "--url", "tls://h:6514", "--ca-file", "/nope"],
            "ca_file",
        ),
        (["add", "f", "--kind", "jsonl", "--url", "/tmp/a.jsonl", "--from", "0"], "from"),
        (["replay", "nope", "--from", "1"], "name"),
        (["remove", "nope"], "name"),
        (["test", "nope"], "name"),
    ],
)
def test_bad_input_exits_2_naming_the_field(args, field):
    with pytest.raises(CommandError) as error:
        call_command("audit_sink", *args)
    assert error.value.returncode == 2
    assert f"audit_sink: {field}: " in str(error.value)
    assert "s3cr3t" not in str(error.value)
    assert not AuditSink.objects.exists()


@pytest.mark.django_db
def test_a_test_event_to_a_receiver_that_is_down_exits_1(monkeypatch):
    monkeypatch.setenv("SINK_KEY", SECRET)
    call_command(
        "audit_sink", "add", "down", "--kind", "webhook", "--url", "http://127.0.0.1:9/",
        "--secret", "env:SINK_KEY",
    )  # fmt: skip
    with pytest.raises(CommandError) as error:
        call_command("audit_sink", "test", "down")
    assert error.value.returncode == 1 and "not acknowledged" in str(error.value)
    with pytest.raises(CommandError) as error:
        call_command("audit_sink", "deliver", "--once")
    assert error.value.returncode == 1
    assert AuditSink.objects.get().failures == 1  # recorded, not deactivated


def _manage(env: dict, *args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        **options,
    )


def _cursor(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT last_delivered_seq FROM console_auditsink").fetchone()[0]


def test_delivery_killed_with_sigkill_resumes_from_its_cursor(tmp_path):
    db = tmp_path / "console.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "SINK_KEY": SECRET}
    cert, key = self_signed(tmp_path)
    receiver = Receiver("webhook", tmp_path / "got", cert=cert, key=key, secret=SECRET)
    receiver.start("--delay-ms", "80")
    loop = None
    try:
        _manage(env, "migrate", "-v", "0")
        url = f"https://127.0.0.1:{receiver.port}/"
        _manage(env, "audit_sink", "add", "siem", "--kind", "webhook", "--url", url,
                "--secret", "env:SINK_KEY", "--ca-file", str(cert), "--from", "1")  # fmt: skip
        write = (
            "from console.audit.bulk import bulk_append; "
            "bulk_append({'actor': 'a', 'action': 'tenant.update'} for _ in range(10000))"
        )
        _manage(env, "shell", "-c", write)
        head = 10_001  # the sink's own creation, then 10,000

        loop = subprocess.Popen(
            [sys.executable, "manage.py", "audit_sink", "deliver", "--loop"], cwd=ROOT, env=env
        )
        receiver.wait_for(1_500)
        os.kill(loop.pid, signal.SIGKILL)
        loop.wait(10)
        cursor = _cursor(db)
        assert 0 < cursor < head, "killed mid-delivery"

        loop = subprocess.Popen(
            [sys.executable, "manage.py", "audit_sink", "deliver", "--loop"], cwd=ROOT, env=env
        )
        receiver.wait_for(head, timeout=60)
        deadline = time.monotonic() + 10
        while _cursor(db) < head and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _cursor(db) == head
        received = receiver.received()
        assert set(received) == set(range(1, head + 1))
        firsts = list(dict.fromkeys(received))
        assert firsts == sorted(firsts)
    finally:
        if loop and loop.poll() is None:
            os.kill(loop.pid, signal.SIGKILL)
            loop.wait(10)
        receiver.kill()
