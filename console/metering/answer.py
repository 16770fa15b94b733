"""Reading a `get_usages` answer into plain records, refusing what is not shaped like one.

The answer comes from another service: every number is checked to be finite, every daily list
to be as long as its `dates`, so what is stored (and summed on the pages) is what was answered.
"""

import math
from dataclasses import dataclass, field


class MalformedAnswer(ValueError):
    """The answer is JSON but not a get_usages answer; the message names the place."""


@dataclass
class CategoryUsage:
    category: str
    unit_name: str
    total_usage: float
    total_cost: float
    dates: list[str]
    usages: list[float]
    costs: list[float]
    labels: dict = field(default_factory=dict)


@dataclass
class TenantUsage:
    tenant: str
    currency: str
    total_cost: float
    categories: list[CategoryUsage]


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MalformedAnswer(f"{where} is {value!r}, not a number")
    return float(value)


def _numbers(value, where: str, length: int) -> list[float]:
    if not isinstance(value, list) or len(value) != length:
        raise MalformedAnswer(f"{where} must be a list of {length} numbers (one per date)")
    return [_number(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _category(name: str, raw, where: str) -> CategoryUsage:
    if not isinstance(raw, dict):
        raise MalformedAnswer(f"{where} is not an object")
    dates = raw.get("dates") or []
    if not isinstance(dates, list) or not all(isinstance(d, str) for d in dates):
        raise MalformedAnswer(f"{where}.dates must be a list of YYYY-MM-DD dates")
    usages = _numbers(raw.get("usages", [0] * len(dates)), f"{where}.usages", len(dates))
    costs = _numbers(raw.get("costs", [0] * len(dates)), f"{where}.costs", len(dates))
    total_cost = raw.get("total_cost")
    total_usage = raw.get("total_usage")
    labels = raw.get("labels") if isinstance(raw.get("labels"), dict) else {}
    return CategoryUsage(
        category=name,
        unit_name=str(raw.get("unit_name") or "")[:100],
        # The service's own totals (a `max` category's total usage is its latest value, not
        # a sum); when it leaves them out, the sums of the days.
        total_usage=_number(total_usage, f"{where}.total_usage")
        if total_usage is not None
        else sum(usages),
        total_cost=_number(total_cost, f"{where}.total_cost")
        if total_cost is not None
        else sum(costs),
        dates=list(dates),
        usages=usages,
        costs=costs,
        labels=labels,
    )


def parse_tenants(raw: list) -> list[TenantUsage]:
    """The `tenants` list of a get_usages answer as records; MalformedAnswer when it is not one."""
    result = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"tenants[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("tenant"), str | int):
            raise MalformedAnswer(f"{where} has no `tenant`")
        if str(item["tenant"]) in seen:
            raise MalformedAnswer(f"{where}: tenant {item['tenant']!r} is listed twice")
        seen.add(str(item["tenant"]))
        categories = item.get("categories") or {}
        if not isinstance(categories, dict):
            raise MalformedAnswer(f"{where}.categories is not an object")
        parsed = [
            _category(str(name), value, f"{where}.categories.{name}")
            for name, value in categories.items()
        ]
        total = item.get("total_cost")
        result.append(
            TenantUsage(
                tenant=str(item["tenant"]),
                currency=str(item.get("currency") or "USD")[:40],
                total_cost=_number(total, f"{where}.total_cost")
                if total is not None
                else sum(c.total_cost for c in parsed),
                categories=parsed,
            )
        )
    return result
