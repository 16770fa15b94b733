"""Retention: moving entries older than AUDIT_RETENTION_DAYS into signed archive segments, then
deleting them from the table — the one sanctioned delete of audit entries.

Per segment (up to SEGMENT entries): the entries are checked against the chain while they are
written (a broken chain is never archived), the .gz file and its signed manifest are written and
fsynced, then one transaction records the checkpoint (AuditArchive), appends an `audit.archive`
entry and deletes the archived entries. On PostgreSQL the append-only trigger lets the delete
through only inside that transaction (`console.audit_archive`) and only for entries a checkpoint
covers. The first entry left keeps its prev_hash: the checkpoint's `last_hash`, so verify_audit
proves the live chain joins the signed archive.

Archiving refuses while a sink has not delivered an entry it would remove, unless forced (the
`audit.archive` entry then names the sinks left behind).
"""

import gzip
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connections, router, transaction
from django.utils import timezone

from .archive_format import ROW_FIELDS, manifest_name, row_line, segment_name, sign
from .archive_models import AuditArchive
from .chain import compute_hash
from .models import GENESIS_HASH, AuditEntry
from .service import audit_record
from .sinks.models import AuditSink

SEGMENT = 50_000
WRITE_LINES = 2000


class ArchiveRefused(Exception):
    """Archiving cannot run (sinks behind, a broken chain, an unwritable directory)."""


@dataclass
class ArchiveResult:
    segments: list[AuditArchive] = field(default_factory=list)
    forced_past: list[str] = field(default_factory=list)  # sinks behind, with --force

    @property
    def count(self) -> int:
        return sum(s.entry_count for s in self.segments)


def archivable_through(days: int, now: datetime | None = None) -> int:
    """The last seq older than `days` (0 when none): times never sort behind the chain."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    rows = AuditEntry.objects.filter(created_at__lt=cutoff).order_by("-seq")
    return rows.values_list("seq", flat=True).first() or 0


def sinks_behind(last_seq: int) -> list[str]:
    rows = AuditSink.objects.filter(last_delivered_seq__lt=last_seq).order_by("name")
    return [f"{s.name} (delivered #{s.last_delivered_seq})" for s in rows]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, data_writer) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as raw:
        data_writer(raw)
        raw.flush()
        os.fsync(raw.fileno())
    tmp.replace(path)
    _fsync_dir(path.parent)


def _expected_prev(first_seq: int) -> str:
    if first_seq == 1:
        return GENESIS_HASH
    checkpoint = AuditArchive.objects.filter(last_seq=first_seq - 1).first()
    if checkpoint is None:
        raise ArchiveRefused(
            f"the log starts at #{first_seq} but no archive ends at #{first_seq - 1}"
        )
    return checkpoint.last_hash


def _write_segment(directory: Path, first: int, last: int, prev_hash: str) -> dict:
    """Write entries first..last to a .gz file, checking the chain; the manifest's fields."""
    state = {"prev": prev_hash, "seq": first - 1, "count": 0}
    rows = (
        AuditEntry.objects.filter(seq__gte=first, seq__lte=last)
        .order_by("seq")
        .values(*ROW_FIELDS)
        .iterator(chunk_size=5000)
    )

    def write(raw) -> None:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as out:
            lines = []
            for row in rows:
                if row["seq"] != state["seq"] + 1 or row["prev_hash"] != state["prev"]:
                    raise ArchiveRefused(f"the chain is broken at #{row['seq']}: not archived")
                if compute_hash(row) != row["entry_hash"]:
                    raise ArchiveRefused(f"entry #{row['seq']} was altered: not archived")
                lines.append(row_line(row))
                if len(lines) >= WRITE_LINES:
                    out.write(b"".join(lines))
                    lines.clear()
                state.update(prev=row["entry_hash"], seq=row["seq"], count=state["count"] + 1)
            out.write(b"".join(lines))

    path = directory / segment_name(first, last)
    _write_atomically(path, write)
    if state["seq"] != last:
        raise ArchiveRefused(f"entries #{state['seq'] + 1}..#{last} are missing: not archived")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        "first_seq": first,
        "last_seq": last,
        "first_prev_hash": prev_hash,
        "last_hash": state["prev"],
        "entry_count": state["count"],
        "file": path.name,
        "sha256": digest,
        "created_at": timezone.now().isoformat(timespec="seconds"),
    }


def _delete_archived(first: int, last: int) -> None:
    using = router.db_for_write(AuditEntry)
    connection = connections[using]
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('console.audit_archive', 'on', true)")
        cursor.execute(f"DELETE FROM {table} WHERE seq >= %s AND seq <= %s", [first, last])  # noqa: S608


def _commit_segment(manifest: dict, *, actor: str, forced_past: list[str]) -> AuditArchive:
    with transaction.atomic(using=router.db_for_write(AuditEntry)):
        checkpoint = AuditArchive.objects.create(
            first_seq=manifest["first_seq"],
            last_seq=manifest["last_seq"],
            first_prev_hash=manifest["first_prev_hash"],
            last_hash=manifest["last_hash"],
            entry_count=manifest["entry_count"],
            file_name=manifest["file"],
            file_sha256=manifest["sha256"],
            created_at=timezone.now(),
            manifest=manifest,
            signature=manifest["signature"],
        )
        audit_record(
            actor=actor,
            action="audit.archive",
            target_type="audit_archive",
            target_id=f"{manifest['first_seq']}-{manifest['last_seq']}",
            target_repr=manifest["file"],
            after={
                "first_seq": manifest["first_seq"],
                "last_seq": manifest["last_seq"],
                "entry_count": manifest["entry_count"],
                "file": manifest["file"],
                "sha256": manifest["sha256"],
                "last_hash": manifest["last_hash"],
                "forced_past_sinks": forced_past,
            },
        )
        _delete_archived(manifest["first_seq"], manifest["last_seq"])
    return checkpoint


def archive_entries(
    *,
    through_seq: int,
    directory: Path,
    actor: str,
    force: bool = False,
    segment_size: int = SEGMENT,
) -> ArchiveResult:
    """Archive every entry up to `through_seq`, oldest first, in segments."""
    result = ArchiveResult()
    first = AuditEntry.objects.order_by("seq").values_list("seq", flat=True).first()
    if not first or through_seq < first:
        return result
    behind = sinks_behind(through_seq)
    if behind and not force:
        raise ArchiveRefused(
            "sinks have not delivered the entries to archive: "
            + ", ".join(behind)
            + " (wait for them, or archive with --force)"
        )
    result.forced_past = behind
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveRefused(f"cannot create {directory}: {exc.strerror or exc}") from None
    prev = _expected_prev(first)
    while first <= through_seq:
        last = min(first + segment_size - 1, through_seq)
        manifest = sign(_write_segment(directory, first, last, prev))
        _write_atomically(
            directory / manifest_name(first, last),
            lambda raw, m=manifest: raw.write(_manifest_bytes(m)),
        )
        result.segments.append(_commit_segment(manifest, actor=actor, forced_past=behind))
        first, prev = last + 1, manifest["last_hash"]
    return result


def _manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


def archive_by_retention(*, actor: str, force: bool = False, directory: Path | None = None):
    """What `audit_archive` and the periodic job run: None when retention is off."""
    days = settings.AUDIT_RETENTION_DAYS
    if not days:
        return None
    return archive_entries(
        through_seq=archivable_through(days),
        directory=directory or Path(settings.AUDIT_ARCHIVE_DIR),
        actor=actor,
        force=force,
    )
