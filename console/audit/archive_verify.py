"""Verifying archive segments (`verify_audit --archives DIR`): each manifest's signature, each
file's SHA-256, the hash chain inside each segment, the joins between segments (#1 from the
genesis hash onwards), and the join of the last segment to the live chain's first entry."""

import gzip
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .archive_format import row_from_line, signature_ok
from .archive_models import AuditArchive
from .chain import compute_hash
from .models import GENESIS_HASH, AuditEntry


@dataclass
class ArchivesReport:
    segments: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def _manifests(directory: Path, report: ArchivesReport) -> list[dict]:
    found = []
    for path in sorted(directory.glob("audit-*.manifest.json")):
        try:
            manifest = json.loads(path.read_text())
            int(manifest["first_seq"]), int(manifest["last_seq"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"{path.name}: not a readable manifest ({exc})")
            continue
        manifest["_path"] = path
        found.append(manifest)
    return sorted(found, key=lambda m: m["first_seq"])


def _segment_problem(directory: Path, manifest: dict) -> str:
    """The first thing wrong with one segment, or ""."""
    body = {k: v for k, v in manifest.items() if k != "_path"}
    if not signature_ok(body):
        return "the manifest's signature does not verify (changed, or another key)"
    path = directory / Path(str(manifest.get("file", ""))).name
    try:
        data = path.read_bytes()
    except OSError:
        return f"{path.name} is missing"
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        return f"{path.name}: SHA-256 differs from the manifest (the file was changed)"
    seq, prev, count = manifest["first_seq"] - 1, manifest["first_prev_hash"], 0
    try:
        lines = gzip.decompress(data).splitlines()
    except (OSError, EOFError, zlib.error) as exc:
        return f"{path.name}: not a readable gzip file ({exc})"
    for line in lines:
        row = row_from_line(line)
        if row["seq"] != seq + 1 or row["prev_hash"] != prev:
            return f"entry #{row['seq']}: does not follow #{seq} in the chain"
        if compute_hash(row) != row["entry_hash"]:
            return f"entry #{row['seq']}: hash mismatch (a stored field was altered)"
        seq, prev, count = row["seq"], row["entry_hash"], count + 1
    if seq != manifest["last_seq"] or prev != manifest["last_hash"]:
        return f"ends at #{seq}, the manifest says #{manifest['last_seq']}"
    return ""


def verify_archives(directory: Path) -> ArchivesReport:
    report = ArchivesReport()
    manifests = _manifests(directory, report)
    seq, prev = 0, GENESIS_HASH
    for manifest in manifests:
        name = manifest["_path"].name
        if manifest["first_seq"] != seq + 1 or manifest["first_prev_hash"] != prev:
            report.problems.append(
                f"{name}: does not join the segment before it (expected #{seq + 1} after "
                f"hash {prev[:12]}…)"
            )
        problem = _segment_problem(directory, manifest)
        if problem:
            report.problems.append(f"{name}: {problem}")
        report.segments += 1
        report.entries += int(manifest.get("entry_count") or 0)
        seq, prev = manifest["last_seq"], manifest["last_hash"]
    _check_live_join(directory, seq, prev, report)
    return report


def _check_live_join(directory: Path, seq: int, prev: str, report: ArchivesReport) -> None:
    for checkpoint in AuditArchive.objects.order_by("first_seq"):
        if not (directory / checkpoint.file_name).exists():
            report.problems.append(
                f"{checkpoint.file_name}: recorded as archived but not in {directory}"
            )
    first = AuditEntry.objects.order_by("seq").values("seq", "prev_hash").first()
    if first and (first["seq"] != seq + 1 or first["prev_hash"] != prev):
        report.problems.append(
            f"the live log starts at #{first['seq']}, which does not follow the archives' "
            f"last entry #{seq}"
        )
