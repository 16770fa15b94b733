"""`manage.py export_audit --format csv|jsonl [--since DATE] [filters]`: the audit log on stdout.

Streams in chain order (oldest first) in constant memory. Exit codes: 0 done; 2 bad input (an
unreadable date or filter); 1 the database failed.
"""

from datetime import date, datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils.dateparse import parse_date, parse_datetime

from console.audit.export import FORMATS, iter_export
from console.audit.models import AuditEntry
from console.audit.queries import AuditFilter, end_of, export_queryset, start_of


def _when(option: str, text: str | None) -> date | datetime | None:
    if not text:
        return None
    try:
        value = parse_datetime(text) if "T" in text or " " in text.strip() else parse_date(text)
    except ValueError:
        value = None
    if value is None:
        raise CommandError(
            f"{option}: {text!r} is not a date (YYYY-MM-DD) or a date and time "
            "(YYYY-MM-DDTHH:MM[:SS][+00:00]; UTC when no offset)",
            returncode=2,
        )
    return value


class Command(BaseCommand):
    help = "Print audit entries as CSV or JSON Lines (oldest first), optionally filtered."

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, choices=sorted(FORMATS), dest="fmt")
        parser.add_argument(
            "--since", help="entries at or after this date (YYYY-MM-DD, UTC) or date-time"
        )
        parser.add_argument(
            "--until", help="entries up to this date (the whole day) or before this date-time"
        )
        parser.add_argument("--actor", default="", help="exact actor, e.g. admin or cli:root")
        parser.add_argument("--action", default="", help="exact action, or a family: tenant.*")
        parser.add_argument("--target-type", default="", help="tenant, group, idp, user, ...")
        parser.add_argument("--target", default="", help="a target id or exact name")
        parser.add_argument(
            "--outcome", default="", choices=["", *AuditEntry.Outcome.values], help="an outcome"
        )
        parser.add_argument("--text", default="", help="free text, as on the Audit page")

    def handle(self, *args, fmt, **options):
        since = _when("--since", options["since"])
        until = _when("--until", options["until"])
        if since and until and start_of(since) >= end_of(until):
            raise CommandError("--until: is before --since", returncode=2)
        flt = AuditFilter(
            actor=options["actor"],
            action=options["action"],
            target_type=options["target_type"],
            target=options["target"],
            outcome=options["outcome"],
            since=since,
            until=until,
            q=options["text"],
        )
        try:
            for chunk in iter_export(export_queryset(flt), fmt):
                self.stdout.write(chunk, ending="")
        except DatabaseError as exc:
            raise CommandError(f"cannot read the audit log: {exc}", returncode=1) from None
        except BrokenPipeError:  # `| head`: the reader is gone, which is fine
            return
