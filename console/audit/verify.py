"""Walking the hash chain to prove the audit log is intact (`manage.py verify_audit`)."""

from dataclasses import dataclass

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


def verify_chain(*, anchor: tuple[int, str] | None = None, chunk_size: int = 5000) -> ChainReport:
    """Check every entry in order; stop at the first broken one.

    Finds: a changed stored field (the entry's hash no longer matches its content), a removed or
    renumbered entry (a gap in seq, or a prev_hash that is not the previous entry's hash), and,
    with `anchor` = (seq, hash) noted down earlier, entries removed from the end or a chain
    rewritten from the start.
    """
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    anchor_seen = False
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
                if expected_seq > 1
                else f"missing: the chain starts at #{seq}, not #1"
            )
            return ChainReport(
                count, expected_seq - 1, prev_hash, ChainProblem(expected_seq, None, reason)
            )
        if row["prev_hash"] != prev_hash:
            problem = ChainProblem(
                seq,
                row["id"],
                f"prev_hash does not match the hash of #{seq - 1}"
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
