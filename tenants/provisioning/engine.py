"""Recording and running provisioning steps: in order per tenant, resumable, never twice.

Each step is saved as "sent" before its call goes out and as "done", "failed" or "unknown"
(answer lost) after. A create step that was sent before is first settled with a read call
: the company by name, the user by email; a credentials step
whose answer was lost revokes the key nobody saw and creates a new pair. Independent tenants
run concurrently in a bounded thread pool; one tenant's steps always run one after another.
"""

import contextvars
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from django.db import connection, connections, router, transaction
from django.db.models import Exists, Max, OuterRef, QuerySet, Subquery
from django.utils import timezone

from console.apiserver import ApiClient, ApiError, CallRecord
from console.apiserver.plan import PlannedCall
from console.audit.bulk import bulk_append
from console.audit.masking import scrub_text
from console.audit.models import AuditEntry
from console.prepared import Prepared
from tenants.models import IssuedCredential, ProvisioningStep, Tenant, TenantAdmin

from . import lookups
from .calls import MissingId, StepSpec, fill

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
DEFAULT_CONCURRENCY = 16
OPEN = [
    ProvisioningStep.Status.PENDING,
    ProvisioningStep.Status.SENT,
    ProvisioningStep.Status.FAILED,
    ProvisioningStep.Status.UNKNOWN,
]
ClientFactory = Callable[[Callable[[CallRecord], None]], ApiClient]


class TenantBusy(Exception):
    """Another run holds the tenant (someone else pressed Apply or Resume)."""


@dataclass
class IssuedSecret:
    """New credentials, kept in memory only until they are shown once."""

    email: str
    access_key: str
    secret_key: str = field(repr=False)


@dataclass
class RunOutcome:
    tenant_id: int
    tenant_name: str
    ok: bool
    done: int = 0
    total: int = 0
    failed_step: ProvisioningStep | None = None
    error: str = ""
    created: list[str] = field(default_factory=list)
    credentials: list[IssuedSecret] = field(default_factory=list, repr=False)
    calls: list[CallRecord] = field(default_factory=list, repr=False)
    nothing_to_do: bool = False
    tenant: Tenant | None = field(default=None, repr=False)
    steps: list[ProvisioningStep] = field(default_factory=list, repr=False)
    # The steps this run tried, each with the slice of `calls` it made: one audit entry each.
    ran: list[tuple[ProvisioningStep, slice]] = field(default_factory=list, repr=False)
    on_credentials: Callable | None = field(default=None, repr=False)

    def failure_line(self) -> str:
        if self.ok:
            return ""
        step = self.failed_step
        if step is None:
            return f"{self.tenant_name}: {self.error}"
        return (
            f"{self.tenant_name}: step {step.position} ({step.description or step.endpoint}) "
            f"failed: {self.error}"
        )


def record_run(
    tenant: Tenant,
    specs: Iterable[StepSpec],
    *,
    actor: str,
    changeset: str = "",
    new: bool = False,
    admins: dict[str, TenantAdmin] | None = None,
) -> int:
    """Save the steps of a new run for the tenant; open steps of earlier runs are superseded.

    Each step gets its "pending" audit entry now, before any call is sent, so even a run killed
    mid-way leaves every call it may have made in the audit log. Call inside the caller's
    transaction, with the tenant's admins already saved. `new`: the tenant was just created (no
    earlier run); `admins`: its admins by email, if at hand.
    """
    if admins is None:
        admins = {a.email: a for a in tenant.admins.all()}
    run = 1
    superseded: list[dict] = []
    if not new:
        superseded = supersede_open_steps(tenant, actor=actor, changeset=changeset)
        run = (tenant.steps.aggregate(m=Max("run"))["m"] or 0) + 1
    rows = _step_rows(tenant, run, specs, admins, changeset)
    _audit_pending(rows, tenant, actor, closing=superseded)
    ProvisioningStep.objects.bulk_create(rows)
    tenant.recorded_steps = rows  # for a run that starts right away (apply)
    return run


def record_first_runs(
    runs: Iterable[tuple[Tenant, Iterable[StepSpec], dict[str, TenantAdmin]]],
    *,
    actor: str,
    changeset: str = "",
) -> None:
    """`record_run(tenant, specs, new=True, admins=admins)` for many new tenants, in one INSERT
    (and their pending audit entries in one append).

    Call inside the caller's transaction, with the tenants and their admins already saved.
    """
    rows: list[ProvisioningStep] = []
    audit_rows: list[dict] = []
    for tenant, specs, admins in runs:
        tenant.recorded_steps = _step_rows(tenant, 1, specs, admins, changeset)
        rows += tenant.recorded_steps
        audit_rows += [_pending_row(step, tenant, actor) for step in tenant.recorded_steps]
    for step, seq in zip(rows, bulk_append(audit_rows), strict=True):
        step.pending_seq = seq
    ProvisioningStep.objects.bulk_create(rows)


def record_runs(
    runs: Iterable[tuple[Tenant, Iterable[StepSpec], dict[str, TenantAdmin]]],
    *,
    actor: str,
    changeset: str = "",
) -> None:
    """`record_run(tenant, specs, admins=admins)` for many tenants the console already has, with
    a few queries whatever their number: their open steps superseded in one UPDATE, their latest
    runs read in one query, every closing and pending audit entry in one append (each tenant's
    in record_run's order) and the steps in one INSERT.

    Call inside the caller's transaction, with the tenants' admins already saved.
    """
    runs = list(runs)
    tenants = [tenant for tenant, _, _ in runs]
    if len({t.pk for t in tenants}) != len(tenants):
        raise ValueError("record_runs: a tenant appears twice")
    closing = supersede_open_steps_many(tenants, actor=actor, changeset=changeset)
    latest: dict[int, int] = {}
    for chunk in _chunks([t.pk for t in tenants]):
        rows = ProvisioningStep.objects.filter(tenant_id__in=chunk).order_by().values("tenant_id")
        latest.update(rows.annotate(m=Max("run")).values_list("tenant_id", "m"))
    steps: list[ProvisioningStep] = []
    audit_rows: list[dict] = []
    at: list[int] = []  # where each step's pending entry is in audit_rows
    for tenant, specs, admins in runs:
        tenant.recorded_steps = _step_rows(
            tenant, (latest.get(tenant.pk) or 0) + 1, specs, admins, changeset
        )
        audit_rows += closing[tenant.pk]
        for step in tenant.recorded_steps:
            at.append(len(audit_rows))
            audit_rows.append(_pending_row(step, tenant, actor))
        steps += tenant.recorded_steps
    seqs = bulk_append(audit_rows)
    for step, index in zip(steps, at, strict=True):
        step.pending_seq = seqs[index]
    ProvisioningStep.objects.bulk_create(steps)


# Tenants per query when many tenants' steps are read at once (bound parameters per statement).
CHUNK = 500


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def step_action(step: ProvisioningStep) -> str:
    """A step's audit action: the apiserver call it makes (`system.create_company`, …)."""
    return step.endpoint


def step_audit_view(step: ProvisioningStep) -> dict:
    """What an audit entry says of a step (never a secret: bodies hold markers instead)."""
    view = {
        "position": step.position,
        "run": step.run,
        "endpoint": step.endpoint,
        "description": step.description,
        "status": step.status,
    }
    ids = {k: v for k, v in (step.result or {}).items() if k in ("id", "access_key", "found")}
    if ids:
        view["result"] = ids
    return view


def _step_entry(step: ProvisioningStep, *, actor: str, tenant_id: int, name: str, **fields) -> dict:
    """An audit entry of the step's call on its tenant, as `audit_record` keyword arguments."""
    return {
        "actor": actor,
        "action": step_action(step),
        "target_type": "tenant",
        "target_id": str(tenant_id),
        "target_repr": name,
        **fields,
    }


def _pending_row(step: ProvisioningStep, tenant: Tenant, actor: str) -> dict:
    return _step_entry(
        step,
        actor=actor,
        tenant_id=tenant.pk,
        name=tenant.name,
        after={**step_audit_view(step), "body": step.body},
        outcome="pending",
    )


def _audit_pending(
    rows: list[ProvisioningStep], tenant: Tenant, actor: str, closing: list[dict] = ()
) -> None:
    """Append the closing entries of superseded steps, then a pending entry per new step."""
    seqs = bulk_append([*closing, *(_pending_row(step, tenant, actor) for step in rows)])
    for step, seq in zip(rows, seqs[len(closing) :], strict=True):
        step.pending_seq = seq


def unaudited_outcomes(tenant: Tenant, *, actor: str) -> list[dict]:
    """Outcome entries for finished steps that have none: their run was killed after the step
    finished and before it wrote its audit entries (they are written at the end of a run)."""
    return unaudited_outcomes_many([tenant], actor=actor)[tenant.pk]


def unaudited_outcomes_many(tenants: list[Tenant], *, actor: str) -> dict[int, list[dict]]:
    """`unaudited_outcomes` of many tenants, by tenant id, in one query per CHUNK tenants."""
    out: dict[int, list[dict]] = {t.pk: [] for t in tenants}
    names = {t.pk: t.name for t in tenants}
    audited = AuditEntry.objects.filter(outcome_of=OuterRef("pending_seq"))
    for chunk in _chunks(list(out)):
        finished = ProvisioningStep.objects.filter(
            tenant_id__in=chunk,
            pending_seq__isnull=False,
            status__in=[ProvisioningStep.Status.DONE, ProvisioningStep.Status.FAILED],
        ).filter(~Exists(audited))
        for step in finished.order_by("tenant_id", "pending_seq"):
            out[step.tenant_id].append(
                _step_entry(
                    step,
                    actor=actor,
                    tenant_id=step.tenant_id,
                    name=names[step.tenant_id],
                    after=step_audit_view(step),
                    outcome=(
                        "success" if step.status == ProvisioningStep.Status.DONE else "failure"
                    ),
                    error=(
                        f"{step.error + '; ' if step.error else ''}recorded by a later run: the "
                        "run that sent this call stopped before writing its outcome"
                    ),
                    outcome_of=step.pending_seq,
                )
            )
    return out


def supersede_open_steps(tenant: Tenant, *, actor: str, changeset: str = "") -> list[dict]:
    """Mark the tenant's open steps superseded (a new plan replaces them) and return the audit
    entries that close their pending entries, for the caller to append.

    A step sent without an answer has an unknown outcome: the new plan read the server and goes
    on from what it found there. A step never sent was not made."""
    return supersede_open_steps_many([tenant], actor=actor, changeset=changeset)[tenant.pk]


def supersede_open_steps_many(
    tenants: list[Tenant], *, actor: str, changeset: str = ""
) -> dict[int, list[dict]]:
    """`supersede_open_steps` of many tenants, by tenant id: each tenant's entries in its order
    (its unaudited outcomes, then its open steps'), a few queries per CHUNK tenants."""
    closing = unaudited_outcomes_many(tenants, actor=actor)
    names = {t.pk: t.name for t in tenants}
    by = f" by changeset {changeset}" if changeset else ""
    for chunk in _chunks(list(closing)):
        open_rows = list(ProvisioningStep.objects.filter(tenant_id__in=chunk, status__in=OPEN))
        if not open_rows:
            continue
        for pks in _chunks([r.pk for r in open_rows]):
            ProvisioningStep.objects.filter(pk__in=pks).update(
                status=ProvisioningStep.Status.SUPERSEDED
            )
        for step in open_rows:
            if step.pending_seq is None:
                continue
            if step.sent_at is not None and step.status != ProvisioningStep.Status.FAILED:
                error = (
                    f"outcome unknown: sent, and no answer was recorded; replaced{by}, whose "
                    "plan read the server and continues from what it holds"
                )
            elif step.status == ProvisioningStep.Status.FAILED:
                error = f"failed earlier ({step.error}); replaced{by}"
            else:
                error = f"not sent: the run stopped before this call; replaced{by}"
            closing[step.tenant_id].append(
                _step_entry(
                    step,
                    actor=actor,
                    tenant_id=step.tenant_id,
                    name=names[step.tenant_id],
                    after={**step_audit_view(step), "status": "superseded"},
                    outcome="failure",
                    error=error,
                    outcome_of=step.pending_seq,
                )
            )
    return closing


def _step_rows(
    tenant: Tenant,
    run: int,
    specs: Iterable[StepSpec],
    admins: dict[str, TenantAdmin],
    changeset: str = "",
) -> list[ProvisioningStep]:
    return [
        ProvisioningStep(
            tenant=tenant,
            changeset=changeset,
            run=run,
            position=position,
            kind=spec.kind,
            admin=admins.get(spec.admin_email),
            endpoint=spec.endpoint,
            body=spec.body,
            act_as=spec.act_as,
            impersonate_as=spec.impersonate_as,
            description=spec.description[:300],
            result={"secret_paths": sorted(spec.secret_values)} if spec.secret_values else {},
        )
        for position, spec in enumerate(specs, start=1)
    ]


def admins_with_credentials_outstanding(admin_ids: list[int]) -> set[int]:
    """credentials_outstanding for many admins in one query: the ids whose latest credentials
    step is not done."""
    latest: dict[int, str] = {}
    rows = (
        ProvisioningStep.objects.filter(
            admin_id__in=admin_ids, kind=ProvisioningStep.Kind.CREDENTIALS_CREATE
        )
        .order_by("admin_id", "id")
        .values_list("admin_id", "status")
    )
    for admin_id, status in rows:
        latest[admin_id] = status
    return {a for a, status in latest.items() if status != ProvisioningStep.Status.DONE}


def credentials_outstanding(admin: TenantAdmin) -> bool:
    """True when the console set out to create credentials for the admin and never finished."""
    latest = (
        admin.steps.filter(kind=ProvisioningStep.Kind.CREDENTIALS_CREATE)
        .order_by("-id")
        .values_list("status", flat=True)
        .first()
    )
    return latest is not None and latest != ProvisioningStep.Status.DONE


def open_steps(tenant: Tenant) -> list[ProvisioningStep]:
    """The steps still to run. Open steps all belong to the latest run: recording a run
    supersedes the open steps of earlier ones."""
    steps = list(
        tenant.steps.filter(status__in=OPEN).select_related("admin").order_by("run", "position")
    )
    latest = steps[-1].run if steps else None
    return [s for s in steps if s.run == latest]


def latest_run_steps(
    tenant: Tenant, admins: list[TenantAdmin] | None = None
) -> list[ProvisioningStep]:
    """The steps of the tenant's latest run, in order (one query: the run is a subquery), each
    with its admin. `admins`: the tenant's admins, when the caller has read them already; the
    steps are then read by a query compiled once per process and take their admins from it."""
    if admins is None:
        latest = ProvisioningStep.objects.filter(tenant=tenant).order_by("-run").values("run")[:1]
        steps = tenant.steps.filter(run=Subquery(latest)).select_related("admin")
        return list(steps.order_by("position"))
    admin_by_id = {admin.pk: admin for admin in admins}
    steps = _LATEST_RUN_STEPS.fetch(tenant=tenant.pk)
    for step in steps:
        step.tenant = tenant
        if step.admin_id in admin_by_id:  # another's admin (never seen) is read if asked for
            step.admin = admin_by_id[step.admin_id]
    return steps


def _latest_run_steps(tenant) -> QuerySet:
    latest = ProvisioningStep.objects.filter(tenant=tenant).order_by("-run").values("run")[:1]
    steps = ProvisioningStep.objects.filter(tenant=tenant, run=Subquery(latest))
    return steps.order_by("position")


_LATEST_RUN_STEPS = Prepared(_latest_run_steps)


# --- the run's own writes ------------------------------------------------------------------------
# A run writes twice per apiserver call (the step is saved as sent before the call and with its
# outcome after), plus a claim and a release per tenant. These are single-row UPDATEs by primary
# key; building each through a QuerySet costs several times the statement itself, so the SQL is
# made once per set of columns from the model's metadata and every value is prepared by its model
# field, exactly as QuerySet.update does.

_UPDATE_SQL: dict[tuple, str] = {}


def _update_row(model, pk, changes: dict, *, where: str = "", where_params=()) -> int:
    """`UPDATE <table> SET <changes> WHERE <pk> = pk [AND where]`; returns the rows changed.

    `where` is extra SQL written with `{column}` placeholders for the model's column names.
    """
    sql, params, db = _update_statement(model, pk, changes, where=where, where_params=where_params)
    with connections[db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _update_statement(
    model, pk, changes: dict, *, where: str = "", where_params=()
) -> tuple[str, list, str]:
    """(sql, params, database alias) of `_update_row`."""
    db = router.db_for_write(model)
    conn = connections[db]
    meta = model._meta
    fields = [meta.get_field(name) for name in changes]
    key = (model, db, tuple(changes), where)
    sql = _UPDATE_SQL.get(key)
    if sql is None:
        quote = conn.ops.quote_name
        columns = {f.name: quote(f.column) for f in meta.concrete_fields}
        assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
        condition = f" AND ({where.format(**columns)})" if where else ""
        sql = _UPDATE_SQL[key] = (
            f"UPDATE {quote(meta.db_table)} SET {assignments} "  # noqa: S608 - names from the model
            f"WHERE {quote(meta.pk.column)} = %s{condition}"
        )
    values = zip(fields, changes.values(), strict=True)
    params = [f.get_db_prep_save(value, conn) for f, value in values]
    return sql, [*params, pk, *where_params], db


_ROW_UPDATE = _update_row  # what _run_writes may send together (a stand-in of a test is not)


def _run_writes(writes: list) -> None:
    """Run the writes in order. On PostgreSQL, consecutive row updates go out as one query
    (statements separated by semicolons, one round trip instead of one each): the simple query
    protocol runs them as one transaction of their own, or as part of the open one."""
    updates: list[partial] = []
    for write in writes:
        if isinstance(write, partial) and write.func is _ROW_UPDATE:
            updates.append(write)
            continue
        _send_updates(updates)
        updates = []
        write()
    _send_updates(updates)


def _send_updates(updates: list[partial]) -> None:
    if len(updates) == 1:
        updates[0]()
    if len(updates) <= 1:
        return
    statements = [_update_statement(*u.args, **u.keywords) for u in updates]
    databases = {db for _, _, db in statements}
    conn = connections[statements[0][2]]
    together = (
        len(databases) == 1
        and conn.vendor == "postgresql"
        # Several statements in one execute need client-side binding (Django's default).
        and conn.settings_dict.get("OPTIONS", {}).get("server_side_binding") is not True
    )
    if not together:
        for update in updates:
            update()
        return
    with conn.cursor() as cursor:
        cursor.execute(
            "; ".join(sql for sql, _, _ in statements),
            [param for _, params, _ in statements for param in params],
        )


# pg_try_advisory_lock(key, tenant id) held by the session (connection) of a run for as long as
# the run holds the tenant: PostgreSQL drops it when that connection ends, whatever killed it.
ADVISORY_KEY = 0x434D4C74  # "CMLt"


def lease_owner() -> str:
    """Who holds a lease: this host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def lease_holder_dead(owner: str) -> bool:
    """True when `owner` ("host:pid") is a process of this host that no longer runs."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return not _pid_alive(int(pid))


def _advisory(conn, function: str, tenant_id: int) -> bool:
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [ADVISORY_KEY, tenant_id])
        return bool(cursor.fetchone()[0])


def claim(tenant_id: int) -> bool:
    """Take the tenant for one run; False if another live run holds it.

    A lease left by a dead run is taken back at once: on PostgreSQL the run's advisory lock died
    with its connection; elsewhere the lease names its host and process, and a process of this
    host that is gone holds nothing. (A lease of another host's dead process on SQLite expires
    after LEASE.)
    """
    now = timezone.now()
    conn = connections[router.db_for_write(Tenant)]
    # Advisory locks are re-entrant within a session: when this connection already holds the
    # tenant's (a run of this thread holds it), only the lease row can say whether it is free.
    postgres = conn.vendor == "postgresql" and tenant_id not in _locks_taken()
    if postgres and not _advisory(conn, "pg_try_advisory_lock", tenant_id):
        return False  # a live run's session holds it
    lease_until = Tenant._meta.get_field("lease_until")
    take = {
        "status": Tenant.Status.PROVISIONING,
        "lease_until": now + LEASE,
        "lease_owner": lease_owner(),
    }
    # One conditional UPDATE: atomic on its own, and exactly one of two racing runs matches.
    # (The status column is never NULL, so `<>` is the ORM's `~Q(status=...)`.)
    taken = _update_row(
        Tenant,
        tenant_id,
        take,
        where="{deleted_at} IS NULL AND ({status} <> %s OR {lease_until} IS NULL "
        "OR {lease_until} < %s)",
        where_params=[Tenant.Status.PROVISIONING, lease_until.get_db_prep_value(now, conn)],
    )
    if taken != 1 and postgres:
        # We hold the advisory lock, so the run that left the lease has no session any more.
        taken = _update_row(Tenant, tenant_id, take, where="{deleted_at} IS NULL")
    elif taken != 1:
        owner = Tenant.objects.filter(pk=tenant_id).values_list("lease_owner", flat=True).first()
        if owner and lease_holder_dead(owner):
            log.warning("taking back tenant %s from a run that died (%s)", tenant_id, owner)
            taken = _update_row(
                Tenant,
                tenant_id,
                take,
                where="{deleted_at} IS NULL AND {lease_owner} = %s",
                where_params=[owner],
            )
    if taken != 1 and postgres:
        _advisory(conn, "pg_advisory_unlock", tenant_id)
    elif postgres:
        _locks_taken().add(tenant_id)
    return taken == 1


_thread = threading.local()


def _locks_taken() -> set[int]:
    """Tenants whose advisory lock this thread's connection took in claim() (connections are per
    thread, so this is what this session holds)."""
    if not hasattr(_thread, "locks"):
        _thread.locks = set()
    return _thread.locks


def _release_advisory(tenant_id: int) -> None:
    """Give back the advisory lock claim() took (and only that one: locks are re-entrant)."""
    if tenant_id not in _locks_taken():
        return
    _locks_taken().discard(tenant_id)
    _advisory(connections[router.db_for_write(Tenant)], "pg_advisory_unlock", tenant_id)


def run_tenant(
    tenant_id: int,
    *,
    client: ApiClient,
    calls: list[CallRecord] | None = None,
    secrets: dict[int, dict[str, str]] | None = None,
    preloaded: Tenant | None = None,
    on_credentials: Callable[["RunOutcome", IssuedSecret], None] | None = None,
    audit_actor: str = "",
    group: "_GroupCommit | None" = None,
) -> RunOutcome:
    """Run the open steps of the tenant's latest run, in order, stopping at the first failure.

    `audit_actor`: write one audit entry per step tried (linked to its pending entry), in the
    same transaction as the run's last writes, so a run's outcome and its audit commit together.

    `on_credentials(outcome, secret)`: called with new credentials as soon as their record is
    committed (before the run's next call), so a run killed later has already handed them out.

    `secrets`: for steps whose body carries a secret (an IdP client secret), `{position:
    {dotted body path: value}}`. They are never stored; a resume without them stops at that step.
    `preloaded`: the tenant just saved with `record_run` (its steps and admins in memory).
    `group`: the runs of one `run_many`, whose last writes are committed together.
    """
    if not claim(tenant_id):
        raise TenantBusy("Someone else is applying this tenant right now; reload in a moment.")
    if preloaded is not None and getattr(preloaded, "recorded_steps", None) is not None:
        tenant = preloaded
        steps = list(tenant.recorded_steps)
        admins = getattr(tenant, "saved_admins", None)
        if admins is None:
            admins = list(tenant.admins.all())
        tenant.run_admins = sorted(admins, key=lambda a: a.pk)
    else:
        tenant = Tenant.objects.get(pk=tenant_id)
        steps = open_steps(tenant)
        tenant.run_admins = list(tenant.admins.all())
    # What the run needs is loaded once and kept up to date in memory: the run holds the tenant
    # (claim), so nobody else changes its company id or its admins' user ids meanwhile.
    tenant.run_user_ids = {a.email: a.user_id for a in tenant.run_admins if a.user_id}
    tenant.run_created = set()
    # Credentials calls whose answer was lost (in this run or an earlier one), consulted by the
    # run's credentials steps only. A first run none of whose steps was sent cannot have any.
    first_try = all(s.run == 1 and s.sent_at is None for s in steps)
    credentials = any(s.kind == ProvisioningStep.Kind.CREDENTIALS_CREATE for s in steps)
    tenant.run_lost_admins = (
        set()
        if first_try or not credentials
        else set(
            ProvisioningStep.objects.filter(
                tenant=tenant,
                kind=ProvisioningStep.Kind.CREDENTIALS_CREATE,
                sent_at__isnull=False,
                finished_at__isnull=True,
            ).values_list("admin_id", flat=True)
        )
    )
    tenant.run_lease_renewed = timezone.now()
    outcome = RunOutcome(
        tenant_id=tenant.pk,
        tenant_name=tenant.name,
        ok=True,
        total=len(steps),
        nothing_to_do=not steps,
        calls=calls if calls is not None else [],
        tenant=tenant,
        steps=steps,
    )
    outcome.on_credentials = on_credentials
    pending = _Pending(group)  # the last answer's writes, committed with the next write
    try:
        for step in steps:
            secret_values = (secrets or {}).get(step.position)
            first_call = len(outcome.calls)
            ok = _run_step(step, tenant, client, outcome, secret_values, pending)
            outcome.ran.append((step, slice(first_call, len(outcome.calls))))
            if not ok:
                outcome.ok = False
                outcome.failed_step = step
                outcome.error = step.error
                break
            outcome.done += 1
    except Exception as exc:  # noqa: BLE001 - an unexpected error must still release the tenant
        log.exception("provisioning of tenant %s stopped", tenant.pk)
        outcome.ok = False
        outcome.error = f"the console stopped unexpectedly ({type(exc).__name__})"
    finally:
        status = Tenant.Status.ACTIVE if outcome.ok else Tenant.Status.FAILED
        release = {
            "status": status,
            "lease_until": None,
            "lease_owner": "",
            "updated_at": timezone.now(),
        }
        pending.add(_update_row, Tenant, tenant.pk, release)
        if audit_actor:
            pending.audit_rows += run_audit_rows(outcome, audit_actor, secrets=secrets)
        try:
            pending.commit()  # the last answer's writes with the tenant's release
        except Exception as exc:  # noqa: BLE001 - the answer is not recorded: release as failed
            log.exception("recording the last answer of tenant %s failed", tenant.pk)
            outcome.ok = False
            outcome.error = f"the console stopped unexpectedly ({type(exc).__name__})"
            status = Tenant.Status.FAILED
            _update_row(Tenant, tenant.pk, {**release, "status": status})
        finally:
            _release_advisory(tenant.pk)
        tenant.status = status
        if pending.rolled_back:
            # Steps whose answer was taken in but not committed: report (and audit) them as the
            # database holds them ("sent"), not as they were in memory.
            for step in steps:
                step.refresh_from_db(fields=["status", "result", "error", "finished_at"])
            if audit_actor:
                bulk_append(run_audit_rows(outcome, audit_actor, secrets=secrets))
    return outcome


def run_audit_rows(
    outcome: RunOutcome, actor: str, *, secrets: dict[int, dict[str, str]] | None = None
) -> list[dict]:
    """One audit entry per step the run tried, with the calls it made, linked to the step's
    pending entry. A server may quote a secret it refused: the calls' texts are scrubbed."""
    tenant = outcome.tenant or Tenant.objects.get(pk=outcome.tenant_id)
    sent = [v for values in (secrets or {}).values() for v in values.values()]
    rows = []
    for index, (step, calls) in enumerate(outcome.ran):
        status = step.status
        unknown = status in (ProvisioningStep.Status.SENT, ProvisioningStep.Status.UNKNOWN)
        error = step.error
        if not error and not outcome.ok and index == len(outcome.ran) - 1:
            error = outcome.error  # the run stopped here for a reason of its own
        if unknown:
            error = f"outcome unknown (the answer was lost; checked before sending again). {error}"
        records = outcome.calls[calls]
        if sent:
            for record in records:
                record.result_msg = scrub_text(record.result_msg, sent)
                record.error = scrub_text(record.error, sent)
        rows.append(
            _step_entry(
                step,
                actor=actor,
                tenant_id=tenant.pk,
                name=tenant.name,
                after=step_audit_view(step),
                calls=records,
                outcome="success" if status == ProvisioningStep.Status.DONE else "failure",
                error=scrub_text(error, sent).strip(),
                outcome_of=step.pending_seq,
            )
        )
    if not outcome.ran and not outcome.ok:
        rows.append(
            {
                "actor": actor,
                "action": "tenant.apply",
                "target_type": "tenant",
                "target_id": str(tenant.pk),
                "target_repr": tenant.name,
                "outcome": "failure",
                "error": outcome.failure_line(),
            }
        )
    return rows


def _admins(tenant: Tenant) -> dict[str, TenantAdmin]:
    return {a.email: a for a in tenant.admins.all()}


def _user_ids(tenant: Tenant) -> dict[str, str]:
    return {a.email: a.user_id for a in tenant.admins.all() if a.user_id}


class _Pending:
    """A run's writes not committed yet, and what may happen only once they are.

    The writes that record an answer are committed in one transaction with the run's next write
    (the next step's "sent" mark, or the tenant's release at the end; see _run_step).
    """

    def __init__(self, group: "_GroupCommit | None" = None) -> None:
        self.group = group  # commits that append to the audit log go through it
        self.writes: list = []
        self.audit_rows: list[dict] = []  # appended to the audit log after the writes
        self.then: list = []  # after the commit: hand out new credentials
        self.rolled_back = False  # a commit failed: some writes recorded in memory were lost

    def add(self, write, *args, **kwargs) -> None:
        self.writes.append(partial(write, *args, **kwargs))

    def commit(self) -> None:
        """Run the writes, in order, in one transaction (with audit entries and a `group`:
        together with other runs' last writes, see _GroupCommit), then the `then` actions. They
        are forgotten either way: if the transaction fails, the steps they record stay "sent"
        (for a resume to settle) and nothing of theirs is handed out."""
        writes, rows, then = self.writes, self.audit_rows, self.then
        self.writes, self.audit_rows, self.then = [], [], []
        try:
            # On PostgreSQL only the commits that append to the audit log (its chain lock) go
            # through the group; on SQLite, where every write waits for the gate, all do.
            if self.group is not None and (rows or (writes and self.group.gated)):
                self.group.commit(writes, rows)
            else:
                _write(writes, rows)
        except Exception:
            self.rolled_back = True
            raise
        for action in then:
            action()


def _write(writes: list, audit_rows: list[dict]) -> None:
    """The writes, then the audit entries, in one transaction."""
    if not audit_rows and _one_statement(writes):
        _run_writes(writes)  # one statement (or one query) is atomic on its own
    elif writes or audit_rows:
        with transaction.atomic():
            _run_writes(writes)
            if audit_rows:
                # No savepoint: a failure rolls back this whole transaction either way.
                bulk_append(audit_rows, savepoint=False)


def _one_statement(writes: list) -> bool:
    """Do the writes go out as one query (see _run_writes)?"""
    if len(writes) <= 1:
        return True
    if not all(isinstance(w, partial) and w.func is _ROW_UPDATE for w in writes):
        return False
    models = {w.args[0] if w.args else w.keywords.get("model") for w in writes}
    databases = {router.db_for_write(model) for model in models}
    return len(databases) == 1 and connections[databases.pop()].vendor == "postgresql"


@dataclass
class _Ticket:
    writes: list
    audit_rows: list[dict]
    done: bool = False
    error: Exception | None = None


class _GroupCommit:
    """The writes of concurrent runs, committed several runs at a time.

    Each commit waits for the disk (a sync). On PostgreSQL the runs' last writes append to the
    audit log, a hash chain with one lock held until the appending transaction commits, so runs
    that each commit their own entries queue behind each other: one lock, one commit and one
    sync per tenant, one after another, while the other workers wait. On SQLite every write
    waits for the database gate (_SqliteGate), so each run's commits, with their syncs, happen
    one after another. Here a run that finds a commit under way queues its writes; when that
    commit is done, the first queued run commits the writes of every queued run in one
    transaction (one chain lock, one sync). Each run still commits its writes together and
    returns only once they are committed (a step's "sent" mark before its call, a run's answer,
    release and audit entries together). If that transaction fails, each run's writes are tried
    again on their own, so one run's failure is not another's."""

    # SQLite: how long a run about to commit lets the runs whose answers have arrived take the
    # gate and join its commit; far less than the sync it saves them.
    JOIN_SECONDS = 0.0005

    def __init__(self, *, gated: bool = False) -> None:
        self.gated = gated  # the runs hold the SQLite gate (see run_many)
        self._cond = threading.Condition()
        self._queue: list[_Ticket] = []
        self._busy = False

    def commit(self, writes: list, audit_rows: list[dict]) -> None:
        ticket = _Ticket(writes, audit_rows)
        gated = self.gated  # then the caller holds the gate, which the committing run needs
        released = False
        with self._cond:
            self._queue.append(ticket)
            if self._busy and gated:
                _GATE.lock.release()
                released = True
            while self._busy and not ticket.done:
                self._cond.wait()
            lead = not ticket.done
            if lead:
                self._busy = True
        if released:
            _GATE.lock.acquire()  # not while holding the condition: the committing run takes both
        if lead:
            batch: list[_Ticket] = []
            try:
                if gated:
                    _GATE.lock.release()
                    time.sleep(self.JOIN_SECONDS)
                    _GATE.lock.acquire()
                with self._cond:
                    batch, self._queue = self._queue, []
                self._write(batch)
            finally:
                with self._cond:
                    for queued in batch:
                        queued.done = True
                    self._busy = False
                    self._cond.notify_all()
        if ticket.error is not None:
            raise ticket.error

    @staticmethod
    def _write(batch: list[_Ticket]) -> None:
        try:
            _write([w for t in batch for w in t.writes], [r for t in batch for r in t.audit_rows])
            return
        except Exception as exc:  # noqa: BLE001 - handed to the run(s) it belongs to below
            if len(batch) == 1:
                batch[0].error = exc
                return
        for ticket in batch:
            try:
                _write(ticket.writes, ticket.audit_rows)
            except Exception as exc:  # noqa: BLE001 - raised in the run's own thread
                ticket.error = exc


def _save(step: ProvisioningStep, *, pending: _Pending | None = None, **changes) -> None:
    """Record a step's progress (a plain UPDATE: this runs twice per apiserver call).

    With `pending`, the UPDATE is added to the run's pending writes instead (see _run_step).
    """
    for name, value in changes.items():
        setattr(step, name, value)
    if pending is None:
        _update_row(ProvisioningStep, step.pk, changes)
    else:
        pending.add(_update_row, ProvisioningStep, step.pk, changes)


def _finish(
    step: ProvisioningStep,
    *,
    result: dict | None = None,
    error: str = "",
    pending: _Pending | None = None,
) -> None:
    _save(
        step,
        pending=pending,
        status=ProvisioningStep.Status.DONE,
        result=result or {},
        error=error,
        finished_at=timezone.now(),
    )


def _fail(
    step: ProvisioningStep,
    exc: ApiError | str,
    *,
    unknown: bool = False,
    pending: _Pending | None = None,
) -> bool:
    if isinstance(exc, ApiError):
        unknown = exc.outcome_unknown
        message = str(exc)
        if unknown:
            message += " — the answer was lost; the console checks before sending it again"
    else:
        message = exc
    # A definite failure is finished (nothing changed); a lost answer stays open until settled.
    _save(
        step,
        pending=pending,
        status=ProvisioningStep.Status.UNKNOWN if unknown else ProvisioningStep.Status.FAILED,
        error=message,
        finished_at=None if unknown else timezone.now(),
    )
    return False


def _put_secrets(body: dict, values: dict[str, str]) -> dict:
    import copy

    body = copy.deepcopy(body)
    for dotted, value in values.items():
        node = body
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return body


def _run_step(
    step: ProvisioningStep,
    tenant: Tenant,
    client: ApiClient,
    outcome,
    secret_values: dict[str, str] | None,
    pending: _Pending,
) -> bool:
    """Send one step's call, recording the step as sent before and with its outcome after.

    `pending`: the run's writes not committed yet. The writes that record an answer are not
    committed on their own: they go into `pending` and are committed in one transaction with the
    next step's "sent" mark, before that step's call goes out (or by run_tenant at the end). A
    crash in between leaves the step "sent" with no outcome, which a resume settles with a read
    call like any lost answer; it saves a commit (a sync to disk) per call.
    """
    was_sent = step.status != ProvisioningStep.Status.PENDING or step.sent_at is not None
    kind = step.kind
    credentials = kind == ProvisioningStep.Kind.CREDENTIALS_CREATE
    if (
        was_sent
        and kind in (ProvisioningStep.Kind.COMPANY_CREATE, ProvisioningStep.Kind.USER_CREATE)
    ) or (credentials and _reads_keys_first(step, tenant)):
        pending.commit()  # read calls and their writes come after what is already known
    if was_sent and kind in (
        ProvisioningStep.Kind.COMPANY_CREATE,
        ProvisioningStep.Kind.USER_CREATE,
    ):
        try:
            if _settle_create(step, tenant, client, outcome):
                return True
        except ApiError as exc:
            _save(step, error=f"could not check whether the earlier attempt worked: {exc}")
            return False
    if credentials:
        try:
            if step.admin_id in tenant.run_lost_admins:
                _revoke_unseen_keys(step, tenant, client)
                tenant.run_lost_admins.discard(step.admin_id)
            else:
                _snapshot_keys(step, tenant, client)
        except MissingId as exc:
            pending.commit()
            return _fail(step, f"cannot send yet: {exc}")
        except ApiError as exc:
            _save(step, error=f"could not list the user's keys first: {exc}")
            return False

    try:
        ids = {"company_id": tenant.company_id, "user_ids": tenant.run_user_ids}
        call = PlannedCall(
            endpoint=step.endpoint,
            body=fill(step.body, **ids),
            act_as=fill(step.act_as, **ids),
            impersonate_as=fill(step.impersonate_as, **ids),
        )
    except MissingId as exc:
        pending.commit()
        return _fail(step, f"cannot send yet: {exc}")
    secret_paths = (step.result or {}).get("secret_paths") or []
    if secret_paths:
        if not secret_values or set(secret_paths) - set(secret_values):
            pending.commit()
            return _fail(
                step,
                "this call carries a secret the console does not keep; apply the SPEC again "
                "(with its env: variables set) to send it",
            )
        call.body = _put_secrets(call.body, secret_values)
    _save(
        step,
        pending=pending,
        status=ProvisioningStep.Status.SENT,
        attempts=step.attempts + 1,
        sent_at=timezone.now(),
        finished_at=None,
        error="",
        result=step.result or {},
    )
    pending.commit()  # the last answer's writes and this "sent" mark, before the call
    try:
        data = call.execute(client)
    except ApiError as exc:
        if secret_values:
            exc.result_msg = scrub_text(exc.result_msg, secret_values.values())
        return _fail(step, exc)
    ok = _record_result(step, tenant, data, outcome, pending)
    now = timezone.now()
    if ok and now - tenant.run_lease_renewed > LEASE / 5:
        pending.add(_update_row, Tenant, tenant.pk, {"lease_until": now + LEASE})
        tenant.run_lease_renewed = now
    return ok


def _reads_keys_first(step: ProvisioningStep, tenant: Tenant) -> bool:
    """Will this credentials step call the apiserver before its own call (to list keys)?"""
    if step.admin_id in tenant.run_lost_admins:
        return True
    return "keys_before" not in (step.result or {}) and step.admin_id not in tenant.run_created


def _record_result(step, tenant, data: dict, outcome: RunOutcome, pending: _Pending) -> bool:
    """Take in a step's answer: in memory now, its writes added to `pending` (one transaction)."""
    kind = step.kind
    if kind == ProvisioningStep.Kind.COMPANY_CREATE:
        company_id = str(data.get("id") or "")
        if not company_id:
            return _fail(step, "the server's answer had no company id", unknown=True)
        pending.add(_update_row, Tenant, tenant.pk, {"company_id": company_id})
        tenant.company_id = company_id
        outcome.created.append(f"company {tenant.name} ({company_id})")
        _finish(step, result={"id": company_id}, pending=pending)
    elif kind == ProvisioningStep.Kind.USER_CREATE:
        user_id = str(data.get("id") or "")
        if not user_id:
            return _fail(step, "the server's answer had no user id", unknown=True)
        pending.add(_update_row, TenantAdmin, step.admin_id, {"user_id": user_id})
        tenant.run_user_ids[step.body.get("email", "")] = user_id
        tenant.run_created.add(step.admin_id)
        outcome.created.append(f"admin user {step.body.get('email')} ({user_id})")
        _finish(step, result={"id": user_id}, pending=pending)
    elif kind == ProvisioningStep.Kind.CREDENTIALS_CREATE:
        creds = data.get("credentials") or {}
        key, secret = creds.get("access_key"), creds.get("secret_key")
        if not key or not secret:
            return _fail(step, "the server's answer had no credentials", unknown=True)
        pending.add(IssuedCredential.objects.create, admin_id=step.admin_id, access_key=key)
        _finish(step, result={"access_key": key}, pending=pending)
        email = step.admin.email if step.admin else ""
        # Handed out only once the key is committed as shown: a resume revokes only keys that
        # nobody saw, so a key whose record was lost must not have been shown.
        pending.then.append(
            partial(
                _hand_out, outcome, IssuedSecret(email=email, access_key=key, secret_key=secret)
            )
        )
        outcome.created.append(f"credentials {key} for {email}")
    else:
        _finish(step, pending=pending)
    return True


def _hand_out(outcome: RunOutcome, secret: IssuedSecret) -> None:
    outcome.credentials.append(secret)
    if outcome.on_credentials is not None:
        outcome.on_credentials(outcome, secret)


def _settle_create(step, tenant: Tenant, client: ApiClient, outcome: RunOutcome) -> bool:
    """Did an earlier attempt of this create step work? If so, record its id and say True."""
    if step.kind == ProvisioningStep.Kind.COMPANY_CREATE:
        if tenant.company_id:
            _finish(step, result={"id": tenant.company_id}, error="")
            return True
        company = lookups.find_company_by_name(client, step.body.get("name", tenant.name))
        if company is None:
            return False
        Tenant.objects.filter(pk=tenant.pk).update(company_id=company["id"])
        tenant.company_id = company["id"]
        outcome.created.append(
            f"company {tenant.name} ({company['id']}, found after a lost answer)"
        )
        _finish(step, result={"id": company["id"], "found": True})
        return True
    admin = step.admin
    email = step.body.get("email", "")
    if admin is not None and admin.user_id:
        _finish(step, result={"id": admin.user_id})
        return True
    user = lookups.find_user_by_email(client, email, tenant.company_id)
    if user is None:
        return False
    TenantAdmin.objects.filter(pk=step.admin_id).update(user_id=user["id"])
    tenant.run_user_ids[email] = user["id"]
    outcome.created.append(f"admin user {email} ({user['id']}, found after a lost answer)")
    _finish(step, result={"id": user["id"], "found": True})
    return True


def _lost_credential_steps(step):
    if step.admin is None:
        return ProvisioningStep.objects.none()
    return step.admin.steps.filter(
        kind=ProvisioningStep.Kind.CREDENTIALS_CREATE,
        sent_at__isnull=False,
        finished_at__isnull=True,
    )


def _snapshot_keys(step, tenant: Tenant, client: ApiClient) -> None:
    """Before creating credentials for an existing user, note the keys the user already has.

    After a lost answer only keys outside this list (and not shown by the console) are revoked,
    so keys the admin made elsewhere are kept. A user created by the same run has none.
    """
    if "keys_before" in (step.result or {}):
        return
    keys: list[str] = []
    if step.admin_id not in tenant.run_created:
        user_id = fill(
            step.impersonate_as, company_id=tenant.company_id, user_ids=tenant.run_user_ids
        )
        keys = lookups.list_access_keys(client, user_id)
    # Saved together with the "sent" mark, just before the call.
    step.result = {**(step.result or {}), "keys_before": keys}


def _revoke_unseen_keys(step, tenant: Tenant, client: ApiClient) -> None:
    """After a lost credentials answer: revoke the key nobody saw, then create anew.

    Kept: keys the console showed (IssuedCredential) and keys the user had before the lost call.
    """
    user_id = fill(step.impersonate_as, company_id=tenant.company_id, user_ids=tenant.run_user_ids)
    lost = list(_lost_credential_steps(step))
    known = set(
        IssuedCredential.objects.filter(admin_id=step.admin_id).values_list("access_key", flat=True)
    )
    for earlier in lost:
        known.update((earlier.result or {}).get("keys_before") or [])
    for key in lookups.list_access_keys(client, user_id):
        if key in known:
            continue
        client.call("auth.revoke_credentials", {"access_key": key}, impersonate_as=user_id)
        log.info("revoked access key %s of tenant %s that was never shown", key, tenant.pk)
    # Settled: later checks must not look at these attempts again.
    _lost_credential_steps(step).exclude(pk=step.pk).update(finished_at=timezone.now())
    _save(step, result={"keys_before": sorted(known)})


class _SqliteGate:
    """SQLite lets one connection write at a time (and its in-memory test database refuses a
    second one outright), so worker threads take turns for database work and overlap only while
    they wait for the apiserver. PostgreSQL needs no gate."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    @property
    def needed(self) -> bool:
        return connection.vendor == "sqlite"


_GATE = _SqliteGate()


class _GatedClient:
    """An ApiClient whose calls release the database gate while they wait for the answer."""

    def __init__(self, client: ApiClient):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def call(self, *args, **kwargs):
        _GATE.lock.release()
        try:
            return self._client.call(*args, **kwargs)
        finally:
            _GATE.lock.acquire()


def run_many(
    tenant_ids: list[int],
    *,
    client_factory: ClientFactory,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[RunOutcome], None] | None = None,
    secrets: dict[int, dict[int, dict[str, str]]] | None = None,
    preloaded: dict[int, Tenant] | None = None,
    on_credentials: Callable[[RunOutcome, IssuedSecret], None] | None = None,
    audit_actor: str = "",
) -> list[RunOutcome]:
    """Run several tenants' steps, up to `concurrency` tenants at a time.

    Worker threads run in a copy of the caller's context, so audit entries they write carry the
    caller's changeset and request id."""

    concurrent = concurrency > 1 and len(tenant_ids) > 1
    group = _GroupCommit(gated=concurrent and _GATE.needed)

    def one(tenant_id: int, gated: bool = False) -> RunOutcome:
        calls: list[CallRecord] = []
        client = client_factory(calls.append)
        if gated:
            client = _GatedClient(client)
        try:
            outcome = run_tenant(
                tenant_id,
                client=client,
                calls=calls,
                secrets=(secrets or {}).get(tenant_id),
                preloaded=(preloaded or {}).get(tenant_id),
                on_credentials=on_credentials,
                audit_actor=audit_actor,
                group=group,
            )
        except TenantBusy as exc:
            name = Tenant.objects.filter(pk=tenant_id).values_list("name", flat=True).first()
            outcome = RunOutcome(tenant_id=tenant_id, tenant_name=name or "?", ok=False)
            outcome.error = str(exc)
        if on_done:
            try:
                on_done(outcome)
            except Exception:  # noqa: BLE001 - the run itself is recorded; keep the others going
                log.exception("after-run work for tenant %s failed", tenant_id)
        return outcome

    if not concurrent:
        return [one(t) for t in tenant_ids]
    outcomes: list[RunOutcome | None] = [None] * len(tenant_ids)
    queue = iter(enumerate(tenant_ids))
    queue_lock = threading.Lock()

    def worker() -> None:
        """Run tenants one after another until none is left, on one database connection."""
        gated = group.gated
        if gated:
            _GATE.lock.acquire()
        try:
            while True:
                with queue_lock:
                    index, tenant_id = next(queue, (None, None))
                if tenant_id is None:
                    return
                outcomes[index] = one(tenant_id, gated)
        finally:
            # Each worker thread has its own database connection; give it back once, at the end
            # (not after every tenant: opening a connection costs more than a tenant's queries).
            connection.close()
            if gated:
                _GATE.lock.release()

    workers = min(concurrency, len(tenant_ids))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="apply") as pool:
        # One copy of the context per thread: a context can be entered by one thread at a time.
        futures = [pool.submit(contextvars.copy_context().run, worker) for _ in range(workers)]
        for future in futures:
            future.result()
    return outcomes
