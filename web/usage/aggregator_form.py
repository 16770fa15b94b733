"""The usageAggregator form's rows in and out: posted fields `rows-<i>-<name>` -> parse_rows."""

from console.metering.aggregator import (
    STRATEGIES,
    TYPED_FIELDS,
    TYPES,
    aggregator_helm_values,
    aggregator_hocon,
    parse_rows,
)
from console.validation import InvalidInput

FIELDS = ("category", "count_strategy", "type", "label", "price", "units", "currency")
MAX_ROWS = 200
BLANK_ROWS = 3
# The docs' example: users counted per day by their highest number, admins cost more.
EXAMPLE = [
    {"category": "users", "count_strategy": "max", "type": "users", "label": "admins",
     "price": "0.2", "units": "1"},
    {"category": "users", "count_strategy": "max", "type": "users", "label": "users",
     "price": "0.1", "units": "1"},
]  # fmt: skip


def posted_rows(post) -> list[dict[str, str]]:
    try:
        count = min(MAX_ROWS, max(0, int(post.get("row_count", "0"))))
    except ValueError:
        count = 0
    return [{f: post.get(f"rows-{i}-{f}", "") for f in FIELDS} for i in range(count)]


def aggregator_context(post) -> dict:
    rows = posted_rows(post) if post is not None else [dict(r) for r in EXAMPLE]
    currency = post.get("currency", "") if post is not None else "USD"
    errors: dict[str, str] = {}
    hocon = helm = ""
    if post is not None:
        try:
            config = parse_rows(currency, rows)
            hocon, helm = aggregator_hocon(config), aggregator_helm_values(config)
        except InvalidInput as exc:
            errors = {e.path: e.message for e in exc.errors}
    trailing = 0
    while trailing < len(rows) and not any(
        rows[-1 - trailing].get(f, "").strip() for f in TYPED_FIELDS
    ):
        trailing += 1
    rows += [dict.fromkeys(FIELDS, "") for _ in range(max(0, BLANK_ROWS - trailing))]
    shown_rows = [
        {
            "index": i,
            "values": row,
            "errors": {f: errors.get(f"rows[{i}].{f}", "") for f in FIELDS},
        }
        for i, row in enumerate(rows)
    ]
    return {
        "currency": currency,
        "rows": shown_rows,
        "row_count": len(rows),
        "errors": errors,
        "summary": [(_anchor(path), message) for path, message in errors.items()],
        "hocon": hocon,
        "helm": helm,
        "strategies": STRATEGIES,
        "types": TYPES,
    }


def _anchor(path: str) -> str:
    """`rows[2].price` -> the id of that input, `id_rows-2-price`."""
    if path.startswith("rows["):
        index, _, name = path[5:].partition("].")
        return f"id_rows-{index}-{name}"
    return f"id_{path}"
