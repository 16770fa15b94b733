"""`manage.py usage_report --from DATE --to DATE [--format {csv,json}]`: usage and cost per
tenant from ClearML's metering service (docs/usage.md).

Fetches the range into the report tables (the same fetch as the usage page's Fetch button) and
prints it: CSV columns `tenant,category,total_usage,total_cost,currency`, one row per tenant and
category, or the JSON the page's download gives. Exit 1 when the metering service is not
configured or cannot be read, 2 for a bad date.
"""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from changes.usage import usage_fetch
from console.metering.client import HOW_TO_ENABLE
from console.metering.dates import parse_range
from console.metering.report import report_csv, report_json
from console.validation import InvalidInput


class Command(BaseCommand):
    help = "Print usage and cost per tenant and category from ClearML's metering service."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="from_date", required=True, metavar="YYYY-MM-DD")
        parser.add_argument("--to", dest="to_date", required=True, metavar="YYYY-MM-DD")
        parser.add_argument("--format", choices=("csv", "json"), default="csv")

    def handle(self, *args, from_date: str, to_date: str, format: str, **options):  # noqa: A002
        try:
            first, last = parse_range(from_date, to_date)
        except InvalidInput as exc:
            raise CommandError(" ".join(e.message for e in exc.errors), returncode=2) from None
        if not settings.CLEARML_METERING_URL:
            raise CommandError(HOW_TO_ENABLE, returncode=1)
        result = usage_fetch(from_date=first, to_date=last)
        if not result.ok:
            raise CommandError(
                f"cannot read usage for {first}..{last} from the metering service at "
                f"{settings.CLEARML_METERING_URL}: {result.error}",
                returncode=1,
            )
        if format == "json":
            self.stdout.write(json.dumps(report_json(result.report), indent=2))
        else:
            self.stdout.write(report_csv(result.report), ending="")
