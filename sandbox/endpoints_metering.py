"""A stand-in for ClearML's metering service (the Usage Aggregator), served by the sandbox
under `/metering/`: `POST /metering/get_usages` as the ClearML docs page "Event Metering"
describes it (body `from_date`, `to_date`, optional `tenant`, `categories`, `include_labels`;
answer `{"tenants": [...]}`, plain JSON, not the apiserver envelope).

The data is made up but plausible and the same for the same question: for every company but the
platform's, daily compute seconds, fileserver storage and user counts (the company's real users),
priced like the docs' example. Basic auth with the sandbox's platform administrator key. Calls
are recorded as `metering.get_usages`, and `fail_next("metering.get_usages", ...)` fails them.
"""

import base64
import hashlib
import hmac
import json
import time
from datetime import date, timedelta

from .state import SYSTEM_COMPANY_ID, now

PREFIX = "/metering/"
ENDPOINT = "metering.get_usages"
MAX_DAYS = 366

# category -> (type, count_strategy, unit_name, {label: (price, units)})
CATEGORIES = {
    "compute": ("compute", "sum", "sec", {"gpu1": (2.5, 3600), "cpu": (0.05, 3600)}),
    "storage": ("storage", "max", "MB", {"fileserver": (2.4, 1024)}),
    "users": ("users", "max", "", {"admins": (0.2, 1), "users": (0.1, 1)}),
}


class _Refusal(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _json(status: int, payload: dict) -> tuple[int, bytes]:
    return status, json.dumps(payload).encode()


def reply(app, method: str, path: str, headers: dict, body: bytes) -> tuple[int, bytes]:
    """The answer (status, JSON body) to one request under PREFIX."""
    record = {
        "endpoint": ENDPOINT,
        "method": method,
        "time": now(),
        "status": None,
        "act_as": "",
        "impersonate_as": "",
        "body": None,
        "duration_ms": None,
    }
    with app._log_lock:
        app.requests.append(record)
    started = time.monotonic()
    plan = app._take_fault(ENDPOINT)
    try:
        if plan and plan.delay_ms:
            time.sleep(plan.delay_ms / 1000)
        if plan and plan.raw is not None:  # e.g. a proxy's error page instead of the service
            record["status"] = plan.status
            return plan.status, plan.raw.encode()
        if plan and plan.status >= 400:
            raise _Refusal(plan.status, plan.message)
        if path[len(PREFIX) :].strip("/") != "get_usages":
            raise _Refusal(404, f"not supported: {path}")
        if method != "POST":
            raise _Refusal(405, "get_usages takes POST")
        _check_auth(app, headers)
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise _Refusal(400, "the body is not JSON") from None
        record["body"] = data
        with app.lock:
            companies = {
                cid: sum(1 for u in app.state.users.values() if u["company"] == cid)
                for cid in app.state.companies
                if cid != SYSTEM_COMPANY_ID
            }
            admins = {
                cid: sum(
                    1
                    for u in app.state.users.values()
                    if u["company"] == cid and u["role"] == "admin"
                )
                for cid in companies
            }
        status, answer = 200, get_usages(data, companies, admins)
    except _Refusal as refusal:
        status, answer = refusal.status, {"error": refusal.message}
    record["status"] = status
    record["duration_ms"] = int((time.monotonic() - started) * 1000)
    return _json(status, answer)


def _check_auth(app, headers: dict) -> None:
    scheme, _, data = (headers.get("authorization") or "").partition(" ")
    try:
        key, _, secret = base64.b64decode(data.strip(), validate=True).decode().partition(":")
    except ValueError:
        key = secret = ""
    if scheme.lower() != "basic" or not (
        hmac.compare_digest(key, app.key) and hmac.compare_digest(secret, app.secret)
    ):
        raise _Refusal(401, "unauthorized: wrong or missing metering key and secret")


def _day(data: dict, name: str) -> date:
    value = data.get(name)
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise _Refusal(400, f"{name} must be a YYYY-MM-DD date, not {value!r}") from None


def _noise(*parts: str) -> float:
    """A number in [0, 1) that depends only on `parts`."""
    digest = hashlib.sha256(":".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _label_usage(category: str, label: str, cid: str, day: date, users: int, admins: int):
    seed = (cid, category, label, day.isoformat())
    if category == "compute":
        hours = (8 if label == "gpu1" else 20) * _noise(*seed)
        return float(int(hours * 3600))
    if category == "storage":
        base = 2048 + 20000 * _noise(cid, "storage")
        return round(base * (1 + 0.002 * (day.toordinal() % 50)), 4)
    return float(max(1, admins) if label == "admins" else max(0, users - admins))


def _category(name: str, cid: str, days: list[date], users: int, admins: int, labels_on: bool):
    kind, strategy, unit, labels = CATEGORIES[name]
    per_label = {}
    for label, (price, units) in labels.items():
        usages = [_label_usage(name, label, cid, d, users, admins) for d in days]
        costs = [round(u * price / units, 4) for u in usages]
        per_label[label] = {
            "display_name": label,
            "pricing": {"price": price, "units": units},
            "usages": usages,
            "costs": costs,
            "total_usage": sum(usages) if strategy == "sum" else (usages[-1] if usages else 0),
            "total_cost": round(sum(costs), 4),
        }
    usages = [round(sum(v["usages"][i] for v in per_label.values()), 4) for i in range(len(days))]
    costs = [round(sum(v["costs"][i] for v in per_label.values()), 4) for i in range(len(days))]
    result = {
        "type": kind,
        "display_name": name,
        "free": False,
        "count_strategy": strategy,
        "unit_name": unit,
        "total_usage_type": "total" if strategy == "sum" else "latest",
        "dates": [d.isoformat() for d in days],
        "usages": usages,
        "costs": costs,
        "total_usage": round(sum(usages), 4) if strategy == "sum" else (usages[-1] if days else 0),
        "total_cost": round(sum(costs), 4),
    }
    if labels_on:
        result["labels"] = per_label
    return result


def get_usages(data: dict, users: dict[str, int], admins: dict[str, int]) -> dict:
    unknown = sorted(set(data) - {"tenant", "from_date", "to_date", "categories", "include_labels"})
    if unknown:
        raise _Refusal(400, f"unknown fields: {', '.join(unknown)}")
    first, last = _day(data, "from_date"), _day(data, "to_date")
    if last < first:
        raise _Refusal(400, "to_date is before from_date")
    if (last - first).days >= MAX_DAYS:
        raise _Refusal(400, f"at most {MAX_DAYS} days per query")
    wanted = data.get("categories") or list(CATEGORIES)
    if not isinstance(wanted, list) or not all(isinstance(c, str) for c in wanted):
        raise _Refusal(400, "categories must be a list of names")
    tenant = data.get("tenant")
    labels_on = data.get("include_labels", True) is not False
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    tenants = []
    for cid in sorted(users):
        if tenant not in (None, "") and tenant != cid:
            continue
        categories = {
            name: _category(name, cid, days, users[cid], admins[cid], labels_on)
            for name in CATEGORIES
            if name in wanted
        }
        tenants.append(
            {
                "currency": "USD",
                "tenant": cid,
                "total_cost": round(sum(c["total_cost"] for c in categories.values()), 4),
                "categories": categories,
            }
        )
    return {"tenants": tenants}
