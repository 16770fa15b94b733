"""Reading usage and cost from ClearML's metering service into the report tables.

Pages never wait on a remote service: `usage_fetch` is run by `manage.py usage_report`, by the
usage page's Fetch button (a request of its own, like Refresh) and every hour by the background
worker for the last 30 days. A failed fetch keeps the report of the last successful one and
records what went wrong, which the page shows.
"""

import logging
from dataclasses import dataclass
from datetime import date

from django.conf import settings

from console.apiserver import ApiError
from console.metering.answer import MalformedAnswer, parse_tenants
from console.metering.client import MeteringClient, metering_client_from_settings
from console.metering.dates import default_range
from console.metering.models import UsageReport
from console.metering.store import report_failed, report_save
from console.periodic import periodic
from tenants.models import Tenant

log = logging.getLogger(__name__)
FETCH_EVERY_SECONDS = 3600


@dataclass
class UsageFetch:
    report: UsageReport
    ok: bool
    error_kind: str = ""
    error: str = ""

    @property
    def tenants(self) -> int:
        return self.report.tenants.count()


def tenant_names() -> dict[str, str]:
    """Company id -> console tenant name, to show names instead of ids."""
    return dict(
        Tenant.objects.exclude(company_id="")
        .filter(deleted_at__isnull=True)
        .values_list("company_id", "name")
    )


def usage_fetch(
    *,
    from_date: date,
    to_date: date,
    client: MeteringClient | None = None,
    rolling: bool = False,
) -> UsageFetch:
    """Ask the metering service for every tenant's usage of the range and store the answer
    (`rolling`: the worker's last 30 days, which replace the previous day's)."""
    client = client or metering_client_from_settings()
    try:
        raw = client.get_usages(from_date=from_date, to_date=to_date)
        tenants = parse_tenants(raw)
    except ApiError as exc:
        report = report_failed(from_date=from_date, to_date=to_date, kind=exc.kind, error=str(exc))
        return UsageFetch(report, ok=False, error_kind=exc.kind, error=str(exc))
    except MalformedAnswer as exc:
        error = f"metering.get_usages: malformed response: {exc}"
        report = report_failed(
            from_date=from_date, to_date=to_date, kind="malformed response", error=error
        )
        return UsageFetch(report, ok=False, error_kind="malformed response", error=error)
    report = report_save(
        from_date=from_date,
        to_date=to_date,
        tenants=tenants,
        names=tenant_names(),
        rolling=rolling,
    )
    return UsageFetch(report, ok=True)


@periodic("usage.fetch", every=FETCH_EVERY_SECONDS)
def usage_fetch_recent() -> str:
    """The worker's hourly job: the last 30 days, when a metering service is configured."""
    if not settings.CLEARML_METERING_URL:
        return "skipped: CLEARML_METERING_URL is not set"
    first, last = default_range()
    result = usage_fetch(from_date=first, to_date=last, rolling=True)
    if not result.ok:
        log.warning("usage fetch %s..%s failed: %s", first, last, result.error)
        return f"failed: {result.error}"
    return f"{result.tenants} tenant(s), {first}..{last}"
