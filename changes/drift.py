"""Drift: where the server no longer holds what the console wants (docs/worker.md, "Drift").

After each refresh the worker compares the console's desired state with the snapshot and keeps
the differences in the snapshot (kind `drift`), so the Drift page and the dashboard read one row:

- a tenant's settings (`features`, `exclude_features`, `allowed_users`) against its company's
  `defaults` as `system.get_companies` answered (lists compared as sets: the server keeps no
  meaningful order);
- a tenant's sign-in routing (domains, whitelist and each entry's role) against what
  `login.get_settings` answered (sso.routing.push.routing_diff).

Each difference has two actions, each a changeset through the pipeline: **adopt the server's
value** (a console-only change: the tenant's settings, or a routing pull) and **re-apply the
console's value** (the call that makes the server match, journaled and applied like any tenant
change). After either, the tenant is read again and its drift recomputed.
"""

from dataclasses import dataclass

from django.db import transaction

from console.audit import current_changeset
from console.snapshot import queries as snapshot
from console.snapshot import store
from console.snapshot.models import ServerSnapshot
from console.validation import FieldError, InvalidInput
from sso.models import LoginDomain, WhitelistEntry
from sso.routing.push import parse_server_state, routing_diff
from sso.routing.validation import RoutingSet
from tenants import services
from tenants.models import ProvisioningStep, Tenant
from tenants.provisioning import calls as build
from tenants.provisioning.engine import record_run

from .engine import changeset_open, changeset_set_steps, local_change
from .models import Changeset
from .refresh import refresh_server_state
from .routing import routing_pull
from .tenants import TenantApplied, journal_plan, login_steps, tenant_apply

DRIFT = "drift"  # snapshot kind; key "": {"items": [...]}
SETTINGS = ("features", "exclude_features", "allowed_users")
ROUTING = "routing"


@dataclass(frozen=True)
class Difference:
    tenant_id: int
    tenant: str
    field: str  # one of SETTINGS, or "routing"
    console: object
    server: object

    @property
    def key(self) -> str:
        return f"{self.tenant_id}:{self.field}"


def _same_setting(field: str, console, server) -> bool:
    if field == "allowed_users":
        return (console or None) == (int(server) if server not in (None, "") else None)
    return sorted(console or []) == sorted(server or [])


def _console_routing(tenants: list[Tenant]) -> dict[int, RoutingSet]:
    """Every tenant's routing in two queries."""
    found = {t.pk: RoutingSet(tenant_name=t.name) for t in tenants}
    for tenant_id, domain in (
        LoginDomain.objects.filter(tenant__in=tenants)
        .order_by("tenant_id", "position", "id")
        .values_list("tenant_id", "domain")
    ):
        found[tenant_id].domains.append(domain)
    for tenant_id, email, is_admin in (
        WhitelistEntry.objects.filter(tenant__in=tenants)
        .order_by("tenant_id", "position", "id")
        .values_list("tenant_id", "email", "is_admin")
    ):
        (found[tenant_id].admins if is_admin else found[tenant_id].users).append(email)
    return found


def _routing_view(routing: RoutingSet | None = None, server=None) -> dict:
    if server is not None:
        return {"domains": server.domains, "whitelist": server.whitelist}
    whitelist = {e: True for e in routing.admins} | {e: False for e in routing.users}
    return {"domains": routing.domains, "whitelist": whitelist}


def drift_compute() -> list[Difference]:
    """Compare every active tenant with the snapshot and keep the differences (one write)."""
    companies = {c["id"]: c for c in snapshot.companies().companies if isinstance(c, dict)}
    tenants = list(
        Tenant.objects.filter(deleted_at__isnull=True, status=Tenant.Status.ACTIVE)
        .exclude(company_id="")
        .order_by("name", "pk")
    )
    read = {
        row.key: row.data
        for row in ServerSnapshot.objects.filter(
            kind=store.ROUTING, key__in=[t.company_id for t in tenants]
        )
    }
    routing = _console_routing(tenants)
    found: list[Difference] = []
    for tenant in tenants:
        company = companies.get(tenant.company_id)
        if company is None:
            continue  # not on the server: the tenant list says so
        defaults = company.get("defaults") or {}
        for field in SETTINGS:
            console, server = getattr(tenant, field), defaults.get(field)
            if not _same_setting(field, console, server):
                found.append(Difference(tenant.pk, tenant.name, field, console, server))
        data = read.get(tenant.company_id)
        if not isinstance(data, dict) or store.ERROR_KEY in data:
            continue  # not read (or its read failed): nothing to compare with
        server = parse_server_state(data)
        if not routing_diff(routing[tenant.pk], server).in_sync:
            found.append(
                Difference(
                    tenant.pk,
                    tenant.name,
                    ROUTING,
                    _routing_view(routing[tenant.pk]),
                    _routing_view(server=server),
                )
            )
    store.snapshot_put(DRIFT, "", {"items": [d.__dict__ for d in found]})
    return found


def drift_items() -> list[Difference]:
    """The differences found by the last comparison (one query)."""
    row = snapshot.row(DRIFT)
    items = (row.data or {}).get("items", []) if row is not None else []
    return [Difference(**item) for item in items if isinstance(item, dict)]


def drift_count() -> int:
    return len(drift_items())


def _difference(tenant_id: int, field: str) -> tuple[Difference, Tenant]:
    """The difference the page showed; InvalidInput when it is gone (resolved meanwhile)."""
    for item in drift_items():
        if item.tenant_id == tenant_id and item.field == field:
            tenant = Tenant.objects.filter(pk=tenant_id, deleted_at__isnull=True).first()
            if tenant is not None:
                return item, tenant
    raise InvalidInput(
        FieldError(
            "difference",
            f"{field} of tenant {tenant_id} no longer differs from the server as last read; "
            "reload the Drift page",
        )
    )


def _read_again(tenant: Tenant) -> None:
    refresh_server_state(tenant_ids=[tenant.pk])
    drift_compute()


def drift_adopt(*, tenant_id: int, field: str, actor: str, face: str = "form") -> Changeset | None:
    """Take the server's value as the console's (a console-only changeset). Raises InvalidInput
    (gone meanwhile, or the server's routing cannot be taken: another tenant holds a key)."""
    item, tenant = _difference(tenant_id, field)
    if field == ROUTING:
        changeset, _ = routing_pull(tenant=tenant, actor=actor, face=face)
    else:
        changeset, _ = local_change(
            kind="drift.adopt",
            summary=f"Adopt the server's {field} of tenant {tenant.name}",
            actor=actor,
            face=face,
            desired={"tenant": tenant.pk, field: item.server},
            write=lambda: services.tenant_settings_adopt(
                tenant=tenant, field=field, value=item.server, actor=actor
            ),
        )
    _read_again(tenant)
    return changeset


def drift_reapply(*, tenant_id: int, field: str, actor: str, face: str = "form") -> TenantApplied:
    """Send the console's value to the server again (a changeset of the tenant's calls). Raises
    InvalidInput (gone meanwhile) and what tenant_apply raises (TenantBusy)."""
    item, tenant = _difference(tenant_id, field)
    if field == ROUTING:
        server = {
            "domains": item.server["domains"],
            "whitelist": [{"email": e, "is_admin": a} for e, a in item.server["whitelist"].items()],
        }
        specs = login_steps(tenant, server_state=server, routing=None)
        what = "sign-in routing"
    else:
        body = {"company": tenant.company_id, field: getattr(tenant, field)}
        description = f"Re-apply the console's {field}"
        specs = [
            build.StepSpec(
                kind=ProvisioningStep.Kind.CALL,
                endpoint="system.update_company_settings",
                body=body,
                description=description,
            )
        ]
        what = field
    with transaction.atomic():
        changeset = changeset_open(
            kind="tenant.drift",
            summary=f"Re-apply the console's {what} of tenant {tenant.name}",
            actor=actor,
            face=face,
        )
        with current_changeset(changeset.audit_key):
            record_run(tenant, specs, actor=actor, changeset=changeset.audit_key)
        changeset_set_steps(
            changeset,
            journal_plan(
                tenant, list(tenant.recorded_steps), kind=changeset.kind, summary=changeset.summary
            ),
        )
    applied = tenant_apply(tenant=tenant, actor=actor, face=face)
    _read_again(tenant)
    return applied
