"""Tenant changes through the pipeline: create, edit, new credentials, import, delete, discard,
and apply (run or resume a tenant's recorded calls).

Each function is what a face calls; each records a changeset whose steps are the tenant's calls
(journaled as provisioning steps, which give retries, lost-answer checks and resume) and the
console-only changes, and applies it under that changeset so every audit entry carries its id.
"""

from dataclasses import dataclass, field

from django.db import transaction

from console.apiserver import ApiClient, ApiError, CallRecord, client_from_settings
from console.audit import current_changeset
from console.audit.bulk import bulk_append
from console.snapshot import queries as snapshot
from console.snapshot.store import companies_upsert
from console.validation import FieldError, InvalidInput
from sso.multitenant.services import tenant_sso_calls
from sso.routing.push import routing_push_calls
from sso.routing.services import routing_save
from tenants import services
from tenants.models import ProvisioningStep, Tenant, TenantAdmin
from tenants.provisioning import calls as build
from tenants.provisioning.engine import (
    RunOutcome,
    open_steps,
    record_run,
    run_tenant,
    unaudited_outcomes,
)
from tenants.validation import TenantInput

from .engine import (
    applying,
    approval_gate,
    changeset_finish_from_steps,
    changeset_open,
    changeset_record,
    changeset_set_steps,
    desired_object,
    hold_recorded,
    local_change,
    local_change_replay,
    steps_sync_from_journal,
)
from .models import Changeset
from .plan import ChangePlan, PlannedStep, step_of

EMPTY_SERVER_STATE = {"domains": [], "whitelist": []}


@dataclass
class TenantApplied:
    changeset: Changeset | None
    outcome: RunOutcome
    notes: list[str] = field(default_factory=list)


def tenant_target(tenant: Tenant | str) -> str:
    return f"tenant:{tenant if isinstance(tenant, str) else tenant.name}"


def login_steps(tenant: Tenant, *, server_state: dict | None, routing) -> list[build.StepSpec]:
    """The login.* calls that make the server's routing match, acting as the first admin."""
    first = tenant.admins.order_by("id").first()
    if first is None:
        return []
    act_as = first.user_id or build.user_id_of(first.email)
    calls = routing_push_calls(
        tenant=tenant, server_state=server_state, routing=routing, act_as=act_as
    )
    return [build.call_step(call) for call in calls]


def sso_steps(tenant: Tenant, sso) -> list[build.StepSpec]:
    """system.update_company_sso_config (and the provider configuration) for multi-tenant login."""
    company_id = tenant.company_id
    # The builders put the tenant's company id in the body; before it exists, a placeholder.
    tenant.company_id = company_id or build.COMPANY_ID
    try:
        calls = tenant_sso_calls(tenant=tenant, sso=sso)
    finally:
        tenant.company_id = company_id
    return [build.call_step(call) for call in calls]


def journal_plan(
    tenant: Tenant, rows: list[ProvisioningStep], *, kind: str, summary: str
) -> ChangePlan:
    """The changeset steps of a tenant's recorded run: one per call, linked to its journal row."""
    steps = []
    for row in rows:
        step = step_of(row_spec(row), target=tenant_target(tenant))
        step.ref = {"tenant": tenant.pk, "run": row.run, "position": row.position}
        steps.append(step)
    return ChangePlan(kind=kind, summary=summary, steps=steps)


def row_spec(row: ProvisioningStep) -> build.StepSpec:
    return build.StepSpec(
        kind=row.kind,
        endpoint=row.endpoint,
        body=row.body,
        act_as=row.act_as,
        impersonate_as=row.impersonate_as,
        description=row.description,
    )


def tenant_create(*, data: TenantInput, actor: str, face: str = "form") -> tuple[Changeset, Tenant]:
    """Save a planned tenant (with its routing) and record the calls that create it; nothing is
    sent yet. The changeset is `planned`; `tenant_apply` sends it."""
    with transaction.atomic():
        changeset = changeset_open(
            kind="tenant.create", summary=f"Create tenant {data.name}", actor=actor, face=face
        )
        with current_changeset(changeset.audit_key):
            tenant = services.tenant_save_new(data=data, actor=actor)
            if data.login is not None:
                routing_save(tenant=tenant, routing=data.login, actor=actor)
            specs = services.creation_steps(tenant, data)
            if data.login is not None:
                specs += login_steps(tenant, server_state=EMPTY_SERVER_STATE, routing=data.login)
            if data.sso is not None:
                specs += sso_steps(tenant, data.sso)
            record_run(tenant, specs, actor=actor, changeset=changeset.audit_key)
        changeset_set_steps(
            changeset,
            journal_plan(
                tenant,
                list(tenant.recorded_steps),
                kind=changeset.kind,
                summary=changeset.summary,
            ),
        )
        hold_recorded(changeset)  # CONSOLE_APPROVALS: more than BULK_STEPS calls wait
    return changeset, tenant


def _changeset_of_open_steps(tenant: Tenant, actor: str, face: str) -> Changeset:
    """The changeset that recorded the tenant's open steps; a resume changeset when none did."""
    rows = open_steps(tenant)
    keys = {r.changeset for r in rows if r.changeset}
    if len(keys) == 1:
        changeset = Changeset.objects.filter(pk=int(next(iter(keys)))).first()
        if changeset is not None:
            return changeset
    with transaction.atomic():
        changeset = changeset_open(
            kind="tenant.resume", summary=f"Resume tenant {tenant.name}", actor=actor, face=face
        )
        ProvisioningStep.objects.filter(pk__in=[r.pk for r in rows]).update(
            changeset=changeset.audit_key
        )
        changeset_set_steps(
            changeset, journal_plan(tenant, rows, kind=changeset.kind, summary=changeset.summary)
        )
    return changeset


def tenant_apply_changeset(tenant: Tenant, *, actor: str, face: str = "form") -> Changeset | None:
    """The changeset an apply of the tenant's open steps runs under (None: nothing left to
    send), so a face can decide whether the worker applies it (changes/background.py)."""
    return _changeset_of_open_steps(tenant, actor, face) if open_steps(tenant) else None


def tenant_apply(
    *,
    tenant: Tenant,
    actor: str,
    face: str = "form",
    client: ApiClient | None = None,
    calls: list[CallRecord] | None = None,
) -> TenantApplied:
    """Run (or resume) the tenant's recorded calls under their changeset. Raises TenantBusy,
    and ApprovalMissing (a TenantBusy) when their changeset waits for approval or was rejected.

    With nothing left to send (a reload of the page that applied it), nothing is recorded."""
    if not open_steps(tenant):
        outcome = RunOutcome(
            tenant_id=tenant.pk, tenant_name=tenant.name, ok=True, nothing_to_do=True, tenant=tenant
        )
        return TenantApplied(changeset=None, outcome=outcome)
    changeset = _changeset_of_open_steps(tenant, actor, face)
    approval_gate(changeset, actor=actor)  # raises ApprovalMissing (a TenantBusy)
    late = unaudited_outcomes(tenant, actor=actor)  # of a run killed before its audit entries
    if late:
        bulk_append(late)
    records: list[CallRecord] = calls if calls is not None else []
    if client is None:
        client = client_from_settings(on_call=records.append)
    with applying(changeset):
        outcome = run_tenant(tenant.pk, client=client, calls=records, audit_actor=actor)
    after_run(outcome)
    steps_sync_from_journal(changeset)
    changeset_finish_from_steps(changeset, error="" if outcome.ok else outcome.failure_line())
    return TenantApplied(changeset=changeset, outcome=outcome)


def after_run(outcome: RunOutcome) -> None:
    """Keep the server snapshot current with what the run made (pages read the snapshot)."""
    tenant = outcome.tenant
    if tenant is not None and tenant.company_id:
        companies_upsert({"id": tenant.company_id, "name": tenant.name})


def tenant_update(
    *,
    tenant: Tenant,
    version: int,
    data: TenantInput,
    actor: str,
    face: str = "form",
    apply: bool = True,
    client: ApiClient | None = None,
) -> TenantApplied | Changeset | None:
    """Change allowed_users / features. None when nothing changed; with `apply`, the applied
    result; without, the planned changeset (the console keeps the new values once applied)."""
    changes = services.settings_changes(
        tenant,
        allowed_users=data.allowed_users,
        features=data.features,
        exclude_features=data.exclude_features,
    )
    if not changes:
        if tenant.version != version:
            raise services.TenantChanged()
        return None
    desired = {
        "tenant": tenant.pk,
        "version": version,
        "allowed_users": data.allowed_users,
        "features": list(data.features),
        "exclude_features": list(data.exclude_features),
    }
    if not apply:
        services.check_editable(tenant)
        if tenant.version != version:
            raise services.TenantChanged()
        plan = ChangePlan(
            kind="tenant.update",
            summary=f"Update tenant {tenant.name}: " + ", ".join(changes),
            desired=desired,
            steps=[
                PlannedStep(
                    kind="system.update_company_settings",
                    target=tenant_target(tenant),
                    before={k: getattr(tenant, k) for k in changes},
                    after=changes,
                    call={
                        "endpoint": "system.update_company_settings",
                        "body": {"company": tenant.company_id, **changes},
                    },
                )
            ],
        )
        return changeset_record(plan, actor=actor, face=face)
    return tenant_update_apply(
        tenant=tenant, version=version, data=data, actor=actor, face=face, client=client
    )


def tenant_update_apply(
    *,
    tenant: Tenant,
    version: int,
    data: TenantInput,
    actor: str,
    face: str = "form",
    client: ApiClient | None = None,
    changeset: Changeset | None = None,
) -> TenantApplied:
    """Save the new settings in the console and push them, as `changeset` (a reviewed plan) or
    as a new one."""
    with transaction.atomic():
        reviewed = changeset is not None
        if changeset is None:
            changeset = changeset_open(
                kind="tenant.update",
                summary=f"Update tenant {tenant.name}",
                actor=actor,
                face=face,
            )
        with current_changeset(changeset.audit_key):
            services.tenant_update(
                tenant=tenant,
                version=version,
                data=data,
                actor=actor,
                changeset=changeset.audit_key,
            )
        plan = journal_plan(
            tenant, list(tenant.recorded_steps), kind=changeset.kind, summary=changeset.summary
        )
        if reviewed:
            # The reviewed step is this call: link it to its journal row.
            ref = plan.steps[0].ref
            changeset.steps.filter(kind="system.update_company_settings").update(ref=ref)
        else:
            changeset_set_steps(changeset, plan)
    return tenant_apply(tenant=tenant, actor=actor, face=face, client=client)


def tenant_credentials(
    *, tenant: Tenant, admin: TenantAdmin, actor: str, face: str = "form", client=None
) -> TenantApplied:
    """A new key pair for a tenant admin, created at once and shown once. Raises NotAllowed."""
    with transaction.atomic():
        changeset = changeset_open(
            kind="tenant.credentials",
            summary=f"New credentials for {admin.email} ({tenant.name})",
            actor=actor,
            face=face,
        )
        services.tenant_credentials_record(
            tenant=tenant, admin=admin, actor=actor, changeset=changeset.audit_key
        )
        changeset_set_steps(
            changeset,
            journal_plan(
                tenant,
                list(tenant.recorded_steps),
                kind=changeset.kind,
                summary=changeset.summary,
            ),
        )
    return tenant_apply(tenant=tenant, actor=actor, face=face, client=client)


def tenant_import(
    *, company: dict, actor: str, admins: list[dict] | None = None, face: str = "form"
) -> tuple[Changeset | None, Tenant]:
    """Adopt a company created outside the console (a console-only change)."""
    name = str(company.get("name") or company.get("id") or "")
    return local_change(
        kind="tenant.import",
        summary=f"Import tenant {name}",
        actor=actor,
        face=face,
        write=lambda: services.tenant_import(company=company, actor=actor, admins=admins),
    )


def tenant_mark_deleted(
    *, tenant: Tenant, version: int, typed_name: str, actor: str, face: str = "form"
) -> tuple[Changeset | None, Tenant]:
    """After the deletion runbook ran: mark the tenant deleted and free its emails and domains.
    With CONSOLE_APPROVALS on it waits for approval (`tenant_mark_deleted_approved`)."""
    return local_change(
        kind="tenant.delete",
        summary=f"Mark tenant {tenant.name} deleted",
        actor=actor,
        face=face,
        desired={"tenant": tenant.pk, "version": version, "typed_name": typed_name},
        write=lambda: services.tenant_mark_deleted(
            tenant=tenant, version=version, typed_name=typed_name, actor=actor
        ),
    )


def tenant_mark_deleted_approved(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """Apply an approved `tenant.delete` (changes.apply's applier), from `desired`."""
    desired = changeset.desired or {}
    pk = desired.get("tenant")
    local_change_replay(
        changeset,
        actor=actor,
        write=lambda: services.tenant_mark_deleted(
            tenant=desired_object(Tenant, f"tenant {pk}", pk=pk),
            version=int(desired.get("version", -1)),
            typed_name=str(desired.get("typed_name", "")),
            actor=actor,
        ),
    )
    return []


def tenant_discard(*, tenant: Tenant, actor: str, face: str = "form") -> Changeset | None:
    """Forget a planned tenant that never reached the apiserver (with CONSOLE_APPROVALS on, once
    approved: `tenant_discard_approved`)."""
    changeset, _ = local_change(
        kind="tenant.discard",
        summary=f"Discard planned tenant {tenant.name}",
        actor=actor,
        face=face,
        desired={"tenant": tenant.pk},
        write=lambda: services.tenant_discard(tenant=tenant, actor=actor),
    )
    return changeset


def tenant_discard_approved(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """Apply an approved `tenant.discard` (changes.apply's applier), from `desired`."""
    pk = (changeset.desired or {}).get("tenant")
    local_change_replay(
        changeset,
        actor=actor,
        write=lambda: services.tenant_discard(
            tenant=desired_object(Tenant, f"tenant {pk}", pk=pk), actor=actor
        ),
    )
    return []


def changeset_apply(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """Apply a stored changeset: send the open calls it recorded (a resume after a failure), or,
    for a reviewed edit, save and push it now. Returns the tenants' results."""
    if (
        changeset.kind == "tenant.update"
        and not ProvisioningStep.objects.filter(changeset=changeset.audit_key).exists()
    ):
        return [_apply_reviewed_update(changeset, actor=actor, face=face)]
    tenant_ids = (
        ProvisioningStep.objects.filter(
            changeset=changeset.audit_key,
            status__in=["pending", "sent", "failed", "unknown"],
        )
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    results = []
    for tenant in Tenant.objects.filter(pk__in=list(tenant_ids)):
        results.append(tenant_apply(tenant=tenant, actor=actor, face=face))
    if not results:
        steps_sync_from_journal(changeset)
        changeset_finish_from_steps(changeset)
    return results


def _apply_reviewed_update(changeset: Changeset, *, actor: str, face: str) -> TenantApplied:
    desired = changeset.desired or {}
    tenant = Tenant.objects.get(pk=desired.get("tenant"))
    data = TenantInput(
        name=tenant.name,
        allowed_users=desired.get("allowed_users"),
        features=list(desired.get("features") or []),
        exclude_features=list(desired.get("exclude_features") or []),
    )
    return tenant_update_apply(
        tenant=tenant,
        version=int(desired.get("version", -1)),
        data=data,
        actor=actor,
        face=face,
        changeset=changeset,
    )


def tenant_import_from_server(
    *, company_id: str, actor: str, face: str = "form", client: ApiClient | None = None
) -> tuple[Changeset | None, Tenant, int]:
    """Import a company the snapshot lists, with its admin users (read now: importing is an
    action of its own, not a page view). Raises InvalidInput naming what is wrong."""
    if company_id and company_id == snapshot.platform_company_id():
        raise InvalidInput(
            FieldError(
                "company_id",
                f"{company_id} is the platform company, the one the console's own API key "
                "belongs to; it is not a tenant and cannot be imported",
            )
        )
    company = next((c for c in snapshot.companies().companies if c["id"] == company_id), None)
    if company is None:
        raise InvalidInput(
            FieldError(
                "company_id",
                f"the apiserver had no company {company_id!r} when last read; press Refresh "
                "and try again",
            )
        )
    try:
        admins = services.company_admins(client or client_from_settings(), company_id)
    except ApiError as exc:
        raise InvalidInput(
            FieldError("company_id", f"could not read the company's admins: {exc}")
        ) from None
    changeset, tenant = tenant_import(company=company, actor=actor, admins=admins, face=face)
    return changeset, tenant, len(admins)
