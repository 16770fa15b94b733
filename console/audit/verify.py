"""Walking the hash chain to prove the audit log is intact (`manage.py verify_audit`)."""

from dataclasses import dataclass

from .archive_format import signature_ok
from .archive_models import AuditArchive
from .chain import STORED_FIELDS, compute_hash
from .models import GENESIS_HASH, AuditEntry


@dataclass
class ChainProblem:
    seq: int
    entry_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"entry #{self.seq}" + (f" (id {self.entry_id})" if self.entry_id else "")
        return f"{where}: {self.reason}"


@dataclass
class ChainReport:
    count: int
    head_seq: int
    head_hash: str
    problem: ChainProblem | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


def archived_start() -> tuple[AuditArchive | None, ChainProblem | None]:
    """The newest archive checkpoint, where the live chain must start (None: at #1), or the
    problem with it: a checkpoint whose signature does not verify was not made by the archiver."""
    checkpoint = AuditArchive.objects.order_by("-last_seq").first()
    if checkpoint is None:
        return None, None
    manifest = checkpoint.manifest or {}
    fields = ("first_seq", "last_seq", "first_prev_hash", "last_hash")
    same = all(manifest.get(f) == getattr(checkpoint, f) for f in fields)
    if not same or not signature_ok(manifest):
        reason = (
            f"the archive checkpoint #{checkpoint.first_seq}-#{checkpoint.last_seq} is not "
            "signed by the archive key: entries were removed outside the archiver"
        )
        return None, ChainProblem(checkpoint.last_seq + 1, None, reason)
    return checkpoint, None


def verify_chain(*, anchor: tuple[int, str] | None = None, chunk_size: int = 5000) -> ChainReport:
    """Check every entry in order; stop at the first broken one.

    Finds: a changed stored field (the entry's hash no longer matches its content), a removed or
    renumbered entry (a gap in seq, or a prev_hash that is not the previous entry's hash), and,
    with `anchor` = (seq, hash) noted down earlier, entries removed from the end or a chain
    rewritten from the start.
    """
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    start, problem = archived_start()
    if problem:
        return ChainReport(0, 0, GENESIS_HASH, problem)
    if start:
        expected_seq, prev_hash = start.last_seq + 1, start.last_hash
    # An anchor inside the archive is checked by verify_archives; at its end, here too.
    anchor_seen = bool(anchor and start and anchor[0] <= start.last_seq)
    if anchor_seen and anchor[0] == start.last_seq and anchor[1] != start.last_hash:
        problem = ChainProblem(anchor[0], None, "hash differs from the anchor given")
        return ChainReport(0, 0, GENESIS_HASH, problem)
    rows = (
        AuditEntry.objects.order_by("seq")
        .values("id", "entry_hash", *STORED_FIELDS)
        .iterator(chunk_size=chunk_size)
    )
    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            reason = (
                f"missing: the chain jumps from #{expected_seq - 1} to #{seq}"
                if count
                else f"missing: the chain starts at #{seq}, not #{expected_seq}"
                + (f" (archived through #{expected_seq - 1})" if start else "")
            )
            return ChainReport(
                count, expected_seq - 1, prev_hash, ChainProblem(expected_seq, None, reason)
            )
        if row["prev_hash"] != prev_hash:
            problem = ChainProblem(
                seq,
                row["id"],
                f"prev_hash does not match the hash of #{seq - 1}"
                + (" in the signed archive" if start and not count else "")
                if seq > 1
                else "prev_hash is not the genesis value",
            )
            return ChainReport(count, seq - 1, prev_hash, problem)
        if compute_hash(row) != row["entry_hash"]:
            problem = ChainProblem(seq, row["id"], "hash mismatch: a stored field was altered")
            return ChainReport(count, seq - 1, prev_hash, problem)
        if anchor and seq == anchor[0]:
            anchor_seen = True
            if row["entry_hash"] != anchor[1]:
                problem = ChainProblem(seq, row["id"], "hash differs from the anchor given")
                return ChainReport(count, seq - 1, prev_hash, problem)
        prev_hash, expected_seq, count = row["entry_hash"], seq + 1, count + 1
    if anchor and not anchor_seen:
        problem = ChainProblem(
            anchor[0],
            None,
            f"missing: the anchor is #{anchor[0]} but the log ends at #{expected_seq - 1}",
        )
        return ChainReport(count, expected_seq - 1, prev_hash, problem)
    return ChainReport(count, expected_seq - 1, prev_hash)
