"""Audit sinks through the pipeline: add, remove and replay are console-only changes
(`local_change`): the sink row, its audit entry and the changeset commit together.

Sending a test event changes nothing and is not a changeset; delivery moves only a sink's
cursor and is not audited (an entry per delivery would itself need delivering, forever).
"""

from console.audit.sinks.delivery import send_test_event
from console.audit.sinks.models import AuditSink
from console.audit.sinks.services import sink_by_name, sink_create, sink_delete, sink_replay
from console.audit.sinks.wire import test_entry

from .engine import local_change, local_change_replay
from .models import Changeset


def audit_sink_add(
    *,
    name: str,
    kind: str,
    url: str,
    secret: str = "",
    ca_file: str = "",
    from_seq: int | None = None,
    actor: str,
    face: str = "form",
) -> tuple[Changeset | None, AuditSink]:
    name, url, secret, ca_file = (v.strip() for v in (name, url, secret or "", ca_file or ""))
    return local_change(
        kind="audit_sink.create",
        summary=f"Add audit sink {name} ({kind})",
        actor=actor,
        face=face,
        desired={"name": name, "kind": kind, "url": url, "secret": secret, "ca_file": ca_file},
        write=lambda: sink_create(
            name=name,
            kind=kind,
            url=url,
            secret=secret,
            ca_file=ca_file,
            from_seq=from_seq,
            actor=actor,
        ),
    )


def audit_sink_remove(*, name: str, actor: str, face: str = "form") -> Changeset | None:
    sink = sink_by_name(name)
    changeset, _ = local_change(
        kind="audit_sink.delete",
        summary=f"Remove audit sink {sink.name}",
        actor=actor,
        face=face,
        desired={"name": sink.name},
        write=lambda: sink_delete(name=sink.name, actor=actor),
    )
    return changeset


def audit_sink_remove_approved(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """Apply an approved `audit_sink.delete` (removing a sink is risky: with CONSOLE_APPROVALS
    on it waits for a second admin), from `desired`."""
    name = (changeset.desired or {}).get("name", "")
    local_change_replay(changeset, actor=actor, write=lambda: sink_delete(name=name, actor=actor))
    return []


def audit_sink_replay(
    *, name: str, from_seq: int, actor: str, face: str = "form"
) -> Changeset | None:
    sink = sink_by_name(name)
    changeset, _ = local_change(
        kind="audit_sink.replay",
        summary=f"Replay audit sink {sink.name} from #{from_seq}",
        actor=actor,
        face=face,
        desired={"name": sink.name, "from": from_seq},
        write=lambda: sink_replay(name=sink.name, from_seq=from_seq, actor=actor),
    )
    return changeset


def audit_sink_test(*, name: str, actor: str) -> str:
    """Send a test event (seq 0, not part of the chain): "" when acknowledged, else the error."""
    sink = sink_by_name(name)
    return send_test_event(sink, test_entry(sink.name, actor))
