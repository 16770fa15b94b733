"""A stacked daily bar chart as server-rendered SVG: no script, no CDN, readable by a screen
reader (`role="img"` with a title and a description; the page shows the same data as a table)."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .report import DailySeries

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 40
# Colour-blind-safe (Okabe-Ito) fills; the table and the legend carry the same information.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def _money(value: float) -> str:
    return f"{value:,.2f}"


def stacked_chart(series: DailySeries, *, dom_id: str) -> SafeString:
    days = len(series.dates)
    totals = series.day_totals()
    top = max(totals, default=0.0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(days, 1)
    bar = max(1.0, step * 0.8)
    rects = []
    for i, day in enumerate(series.dates):
        y = TOP + plot_h
        for n, category in enumerate(series.categories):
            value = series.costs[category][i]
            h = plot_h * value / top
            if h <= 0:
                continue
            y -= h
            rects.append(
                (
                    f"{LEFT + i * step + (step - bar) / 2:.1f}",
                    f"{y:.1f}",
                    f"{bar:.1f}",
                    f"{h:.1f}",
                    colour(n),
                    f"{day} {category}: {_money(value)} {series.currency}",
                )
            )
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
        rects,
    )
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="end" font-size="11">{}</text>'
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ccc"/>',
        (
            (
                LEFT - 6,
                f"{TOP + plot_h * (1 - f) + 4:.1f}",
                _money(top * f),
                LEFT,
                WIDTH - RIGHT,
                f"{TOP + plot_h * (1 - f):.1f}",
                f"{TOP + plot_h * (1 - f):.1f}",
            )
            for f in (0, 0.5, 1)
        ),
    )
    every = max(1, days // 8)
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle" font-size="11">{}</text>',
        (
            (f"{LEFT + i * step + step / 2:.1f}", HEIGHT - BOTTOM + 16, day[5:])
            for i, day in enumerate(series.dates)
            if i % every == 0
        ),
    )
    description = (
        f"Daily cost in {series.currency} from {series.dates[0] if days else '-'} to "
        f"{series.dates[-1] if days else '-'}, stacked by category ("
        + ", ".join(series.categories)
        + f"); highest day {_money(top if totals else 0)}, total {_money(series.total)}. "
        "The table below holds the same numbers."
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'aria-labelledby="{id}-title {id}-desc" class="usage-chart">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
        "{ticks}{bars}{labels}</svg>",
        w=WIDTH,
        h=HEIGHT,
        id=dom_id,
        title=f"Daily cost by category ({series.currency})",
        desc=description,
        ticks=ticks,
        bars=bars,
        labels=labels,
    )


def legend(series: DailySeries) -> list[dict]:
    return [
        {"name": name, "colour": colour(n), "total": sum(series.costs[name])}
        for n, name in enumerate(series.categories)
    ]
