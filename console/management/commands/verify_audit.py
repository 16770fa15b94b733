"""`manage.py verify_audit [--anchor SEQ:HASH] [--archives DIR]`: check the audit log's hash
chain and, with --archives, the archived segments and their joins to each other and to the log.

Exit codes: 0 the chain is intact; 3 the chain is broken (the message names the first broken
entry and what is wrong); 2 bad input (an unreadable --anchor); 1 the database failed.
"""

import re
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from console.audit.archive_verify import verify_archives
from console.audit.verify import verify_chain

EXIT_BROKEN = 3
ANCHOR = re.compile(r"^#?(\d+):([0-9a-f]{64})$")


class Command(BaseCommand):
    help = "Walk the audit log's hash chain; exit 0 when intact, 3 naming the first broken entry."

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchor",
            metavar="SEQ:HASH",
            help="an entry's seq and hash noted earlier (printed by a previous run); also "
            "detects entries removed from the end of the log",
        )
        parser.add_argument(
            "--archives",
            metavar="DIR",
            help="also verify the archive segments in DIR (audit_archive's) and their joins",
        )

    def handle(self, *args, anchor=None, archives=None, **options):
        parsed = None
        if anchor:
            match = ANCHOR.match(anchor.strip().lower())
            if not match:
                raise CommandError(
                    "--anchor: expected SEQ:HASH (a number, a colon and 64 hex digits), "
                    f"got {anchor!r}",
                    returncode=2,
                )
            parsed = (int(match.group(1)), match.group(2))
        try:
            report = verify_chain(anchor=parsed)
        except DatabaseError as exc:
            raise CommandError(f"cannot read the audit log: {exc}", returncode=1) from None
        if not report.intact:
            self.stderr.write(
                f"audit chain BROKEN at {report.problem} ({report.count} entries before it "
                "verified)"
            )
            raise SystemExit(EXIT_BROKEN)
        head = f"; head #{report.head_seq} {report.head_hash}" if report.count else ""
        self.stdout.write(f"{report.count} entries, chain intact{head}")
        if archives:
            self._archives(Path(archives))

    def _archives(self, directory: Path) -> None:
        if not directory.is_dir():
            raise CommandError(f"--archives: {directory} is not a directory", returncode=2)
        found = verify_archives(directory)
        if found.intact:
            self.stdout.write(
                f"{found.segments} archive segments ({found.entries} entries) intact and "
                "joined to the live chain"
            )
            return
        for problem in found.problems:
            self.stderr.write(f"archive BROKEN: {problem}")
        raise SystemExit(EXIT_BROKEN)
