"""What the usage page, its downloads and `manage.py usage_report` show of a stored report.

Every figure is a sum of what the metering service answered: a tenant's total is its
`total_cost`, a category's totals are its `total_usage`/`total_cost`, and a day of the chart is the
sum of that day's `costs` over the tenants (tests/test_usage_reports.py checks them against the
answer).
"""

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field

from .models import UsageCategory, UsageReport, UsageTenant

CSV_COLUMNS = ("tenant", "category", "total_usage", "total_cost", "currency")
TOP_TENANTS = 10


@dataclass
class TenantRow:
    label: str
    tenant_id: str
    currency: str
    total_cost: float
    categories: dict[str, float]  # category -> cost
    cells: list[float] = field(default_factory=list)  # costs in the report's category order


@dataclass
class DailySeries:
    """Costs per day and category for one currency (a stacked chart)."""

    currency: str
    dates: list[str]
    categories: list[str]
    costs: dict[str, list[float]]  # category -> one value per date
    total: float = 0.0

    def day_totals(self) -> list[float]:
        return [sum(self.costs[c][i] for c in self.categories) for i in range(len(self.dates))]

    def rows(self) -> list[dict]:
        """One row per day for the data table that stands in for the chart."""
        return [
            {
                "date": day,
                "values": [self.costs[c][i] for c in self.categories],
                "total": total,
            }
            for i, (day, total) in enumerate(zip(self.dates, self.day_totals(), strict=True))
        ]


@dataclass
class ReportView:
    report: UsageReport
    tenants: list[TenantRow]
    top: list[TenantRow]
    totals: dict[str, float]  # currency -> total cost
    series: list[DailySeries]
    categories: list[str] = field(default_factory=list)


def _tenants(report: UsageReport) -> list[UsageTenant]:
    return list(report.tenants.prefetch_related("categories").order_by("name", "tenant"))


def report_view(report: UsageReport) -> ReportView:
    tenants = _tenants(report)
    rows = [
        TenantRow(
            label=t.label,
            tenant_id=t.tenant,
            currency=t.currency,
            total_cost=t.total_cost,
            categories={c.category: c.total_cost for c in t.categories.all()},
        )
        for t in tenants
    ]
    totals: dict[str, float] = defaultdict(float)
    for row in rows:
        totals[row.currency] += row.total_cost
    categories = sorted({c for row in rows for c in row.categories})
    for row in rows:
        row.cells = [row.categories.get(c, 0.0) for c in categories]
    top = sorted((r for r in rows if r.total_cost > 0), key=lambda r: (-r.total_cost, r.label))
    return ReportView(
        report=report,
        tenants=rows,
        top=top[:TOP_TENANTS],
        totals=dict(sorted(totals.items())),
        series=daily_series(tenants),
        categories=categories,
    )


def daily_series(tenants: list[UsageTenant]) -> list[DailySeries]:
    """Per currency: each day's cost per category, summed over the tenants."""
    by_currency: dict[str, dict[str, dict[str, float]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(float))
    )
    for tenant in tenants:
        for cat in tenant.categories.all():
            days = by_currency[tenant.currency][cat.category]
            for day, cost in zip(cat.dates, cat.costs, strict=False):
                days[day] += cost
    series = []
    for currency, per_category in sorted(by_currency.items()):
        dates = sorted({d for days in per_category.values() for d in days})
        names = sorted(per_category)
        costs = {c: [per_category[c].get(d, 0.0) for d in dates] for c in names}
        total = sum(sum(v) for v in costs.values())
        series.append(DailySeries(currency, dates, names, costs, total))
    return series


def csv_rows(report: UsageReport) -> list[dict]:
    """One row per tenant and category: the CSV (and `usage_report`) lines."""
    rows = (
        UsageCategory.objects.filter(tenant__report=report)
        .order_by("tenant__name", "tenant__tenant", "category")
        .values(
            "tenant__name",
            "tenant__tenant",
            "tenant__currency",
            "category",
            "total_usage",
            "total_cost",
        )
    )
    return [
        {
            "tenant": r["tenant__name"] or r["tenant__tenant"],
            "category": r["category"],
            "total_usage": r["total_usage"],
            "total_cost": r["total_cost"],
            "currency": r["tenant__currency"],
        }
        for r in rows
    ]


def report_csv(report: UsageReport) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(report):
        writer.writerow({**row, "tenant": _cell(row["tenant"]), "category": _cell(row["category"])})
    return out.getvalue()


def _cell(text: str) -> str:
    # A cell that a spreadsheet would run as a formula gets a leading apostrophe.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def report_json(report: UsageReport) -> dict:
    return {
        "from_date": report.from_date.isoformat(),
        "to_date": report.to_date.isoformat(),
        "fetched_at": report.fetched_at.isoformat() if report.fetched_at else None,
        "tenants": [
            {
                "tenant": t.label,
                "tenant_id": t.tenant,
                "currency": t.currency,
                "total_cost": t.total_cost,
                "categories": {
                    c.category: {
                        "unit_name": c.unit_name,
                        "total_usage": c.total_usage,
                        "total_cost": c.total_cost,
                        "dates": c.dates,
                        "usages": c.usages,
                        "costs": c.costs,
                    }
                    for c in sorted(t.categories.all(), key=lambda c: c.category)
                },
            }
            for t in _tenants(report)
        ],
    }


def stored_report(from_date, to_date) -> UsageReport | None:
    return UsageReport.objects.filter(from_date=from_date, to_date=to_date).first()


def recent_reports(limit: int = 10) -> list[UsageReport]:
    return list(UsageReport.objects.order_by("-attempted_at")[:limit])
