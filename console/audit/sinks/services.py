"""The domain writes of sinks: add, remove, replay — each writes its row and its audit entry.

Called only through the change pipeline (changes/audit_sinks.py), inside its transaction.
Input is checked here, once, for the page and the command: InvalidInput names each bad field.
"""

import re
from pathlib import Path
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from console.audit.service import audit_record
from console.secret_ref import env_reference
from console.snippets.encoding import ENV_NAME
from console.validation import ErrorCollector, FieldError, InvalidInput, shown

from ..models import AuditEntry
from . import syslog
from .models import AuditSink
from .status import head_seq

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
NAME_RULE = "use 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
JSONL_SUFFIXES = (".jsonl", ".log")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
TARGET_TYPE = "audit_sink"


def config_view(sink: AuditSink) -> dict:
    """A sink's configuration as the audit log records it (its secret only as `env:NAME`)."""
    return {
        "name": sink.name,
        "kind": sink.kind,
        "url": sink.url,
        "secret_ref": sink.secret_ref,
        "ca_file": sink.ca_file,
    }


def audit_view(sink: AuditSink) -> dict:
    """The configuration and the cursor."""
    return {**config_view(sink), "last_delivered_seq": sink.last_delivered_seq}


def _check_url(kind: str, url: str, errors: ErrorCollector) -> None:
    if not url:
        errors.add("url", "is required: https://…, tcp://host:port, tls://host:port or a path")
        return
    if kind == AuditSink.Kind.WEBHOOK:
        parts = urlsplit(url)
        if parts.username or parts.password:
            errors.add("url", f"{shown(url)} holds credentials: sign with a secret instead")
        elif parts.scheme == "https" and parts.hostname:
            return
        elif parts.scheme == "http" and parts.hostname in LOOPBACK:
            return  # a receiver on this host (tests, a local forwarder)
        else:
            errors.add("url", f"{shown(url)} is not an https:// URL (http:// only to 127.0.0.1)")
    elif kind == AuditSink.Kind.SYSLOG:
        try:
            syslog.address(url)
        except ValueError as exc:
            errors.add("url", f"{shown(url)} {exc}")
    elif kind == AuditSink.Kind.JSONL:
        path = Path(url)
        if not path.is_absolute():
            errors.add("url", f"{shown(url)} is not an absolute file path")
        elif not _looks_up(path.parent, Path.is_dir):
            errors.add("url", f"the directory of {shown(url)} does not exist: create it first")
        elif _looks_up(path, Path.is_dir):
            errors.add("url", f"{shown(url)} is a directory: give a file path")
        elif path.suffix not in JSONL_SUFFIXES:
            # The console appends to this file: never to a configuration file or a script.
            errors.add("url", f"{shown(url)} must end in .jsonl or .log")


def _check_secret(kind: str, secret: str, errors: ErrorCollector) -> None:
    if kind != AuditSink.Kind.WEBHOOK:
        if secret:
            errors.add("secret", f"only a webhook is signed; a {kind} sink takes no secret")
        return
    if not secret:
        errors.add("secret", "is required for a webhook: env:NAME, the variable holding the key")
        return
    name = env_reference(secret)
    if name is None:
        errors.add("secret", "must be written env:NAME (the variable that holds it), not a value")
    elif not ENV_NAME.match(name):
        errors.add("secret", f"{shown(name)} is not an environment variable name")


def _looks_up(path: Path, test) -> bool:
    """`test(path)` (Path.is_dir, Path.is_file), False for a path the system cannot look up at
    all (a name over its length limit raises OSError instead of answering False)."""
    try:
        return test(path)
    except OSError:
        return False


def check_sink_input(
    *, name: str, kind: str, url: str, secret: str, ca_file: str, from_seq: int | None
) -> None:
    errors = ErrorCollector()
    if not NAME_PATTERN.match(name):
        errors.add("name", f"{shown(name)} is not a sink name: {NAME_RULE}")
    elif AuditSink.objects.filter(name=name).exists():
        errors.add("name", f"a sink named {shown(name)} exists already")
    if kind not in AuditSink.Kind.values:
        errors.add("kind", f"{shown(kind)} is not one of {', '.join(AuditSink.Kind.values)}")
    else:
        _check_url(kind, url, errors)
        _check_secret(kind, secret, errors)
        if ca_file and kind == AuditSink.Kind.JSONL:
            errors.add("ca_file", "a jsonl sink makes no TLS connection: leave it empty")
        elif ca_file and not _looks_up(Path(ca_file), Path.is_file):
            errors.add("ca_file", f"{shown(ca_file)} is not a readable file")
    if from_seq is not None and from_seq < 1:
        errors.add("from", f"{from_seq} is not a sequence number: give 1 or more")
    elif from_seq is not None and from_seq < (low := _oldest_seq()):
        errors.add("from", f"#{from_seq} is archived; the log holds #{low} onwards: start there")
    errors.raise_if_any()


def sink_create(
    *,
    name: str,
    kind: str,
    url: str,
    secret: str,
    ca_file: str,
    from_seq: int | None,
    actor: str,
) -> AuditSink:
    check_sink_input(
        name=name, kind=kind, url=url, secret=secret, ca_file=ca_file, from_seq=from_seq
    )
    cursor = head_seq() if from_seq is None else from_seq - 1
    try:
        with transaction.atomic():
            sink = AuditSink.objects.create(
                name=name,
                kind=kind,
                url=url,
                secret_ref=secret,
                ca_file=ca_file,
                last_delivered_seq=cursor,
                created_by=actor[:150],
            )
    except IntegrityError:
        taken = FieldError("name", f"a sink named {shown(name)} exists already")
        raise InvalidInput(taken) from None
    audit_record(
        actor=actor,
        action="audit_sink.create",
        target_type=TARGET_TYPE,
        target_id=sink.name,
        target_repr=sink.name,
        after=audit_view(sink),
    )
    return sink


def sink_by_name(name: str) -> AuditSink:
    sink = AuditSink.objects.filter(name=(name or "").strip()).first()
    if sink is None:
        raise InvalidInput(FieldError("name", f"there is no audit sink named {shown(name)}"))
    return sink


def sink_delete(*, name: str, actor: str) -> AuditSink:
    sink = sink_by_name(name)
    # Without the cursor, which moves while a removal waits for approval.
    before = config_view(sink)
    AuditSink.objects.filter(pk=sink.pk).delete()
    audit_record(
        actor=actor,
        action="audit_sink.delete",
        target_type=TARGET_TYPE,
        target_id=sink.name,
        target_repr=sink.name,
        before=before,
    )
    return sink


def sink_replay(*, name: str, from_seq: int, actor: str) -> AuditSink:
    """Send again from `from_seq`: the cursor goes back to from_seq - 1 (forward is refused:
    skipping entries is not a replay)."""
    sink = sink_by_name(name)
    low = _oldest_seq()
    if from_seq < 1 or from_seq > sink.last_delivered_seq + 1:
        raise InvalidInput(
            FieldError(
                "from",
                f"{from_seq} is not between 1 and {sink.last_delivered_seq + 1} "
                f"(the next entry {sink.name} gets)",
            )
        )
    if low and from_seq < low:
        raise InvalidInput(
            FieldError("from", f"#{from_seq} is archived; the log holds #{low} onwards")
        )
    before = audit_view(sink)
    sink = AuditSink.objects.select_for_update().get(pk=sink.pk)
    sink.last_delivered_seq = from_seq - 1
    sink.failures, sink.next_attempt_at = 0, None
    sink.save(update_fields=["last_delivered_seq", "failures", "next_attempt_at"])
    audit_record(
        actor=actor,
        action="audit_sink.replay",
        target_type=TARGET_TYPE,
        target_id=sink.name,
        target_repr=sink.name,
        before=before,
        after=audit_view(sink),
    )
    return sink


def _oldest_seq() -> int:
    return AuditEntry.objects.order_by("seq").values_list("seq", flat=True).first() or 0
