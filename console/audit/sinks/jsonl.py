"""JSON-lines file: one entry per line, appended and fsynced, for a log shipper (Fluent Bit,
Vector) to tail. The file is rotated when it reaches ROTATE_BYTES: `audit.jsonl` becomes
`audit.jsonl.1` (the older ones shift to .2 … .KEEP; the oldest is removed), and a new file
starts. A batch is acknowledged once it is written and fsynced.
"""

import os
from pathlib import Path

from .errors import DeliveryFailed
from .models import AuditSink
from .wire import dumps_lines

ROTATE_BYTES = 100 * 1024 * 1024
KEEP = 5


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ends_mid_line(path: Path) -> bool:
    with path.open("rb") as existing:
        if existing.seek(0, os.SEEK_END) == 0:
            return False
        existing.seek(-1, os.SEEK_END)
        return existing.read(1) != b"\n"


def rotate(path: Path, keep: int = KEEP) -> None:
    for n in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            older.replace(path.with_name(f"{path.name}.{n + 1}"))
    path.replace(path.with_name(f"{path.name}.1"))
    _fsync_dir(path.parent)


def send(sink: AuditSink, entries: list[dict]) -> None:
    path = Path(sink.url)
    data = dumps_lines(entries).encode()
    try:
        if path.exists() and path.stat().st_size >= ROTATE_BYTES:
            rotate(path)
        with path.open("ab") as out:
            if _ends_mid_line(path):
                out.write(b"\n")  # a batch cut short by a crash: keep its torn line apart
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise DeliveryFailed(f"cannot write {path}: {exc.strerror or exc}") from None
