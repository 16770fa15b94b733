"""Applying a plan: store the SPEC's tenants in the console, then run their steps concurrently.

The console's side is written first in one transaction (tenants, admins, routing, the steps of
a new run, an audit entry each). Then up to `concurrency` tenants run at a time, each tenant's
steps in order (tenants.provisioning.engine). A failure stops only that tenant; running apply
again re-plans from what the server and the console hold, so it finishes the job without
creating anything twice.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from console.audit.bulk import bulk_append
from tenants.models import Tenant, TenantAdmin
from tenants.provisioning.engine import (
    DEFAULT_CONCURRENCY,
    IssuedSecret,
    RunOutcome,
    record_first_runs,
    record_runs,
    run_many,
    supersede_open_steps_many,
)
from tenants.services import tenant_snapshot

from .plan import AdminPlan, ClientFactory, Plan, TenantPlan

READ_CHUNK = 500  # tenants per query when their rows are locked or read together


@dataclass
class ApplyResult:
    outcomes: list[RunOutcome] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)  # tenants changed in the console only
    # id(TenantPlan) -> the console tenant it was saved as.
    tenant_ids: dict[int, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def failures(self) -> list[RunOutcome]:
        return [o for o in self.outcomes if not o.ok]


def _new_tenant(tp: TenantPlan) -> Tenant:
    item = tp.input
    return Tenant(
        name=item.name,
        company_id=tp.company_id,
        allowed_users=item.allowed_users,
        features=item.features,
        exclude_features=item.exclude_features,
        origin=Tenant.Origin.IMPORTED if tp.company is not None else Tenant.Origin.CONSOLE,
        status=Tenant.Status.PLANNED if tp.steps else Tenant.Status.ACTIVE,
    )


def _new_admin(tenant: Tenant, ap: AdminPlan) -> TenantAdmin:
    return TenantAdmin(
        tenant=tenant,
        name=ap.input.name,
        email=ap.input.email,
        internal=ap.input.internal,
        user_id=ap.user_id,
    )


def _audit_row(tp: TenantPlan, tenant: Tenant, actor: str, before: dict | None) -> dict:
    """The tenant's console record entry, as audit_record keyword arguments (each call it makes
    has a pending entry of its own, written with its step)."""
    if tp.console is None:
        action = "tenant.import" if tp.company is not None else "tenant.create"
    else:
        action = "tenant.update"
    return {
        "actor": actor,
        "action": action,
        "target_type": "tenant",
        "target_id": str(tenant.pk),
        "target_repr": tenant.name,
        "before": before,
        "after": tenant_snapshot(tenant, tenant.saved_admins),
        "outcome": "success",
    }


def _create_tenants(
    tps: list[TenantPlan], actor: str, changeset: str
) -> tuple[list[Tenant], list[dict]]:
    """Save the tenants the console does not have yet, all together: one INSERT each for the
    tenants, their admins, domains, whitelist entries and steps, whatever their number.

    Returns the tenants (in the order given) and their audit entries (each new tenant's routing
    change, as routing_save records it, then the tenants) for the caller to append.
    """
    from sso.routing.services import routing_save_new

    tenants = Tenant.objects.bulk_create([_new_tenant(tp) for tp in tps])
    admins = TenantAdmin.objects.bulk_create(
        [_new_admin(t, ap) for t, tp in zip(tenants, tps, strict=True) for ap in tp.admins]
    )
    by_tenant: dict[int, dict[str, TenantAdmin]] = {t.pk: {} for t in tenants}
    for admin in admins:
        by_tenant[admin.tenant_id][admin.email] = admin
    for tenant in tenants:
        tenant.saved_admins = list(by_tenant[tenant.pk].values())
    pairs = list(zip(tenants, tps, strict=True))
    rows = routing_save_new(
        [(t, tp.input.login) for t, tp in pairs if tp.input.login is not None],
        actor=actor,
        source="spec",
    )
    record_first_runs(
        ((t, tp.steps, by_tenant[t.pk]) for t, tp in pairs if tp.steps),
        actor=actor,
        changeset=changeset,
    )
    rows += [_audit_row(tp, t, actor, None) for t, tp in pairs]
    return tenants, rows


def _tenant_changes(tp: TenantPlan) -> dict:
    """The tenant's own fields the SPEC changes."""
    item, tenant = tp.input, tp.console
    changes: dict = {}
    for key in ("allowed_users", "features", "exclude_features"):
        if key in item.given and getattr(tenant, key) != getattr(item, key):
            changes[key] = getattr(item, key)
    if tp.adopt_company and not tenant.company_id:
        changes["company_id"] = tp.company_id
    return changes


def _update_alike(model, objs: list, fields: list[str]) -> None:
    """`model.objects.bulk_update(objs, fields)`, as one UPDATE ... WHERE pk IN (...) per set of
    equal values: a SPEC gives many tenants the same values, and bulk_update's CASE with a
    branch per row and field costs far more to build than one such UPDATE."""
    groups: dict[tuple, tuple[list, list[int]]] = {}
    for obj in objs:
        values = [getattr(obj, name) for name in fields]
        key = tuple((type(v), repr(v) if isinstance(v, list | dict) else v) for v in values)
        groups.setdefault(key, (values, []))[1].append(obj.pk)
    for values, pks in groups.values():
        for start in range(0, len(pks), READ_CHUNK):
            rows = model.objects.filter(pk__in=pks[start : start + READ_CHUNK])
            rows.update(**dict(zip(fields, values, strict=True)))


def _save_tenants(
    tps: list[TenantPlan], actor: str, changeset: str
) -> tuple[list[Tenant], list[dict]]:
    """Save the SPEC's version of tenants the console already has (_create_tenants saves new
    ones), all together: one UPDATE per set of changed fields for the tenants, one for the
    admins whose users were found, one INSERT for new admins, and their new runs recorded at
    once (record_runs), and every tenant's routing at once (routing_save_locked).

    Returns the tenants (in the order given) and their audit entries, for the caller to append.
    """
    from sso.routing.queries import tenants_routing
    from sso.routing.services import routing_save_locked

    tenants = [tp.console for tp in tps]
    before = [tenant_snapshot(tenant) for tenant in tenants]
    now = timezone.now()
    changed: dict[tuple[str, ...], list[Tenant]] = {}
    for tp, tenant in zip(tps, tenants, strict=True):
        changes = _tenant_changes(tp)
        if changes:
            for key, value in changes.items():
                setattr(tenant, key, value)
            tenant.version += 1
            tenant.updated_at = now
            changed.setdefault(tuple(changes), []).append(tenant)
    for fields, group in changed.items():
        _update_alike(Tenant, group, [*fields, "version", "updated_at"])
    by_tenant: dict[int, dict[str, TenantAdmin]] = {}
    added, adopted = [], []
    for tp, tenant in zip(tps, tenants, strict=True):
        by_email = by_tenant[tenant.pk] = {a.email: a for a in tenant.admins.all()}
        for ap in tp.admins:
            admin = by_email.get(ap.input.email)
            if admin is None:
                added.append(_new_admin(tenant, ap))
            elif ap.adopt and not admin.user_id:
                admin.user_id = ap.user_id
                adopted.append(admin)
    if adopted:
        TenantAdmin.objects.bulk_update(adopted, ["user_id"])
    for admin in TenantAdmin.objects.bulk_create(added):
        by_tenant[admin.tenant_id][admin.email] = admin
    for tenant in tenants:
        tenant.saved_admins = list(by_tenant[tenant.pk].values())
    pairs = list(zip(tps, tenants, strict=True))
    routed = [(tp, tenant) for tp, tenant in pairs if tp.input.login is not None]
    # Every routing tenant locked, then its routing read, at once: routing_save_locked takes
    # what was read. The locks last until the caller's transaction ends.
    current = {}
    for start in range(0, len(routed), READ_CHUNK):
        chunk = [tenant for _, tenant in routed[start : start + READ_CHUNK]]
        locking = Tenant.objects.select_for_update().filter(pk__in=[t.pk for t in chunk])
        list(locking.order_by("pk").values_list("pk", flat=True))
        current |= tenants_routing(chunk)
    # Their routing saved at once, and its entries appended where one routing_save per tenant
    # would have written them: before the runs' pending entries.
    routing_rows = routing_save_locked(
        [(tenant, tp.input.login, current[tenant.pk]) for tp, tenant in routed],
        actor=actor,
        source="spec",
    )
    if routing_rows:
        bulk_append(routing_rows)
    record_runs(
        ((tenant, tp.steps, by_tenant[tenant.pk]) for tp, tenant in pairs if tp.steps),
        actor=actor,
        changeset=changeset,
    )
    # Read calls showed the server already holds everything: the open steps are settled.
    settled = [
        tenant
        for tp, tenant in pairs
        if not tp.steps and tenant.status != Tenant.Status.ACTIVE and tenant.company_id
    ]
    if settled:
        closing = supersede_open_steps_many(settled, actor=actor, changeset=changeset)
        bulk_append([row for tenant in settled for row in closing[tenant.pk]])
        Tenant.objects.filter(pk__in=[t.pk for t in settled]).update(
            status=Tenant.Status.ACTIVE, lease_until=None
        )
        for tenant in settled:
            tenant.status = Tenant.Status.ACTIVE
    rows = [
        _audit_row(tp, tenant, actor, was)
        for tp, tenant, was in zip(tps, tenants, before, strict=True)
    ]
    return tenants, rows


def apply_plan(
    plan: Plan,
    *,
    actor: str,
    client_factory: ClientFactory,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[RunOutcome], None] | None = None,
    on_credentials: Callable[[RunOutcome, IssuedSecret], None] | None = None,
    changeset: str = "",
    on_recorded: Callable[["ApplyResult"], None] | None = None,
) -> ApplyResult:
    """Save the console's side of the plan, then run the tenants' calls.

    `changeset`: the id of the changeset the steps belong to (their journal rows carry it).
    `on_credentials(outcome, secret)` is called the moment new credentials exist (their record
    committed), before the next call goes out, so a run killed later cannot lose them.
    `on_recorded(result)` runs inside the transaction that records the console's side, before
    any call is sent.
    """
    result = ApplyResult()
    to_run: list[int] = []
    secrets: dict[int, dict[int, dict[str, str]]] = {}
    sso_by_tenant: dict[int, TenantPlan] = {}
    plans: dict[int, TenantPlan] = {}
    saved: dict[int, Tenant] = {}
    with transaction.atomic():
        new = [tp for tp in plan.tenants if tp.console is None]
        created, audit_rows = _create_tenants(new, actor, changeset) if new else ([], [])
        created_for = {id(tp): tenant for tp, tenant in zip(new, created, strict=True)}
        known = [
            tp for tp in plan.tenants if tp.console is not None and (tp.steps or tp.console_changes)
        ]
        saved_as, rows = _save_tenants(known, actor, changeset) if known else ([], [])
        audit_rows += rows
        saved_for = {id(tp): tenant for tp, tenant in zip(known, saved_as, strict=True)}
        for tp in plan.tenants:
            tenant = created_for.get(id(tp)) or saved_for.get(id(tp))
            if tenant is None:
                continue
            plans[tenant.pk] = tp
            saved[tenant.pk] = tenant
            if tp.steps:
                to_run.append(tenant.pk)
                secrets[tenant.pk] = tp.secrets()
                if tp.input.sso is not None:
                    sso_by_tenant[tenant.pk] = tp
            else:
                result.stored.append(tenant.name)
        # Every tenant's console record entry, appended in one go.
        bulk_append(audit_rows)
        result.tenant_ids = {id(tp): pk for pk, tp in plans.items()}
        if on_recorded is not None:
            on_recorded(result)  # the changeset's steps, with the journal rows now known

    def done(outcome: RunOutcome) -> None:
        # Runs in the worker thread that ran the tenant, before its connection is closed.
        tp = sso_by_tenant.get(outcome.tenant_id)
        if outcome.ok and tp is not None:
            _record_sso_pushed(outcome.tenant_id, tp, actor)
        if on_done is not None:
            on_done(outcome)

    result.outcomes = run_many(
        to_run,
        client_factory=client_factory,
        concurrency=concurrency,
        on_done=done,
        secrets=secrets,
        preloaded={pk: saved[pk] for pk in to_run},
        on_credentials=on_credentials,
        audit_actor=actor,
    )
    return result


def _record_sso_pushed(tenant_id: int, tp: TenantPlan, actor: str) -> None:
    """Remember what was pushed (with the real company id) so the next apply sends nothing."""
    from sso.multitenant.services import tenant_sso_calls, tenant_sso_record_pushed

    tenant = Tenant.objects.get(pk=tenant_id)
    calls = tenant_sso_calls(tenant=tenant, sso=tp.input.sso, skip_unchanged=False)
    tenant_sso_record_pushed(actor=actor, tenant=tenant, sso=tp.input.sso, calls=calls)
