"""The credentials inventory: every tenant user's API keys as the last refresh read them.

Read from the snapshot only (kind `credentials`, one row per tenant, written by the refresh:
changes/fleet_reads.py); a page or a command never calls the apiserver for it. The same rows
feed the /credentials/ page, its CSV export and `manage.py credentials`.

**Marked keys.** A key whose label says it is used by a machine — an App Gateway or an agent —
is marked, and revoking it needs the access key typed again. The label (ignoring case, with
`-`, `_` and `.` read as spaces) is marked "App Gateway" when it contains `appgw`,
`app gateway`, `application gateway` or `gateway`, and "agent" when it contains `agent`,
`k8s glue`, `k8sglue` or `glue`. Labels are free text: these words are the ones the ClearML docs
use for these services (the clearml-agent's k8s glue, the AI Application Gateway).
"""

import csv
import io
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .models import ServerSnapshot
from .store import CREDENTIALS, ERROR_KEY

GATEWAY, AGENT = "App Gateway", "agent"
_GATEWAY_WORDS = ("appgw", "app gateway", "application gateway", "gateway")
_AGENT_WORDS = ("agent", "k8s glue", "k8sglue", "glue")
USAGE = {"all": "all keys", "never": "never used", "stale": "not used for N days"}
SORTS = {
    "tenant": lambda r: (r.tenant.casefold(), r.email, r.access_key),
    "user": lambda r: (r.email.casefold(), r.access_key),
    "access_key": lambda r: r.access_key,
    "label": lambda r: (r.label.casefold(), r.access_key),
    # never used sorts first: the oldest use is the first thing to look at
    "last_used": lambda r: (r.last_used is not None, r.last_used or datetime.min, r.access_key),
    "created": lambda r: (r.created is not None, r.created or datetime.min, r.access_key),
}
MAX_ACCESS_KEY = 100  # ClearML's keys are 30 characters (IssuedCredential keeps up to 100)
JSON_FIELDS = ("tenant", "user", "email", "access_key", "label", "last_used", "last_used_from")
CSV_FIELDS = (*JSON_FIELDS, "created", "marked", "role", "user_id", "company_id")


def marked_as(label: str) -> str:
    """ "App Gateway", "agent" or "" for a key's label (see the module's docstring)."""
    text = " " + re.sub(r"[-_.\s]+", " ", (label or "").casefold()) + " "
    if any(word in text for word in _GATEWAY_WORDS):
        return GATEWAY
    if any(word in text for word in _AGENT_WORDS):
        return AGENT
    return ""


def _when(value) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_fixed_timezone(0))
    return parsed


@dataclass
class CredentialRow:
    tenant: str
    tenant_id: int | None
    company_id: str
    user_id: str
    user: str
    email: str
    role: str
    access_key: str
    label: str
    last_used: datetime | None
    last_used_from: str
    created: datetime | None
    marked: str = ""

    def as_json(self) -> dict:
        """The shape `manage.py credentials --json` prints."""
        row = {k: getattr(self, k) for k in JSON_FIELDS}
        row["last_used"] = self.last_used.isoformat() if self.last_used else None
        row["last_used_from"] = self.last_used_from or None
        return row


@dataclass
class TenantNote:
    """Why a tenant's keys are missing or incomplete (shown on the page, per tenant)."""

    tenant: str
    message: str


@dataclass
class Inventory:
    rows: list[CredentialRow] = field(default_factory=list)
    notes: list[TenantNote] = field(default_factory=list)
    as_of: datetime | None = None  # the oldest tenant row shown: everything is at least this new
    tenants: int = 0


def inventory(*, tenant: str = "") -> Inventory:
    """Every key of every tenant (or of the tenants whose name contains `tenant`, ignoring
    case), with the per-tenant notes: a read that failed, a server without the call."""
    found = Inventory()
    wanted = tenant.strip().casefold()
    for obj in ServerSnapshot.objects.filter(kind=CREDENTIALS).order_by("key"):
        data = obj.data if isinstance(obj.data, dict) else {}
        name = str(data.get("tenant") or obj.key)
        if wanted and wanted not in name.casefold():
            continue
        found.tenants += 1
        error = (data.get(ERROR_KEY) or {}).get("message")
        if error:
            found.notes.append(TenantNote(name, f"the last refresh could not read it: {error}"))
        if data.get("supported") is False:
            found.notes.append(TenantNote(name, f"the server has no such call: {data['message']}"))
        if data.get("failed_users"):
            first = "; ".join(data.get("user_errors") or [])
            found.notes.append(
                TenantNote(name, f"the keys of {data['failed_users']} user(s) not read: {first}")
            )
        if data.get("users_not_read"):
            found.notes.append(
                TenantNote(name, f"{data['users_not_read']} user(s) past the read limit")
            )
        if "credentials" in data:
            found.as_of = (
                obj.fetched_at if found.as_of is None else min(found.as_of, obj.fetched_at)
            )
        for item in data.get("credentials") or []:
            found.rows.append(_row(item, name, data.get("tenant_id"), obj.key))
    return found


def _row(item: dict, tenant: str, tenant_id, company_id: str) -> CredentialRow:
    label = str(item.get("label") or "")
    return CredentialRow(
        tenant=tenant,
        tenant_id=tenant_id,
        company_id=company_id,
        user_id=str(item.get("user_id") or ""),
        user=str(item.get("user") or ""),
        email=str(item.get("email") or ""),
        role=str(item.get("role") or ""),
        access_key=str(item.get("access_key") or ""),
        label=label,
        last_used=_when(item.get("last_used")),
        last_used_from=str(item.get("last_used_from") or ""),
        created=_when(item.get("created")),
        marked=marked_as(label),
    )


def select(
    rows: list[CredentialRow],
    *,
    usage: str = "all",
    days: int | None = None,
    created_before: date | None = None,
    sort: str = "tenant",
    now: datetime | None = None,
) -> list[CredentialRow]:
    """The rows the filters keep, sorted. `usage`: "never" (never used), "stale" (not used for
    `days` days, never-used keys included), or "all". `created_before`: keys created before that
    day (a key whose creation time is unknown is left out)."""
    now = now or timezone.now()
    kept = rows
    if usage == "never":
        kept = [r for r in kept if r.last_used is None]
    elif usage == "stale" and days is not None:
        limit = now - timedelta(days=days)
        kept = [r for r in kept if r.last_used is None or r.last_used < limit]
    if created_before is not None:
        kept = [r for r in kept if r.created is not None and r.created.date() < created_before]
    key = SORTS.get(sort.removeprefix("-"), SORTS["tenant"])
    return sorted(kept, key=key, reverse=sort.startswith("-"))


def find_key(access_key: str) -> CredentialRow | None:
    """One key as last read (its tenant, user and label), or None when no tenant lists it."""
    wanted = access_key.strip()
    if not wanted or len(wanted) > MAX_ACCESS_KEY:  # a LIKE past SQLite's limit would fail
        return None
    rows = ServerSnapshot.objects.filter(kind=CREDENTIALS, data__icontains=wanted)
    for obj in rows:
        data = obj.data if isinstance(obj.data, dict) else {}
        for item in data.get("credentials") or []:
            if item.get("access_key") == wanted:
                return _row(
                    item, str(data.get("tenant") or obj.key), data.get("tenant_id"), obj.key
                )
    return None


def to_csv(rows: list[CredentialRow]) -> str:
    """The rows as CSV (header first); dates in ISO 8601, empty when unknown."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        values = asdict(row)
        for name in ("last_used", "created"):
            values[name] = values[name].isoformat() if values[name] else ""
        writer.writerow({k: _cell(values.get(k)) for k in CSV_FIELDS})
    return out.getvalue()


def _cell(value) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def credential_amend(
    company_id: str,
    *,
    remove: str = "",
    access_key: str = "",
    label: str | None = None,
    add: dict | None = None,
) -> bool:
    """The change pipeline's amend after it changed a key on the server: `remove` a revoked key,
    set the `label` of `access_key`, or `add` a new key (never a secret). The row keeps its
    `fetched_at` (the other keys are still as of then). False when the tenant was never read."""
    with transaction.atomic():
        row = (
            ServerSnapshot.objects.select_for_update()
            .filter(kind=CREDENTIALS, key=company_id)
            .first()
        )
        if row is None or not isinstance(row.data, dict):
            return False
        items = [i for i in row.data.get("credentials") or [] if isinstance(i, dict)]
        if remove:
            items = [i for i in items if i.get("access_key") != remove]
        if access_key and label is not None:
            for item in items:
                if item.get("access_key") == access_key:
                    item["label"] = label
        if add:
            item = {k: add.get(k) for k in ("access_key", "label", "user_id", "user", "email")}
            item.update(role=add.get("role"), created=timezone.now().isoformat())
            item.update(created_by="console", last_used=None, last_used_from=None)
            items.append(item)
        row.data = {**row.data, "credentials": items}
        row.save(update_fields=["data"])
    return True
