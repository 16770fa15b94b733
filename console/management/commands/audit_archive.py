"""`manage.py audit_archive [--dir DIR] [--force]`: move audit entries older than
AUDIT_RETENTION_DAYS into signed archive segments and remove them from the table
(docs/audit.md, "Retention and archives"). The background worker runs the same hourly.

Exit codes: 0 done (or nothing to archive, or retention unset); 1 refused (a sink has not
delivered the entries, a broken chain, an unwritable directory); --force archives past sinks
that are behind (the `audit.archive` entry names them).
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from console.audit import cli_actor
from console.audit.archive import ArchiveRefused, archive_by_retention


class Command(BaseCommand):
    help = "Archive audit entries older than AUDIT_RETENTION_DAYS into signed segments."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=None, help="default: AUDIT_ARCHIVE_DIR")
        parser.add_argument(
            "--force", action="store_true", help="archive even entries a sink has not delivered"
        )

    def handle(self, *args, dir=None, force=False, **options):  # noqa: A002 - the option
        directory = Path(dir or settings.AUDIT_ARCHIVE_DIR)
        try:
            result = archive_by_retention(actor=cli_actor(), force=force, directory=directory)
        except ArchiveRefused as exc:
            raise CommandError(f"audit_archive: {exc}", returncode=1) from None
        if result is None:
            self.stdout.write("AUDIT_RETENTION_DAYS is not set: every audit entry is kept.")
            return
        for segment in result.segments:
            self.stdout.write(
                f"archived #{segment.first_seq}-#{segment.last_seq} "
                f"({segment.entry_count} entries) to {directory / segment.file_name}"
            )
        if result.forced_past:
            self.stdout.write("forced past: " + ", ".join(result.forced_past))
        self.stdout.write(f"{result.count} entries archived.")
