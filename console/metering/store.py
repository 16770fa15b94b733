"""Writing fetched usage into the report tables (called by changes/usage.py only)."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from .answer import TenantUsage
from .models import UsageCategory, UsageReport, UsageTenant


def _report(from_date: date, to_date: date) -> UsageReport:
    report, _ = UsageReport.objects.get_or_create(from_date=from_date, to_date=to_date)
    return report


@transaction.atomic
def report_save(
    *,
    from_date: date,
    to_date: date,
    tenants: list[TenantUsage],
    names: dict[str, str],
    rolling: bool = False,
) -> UsageReport:
    """Replace the report of this date range with `tenants` (names: company id -> tenant name).

    `rolling`: the worker's moving range; it replaces the earlier rolling report (and a range
    someone fetched themselves stays until fetched again)."""
    report = _report(from_date, to_date)
    if rolling:
        UsageReport.objects.filter(rolling=True).exclude(pk=report.pk).delete()
        report.rolling = True
    report.tenants.all().delete()
    rows = UsageTenant.objects.bulk_create(
        UsageTenant(
            report=report,
            tenant=usage.tenant[:200],
            name=names.get(usage.tenant, "")[:300],
            currency=usage.currency,
            total_cost=usage.total_cost,
        )
        for usage in tenants
    )  # primary keys set (PostgreSQL, SQLite 3.35+), so the categories can point at them
    UsageCategory.objects.bulk_create(
        (
            UsageCategory(
                tenant=row,
                category=c.category[:200],
                unit_name=c.unit_name,
                total_usage=c.total_usage,
                total_cost=c.total_cost,
                dates=c.dates,
                usages=c.usages,
                costs=c.costs,
                labels=c.labels,
            )
            for row, usage in zip(rows, tenants, strict=True)
            for c in usage.categories
        ),
        batch_size=500,
    )
    now = timezone.now()
    report.fetched_at = report.attempted_at = now
    report.error_kind = report.error = ""
    report.save()
    return report


def report_failed(*, from_date: date, to_date: date, kind: str, error: str) -> UsageReport:
    """Record a failed fetch; the report keeps the tenants of its last successful fetch."""
    report = _report(from_date, to_date)
    report.attempted_at = timezone.now()
    report.error_kind = kind[:40]
    report.error = error[:2000]
    report.save(update_fields=["attempted_at", "error_kind", "error"])
    return report
