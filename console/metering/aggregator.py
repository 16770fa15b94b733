"""The metering service's configuration (`usageAggregator.configuration` of the clearml-enterprise
chart; ClearML docs: event_metering, "Usage Aggregator Definitions"), built from a form.

    pricing { currency: USD }
    events {
      <category> {
        count_strategy: sum | max
        type: compute | storage | model_tokens | users      # optional
        labels { <label> { pricing { price: 0.2, units: 1, currency: EUR } } }
      }
    }

Texts go through the snippet exporter's HOCON encoding (console/snippets/encoding.py), so pyhocon
reads back exactly what was entered; names become keys, which HOCON cannot quote without the quotes
staying part of the key in pyhocon, so they are limited to letters, digits, `_` and `-`.
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from console.snippets.encoding import KEYWORDS, check_text, hocon_value
from console.snippets.values import block, render_values
from console.validation import ErrorCollector, shown

STRATEGIES = ("sum", "max")
TYPES = ("compute", "storage", "model_tokens", "users")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,99}$")
MAX_TEXT = 40
TYPED_FIELDS = ("category", "label", "price", "units", "currency")


@dataclass
class LabelRow:
    label: str
    price: Decimal | None = None
    units: Decimal | None = None
    currency: str = ""


@dataclass
class EventCategory:
    name: str
    count_strategy: str
    type: str = ""
    labels: list[LabelRow] = field(default_factory=list)


@dataclass
class AggregatorConfig:
    currency: str
    events: list[EventCategory]


def _name(value: str, path: str, what: str, errors: ErrorCollector) -> str:
    if not NAME.fullmatch(value) or value.lower() in KEYWORDS:
        errors.add(
            path,
            f"{what} {shown(value)} cannot be a HOCON key; use letters, digits, '_' and '-', "
            "starting with a letter (and not true, false, null or include).",
        )
    return value


def _text(value: str, path: str, what: str, errors: ErrorCollector) -> str:
    try:
        check_text(value, f"{what} {shown(value)}")
    except ValueError as exc:
        errors.add(path, f"{exc}; remove it.")
    if len(value) > MAX_TEXT:
        errors.add(path, f"{what} {shown(value)} is longer than {MAX_TEXT} characters; shorten it.")
    return value


def _number(value: str, path: str, what: str, errors: ErrorCollector, *, positive: bool):
    if value == "":
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number < 0 or (positive and number == 0):
        need = "a number above 0" if positive else "a number, 0 or more"
        errors.add(path, f"{what} {shown(value)} is not {need}; write it like 0.25.")
        return None
    return number


def parse_rows(currency: str, rows: list[dict[str, str]]) -> AggregatorConfig:
    """The configuration from the form's rows ({category, count_strategy, type, label, price,
    units, currency}); InvalidInput naming each bad field (`rows[2].price`)."""
    errors = ErrorCollector()
    currency = _text(currency.strip() or "USD", "currency", "Currency", errors)
    events: dict[str, EventCategory] = {}
    for i, row in enumerate(rows):
        get = {k: (row.get(k) or "").strip() for k in row}
        if not any(get.get(k) for k in TYPED_FIELDS):  # the selects always send a value
            continue
        path = f"rows[{i}]"
        category = _name(get.get("category", ""), f"{path}.category", "Category", errors)
        label = _name(get.get("label", ""), f"{path}.label", "Label", errors)
        strategy = get.get("count_strategy") or "sum"
        if strategy not in STRATEGIES:
            errors.add(
                f"{path}.count_strategy", f"Count strategy {shown(strategy)}: choose sum or max."
            )
        kind = get.get("type", "")
        if kind and kind not in TYPES:
            errors.add(f"{path}.type", f"Type {shown(kind)}: choose {', '.join(TYPES)} or none.")
        price = _number(get.get("price", ""), f"{path}.price", "Price", errors, positive=False)
        units = _number(get.get("units", ""), f"{path}.units", "Units", errors, positive=True)
        if (price is None) != (units is None) and not errors.errors:
            errors.add(f"{path}.price", "Give both a price and its units, or neither (free).")
        event = events.setdefault(category, EventCategory(category, strategy, kind))
        if (event.count_strategy, event.type) != (strategy, kind):
            errors.add(
                f"{path}.count_strategy",
                f"Category {shown(category)} has another count strategy or type on an earlier "
                "row; give every row of a category the same.",
            )
        if any(existing.label == label for existing in event.labels):
            errors.add(f"{path}.label", f"Label {shown(label)} is listed twice in {category}.")
        row_currency = _text(get.get("currency", ""), f"{path}.currency", "Currency", errors)
        event.labels.append(LabelRow(label, price, units, row_currency))
    if not events and not errors.errors:
        errors.add("rows[0].category", "Add at least one category and label.")
    errors.raise_if_any()
    return AggregatorConfig(currency=currency, events=list(events.values()))


def _decimal(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def aggregator_hocon(config: AggregatorConfig) -> str:
    lines = ["pricing {", f"  currency: {hocon_value(config.currency)}", "}", "", "events {"]
    for event in config.events:
        lines += [f"  {event.name} {{", f"    count_strategy: {event.count_strategy}"]
        if event.type:
            lines.append(f"    type: {event.type}")
        lines.append("    labels {")
        for row in event.labels:
            pricing = []
            if row.price is not None:
                pricing += [f"price: {_decimal(row.price)}", f"units: {_decimal(row.units)}"]
            if row.currency:
                pricing.append(f"currency: {hocon_value(row.currency)}")
            if pricing:
                lines.append(f"      {row.label} {{")
                lines.append("        pricing {")
                lines += [f"          {item}" for item in pricing]
                lines += ["        }", "      }"]
            else:
                lines.append(f"      {row.label} {{}}")
        lines += ["    }", "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def aggregator_helm_values(config: AggregatorConfig) -> str:
    """The clearml-enterprise chart's values: `usageAggregator: {enabled, configuration}`."""
    return render_values(
        {"usageAggregator": {"enabled": True, "configuration": block(aggregator_hocon(config))}}
    )
