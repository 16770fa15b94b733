"""The tenants' admin vaults as the last refresh read them: summaries only (id, description,
group, format, enabled, size, fingerprint), never a vault's content (changes/fleet_reads.py)."""

from dataclasses import dataclass, field
from datetime import datetime

from .models import ServerSnapshot
from .store import ERROR_KEY, VAULTS


@dataclass
class TenantVaults:
    tenant: str
    tenant_id: int | None
    company_id: str
    vaults: list[dict] = field(default_factory=list)  # group-scoped only
    note: str = ""  # why the list is missing or old: a failed read, a server without vaults
    fetched_at: datetime | None = None


def _tenant_vaults(obj: ServerSnapshot) -> TenantVaults:
    data = obj.data if isinstance(obj.data, dict) else {}
    found = TenantVaults(
        tenant=str(data.get("tenant") or obj.key),
        tenant_id=data.get("tenant_id"),
        company_id=obj.key,
        fetched_at=obj.fetched_at if "vaults" in data else None,
    )
    found.vaults = [v for v in data.get("vaults") or [] if v.get("scope") == "group"]
    error = (data.get(ERROR_KEY) or {}).get("message")
    if data.get("supported") is False:
        found.note = f"this apiserver has no administrator vaults: {data.get('message')}"
    elif error and error.startswith("auth.login"):
        found.note = (
            f"the tenant's admin cannot sign in: {error}. Use `manage.py vault … "
            "--credentials-from FILE` with an admin's key pair."
        )
    elif error:
        found.note = f"the last refresh could not read them: {error}"
    return found


def all_vaults() -> list[TenantVaults]:
    rows = ServerSnapshot.objects.filter(kind=VAULTS)
    return sorted((_tenant_vaults(o) for o in rows), key=lambda t: t.tenant.casefold())


def vaults_of(company_id: str) -> TenantVaults | None:
    obj = ServerSnapshot.objects.filter(kind=VAULTS, key=company_id).first() if company_id else None
    return _tenant_vaults(obj) if obj is not None else None
