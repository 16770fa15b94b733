"""What the usage page shows: the stored report of the range in the URL (never fetched here)."""

from django.conf import settings

from console.metering.chart import legend, stacked_chart
from console.metering.client import HOW_TO_ENABLE
from console.metering.dates import default_range, parse_range
from console.metering.report import recent_reports, report_view, stored_report
from console.validation import InvalidInput


def requested_range(params) -> tuple[tuple | None, dict[str, str], dict[str, str]]:
    """((from, to) or None, the form's values, field errors) from the query string."""
    first, last = default_range()
    data = {
        "from": params.get("from") or first.isoformat(),
        "to": params.get("to") or last.isoformat(),
    }
    try:
        return parse_range(data["from"], data["to"]), data, {}
    except InvalidInput as exc:
        return None, data, {e.path: e.message for e in exc.errors}


def usage_context(params) -> dict:
    chosen, data, errors = requested_range(params)
    report = stored_report(*chosen) if chosen else None
    view = report_view(report) if report and report.fetched_at else None
    charts = []
    for n, series in enumerate(view.series if view else []):
        charts.append(
            {
                "series": series,
                "svg": stacked_chart(series, dom_id=f"usage-chart-{n}"),
                "legend": legend(series),
                "rows": series.rows(),
            }
        )
    return {
        "data": data,
        "errors": errors,
        "range": chosen,
        "report": report,
        "view": view,
        "charts": charts,
        "configured": bool(settings.CLEARML_METERING_URL),
        "how_to_enable": HOW_TO_ENABLE,
        "recent": recent_reports(),
        "query": f"from={data['from']}&to={data['to']}",
    }
