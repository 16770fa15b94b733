"""Offboarding a tenant: a checklist of changes, each its own changeset, done in order.

1. **Sign-in routing**: the console's domains and whitelist of the tenant are removed (a changeset
   `offboarding.routing` with one risky `routing.remove` step) and the now empty routing is pushed
   (`changes.routing`: a `routing.push` changeset whose steps are the login.* calls, among them
   the risky `login.set_domains` and `login.remove_whitelist_entries`). New users stop being
   routed to the tenant.
2. **API credentials**: every access key the console issued to the tenant's admins
   (`IssuedCredential`) is revoked with `auth.revoke_credentials {access_key}`, impersonating
   the admin who owns it. The calls are recorded in the provisioning journal (a changeset
   `tenant.credentials.revoke` of risky `credentials.revoke` steps), so each is audited (pending
   and outcome entries), resumable (here, on the tenant's page, or with Apply on
   `/changes/<id>/`) and listed on the changeset's page; a revoked key gets `revoked_at`.
3. **Deletion**: the runbook of the ClearML docs page *Deleting Tenants from ClearML*, then
   "mark deleted" (`changes.tenants.tenant_mark_deleted`).

`offboarding_checklist` reads each step's state (done, pending, running, failed with its
changeset) from the database only; the pages call it and never the apiserver.
"""

import time
from dataclasses import dataclass, field
from datetime import UTC

from django.db import transaction
from django.utils import timezone

from console.audit import current_changeset
from console.audit.models import AuditEntry
from console.snapshot import queries as snapshot
from sso.models import LoginDomain, RoutingPushJob, WhitelistEntry
from sso.routing.services import RoutingChange, routing_save
from sso.routing.validation import RoutingSet
from tenants.models import IssuedCredential, ProvisioningStep, Tenant
from tenants.provisioning.calls import StepSpec
from tenants.provisioning.engine import RunOutcome, open_steps, record_run

from .engine import (
    ReplayFailed,
    approval_gate,
    changeset_finish,
    changeset_hold,
    changeset_open,
    changeset_set_steps,
    desired_object,
    local_change,
    local_change_replay,
)
from .models import Changeset
from .plan import ChangePlan, approval_reason, approvals_on, step_of
from .routing import removal_steps, routing_push_start, routing_push_step
from .tenants import TenantApplied, changeset_apply, journal_plan, tenant_apply, tenant_target

ROUTING_KIND = "offboarding.routing"
REVOKE_KIND = "tenant.credentials.revoke"
REVOKE_ENDPOINT = "auth.revoke_credentials"
ROUTING_ACTION = "login.routing.offboard"
# How long one request pushes before it hands back (press the button again to continue).
PUSH_BUDGET_SECONDS = 20.0

DONE, PENDING, RUNNING, FAILED = "done", "pending", "running", "failed"
WAITING = Changeset.Status.AWAITING_APPROVAL


# -- step 1: sign-in routing ---------------------------------------------------------------------
@dataclass
class RoutingOffboarded:
    cleared: Changeset | None  # the console-side removal; None when there was nothing to remove
    change: RoutingChange | None
    # The push; None when the removal waits for approval (nothing is pushed before it is made).
    job: RoutingPushJob | None

    @property
    def held(self) -> bool:
        return self.cleared is not None and self.cleared.status == WAITING


def _clear(tenant: Tenant, actor: str) -> RoutingChange:
    return routing_save(
        tenant=tenant,
        routing=RoutingSet(tenant_name=tenant.name),
        actor=actor,
        action=ROUTING_ACTION,
    )


def _routing_clear(
    *, tenant: Tenant, actor: str, face: str
) -> tuple[Changeset | None, RoutingChange]:
    """Remove every domain and whitelisted email of the tenant from the console, as one risky
    step (a local change: no changeset when the console held none; with CONSOLE_APPROVALS on it
    waits for approval)."""
    return local_change(
        kind=ROUTING_KIND,
        summary=f"Offboard {tenant.name}: remove its sign-in routing",
        actor=actor,
        face=face,
        desired={"tenant": tenant.pk, "offboarding": "routing"},
        write=lambda: _clear(tenant, actor),
        steps=lambda change: removal_steps(tenant, change),
    )


def routing_clear_approved(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """Apply an approved `offboarding.routing` removal (changes.apply's applier). The push
    follows when step 1 is run again."""
    pk = (changeset.desired or {}).get("tenant")
    tenant = Tenant.objects.filter(pk=pk).first()
    local_change_replay(
        changeset,
        actor=actor,
        write=lambda: _clear(desired_object(Tenant, f"tenant {pk}", pk=pk), actor),
        steps=lambda change: removal_steps(tenant, change),
    )
    return []


def offboarding_routing(
    *, tenant: Tenant, actor: str, face: str = "form", budget_seconds: float = PUSH_BUDGET_SECONDS
) -> RoutingOffboarded:
    """Step 1: remove the tenant's routing in the console, then push it (the server's domains
    and whitelist are emptied). A push that does not finish within `budget_seconds` goes on the
    next time (or from the routing page). Raises InvalidInput (no admin to act as) or ApiError
    (the server's routing cannot be read) from the push; the removal stays done. A removal that
    waits for approval (CONSOLE_APPROVALS) is not pushed: `job` is None."""
    cleared, change = _routing_clear(tenant=tenant, actor=actor, face=face)
    if cleared is None:
        change = None
    elif cleared.status == WAITING:
        return RoutingOffboarded(cleared=cleared, change=change, job=None)
    job = routing_push_start(tenant=tenant, actor=actor, face=face)
    deadline = time.monotonic() + budget_seconds
    while job.status == RoutingPushJob.Status.RUNNING:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        job = routing_push_step(job, budget_seconds=left)
        if job.status == RoutingPushJob.Status.RUNNING:
            time.sleep(0.5)  # another request holds the push right now
    return RoutingOffboarded(cleared=cleared, change=change, job=job)


# -- step 2: API credentials ---------------------------------------------------------------------
class OffboardingOrder(Exception):
    """A step was asked for before the steps it follows are done."""


def revoked_in_journal(tenant: Tenant) -> set[str]:
    """Access keys whose `auth.revoke_credentials` step is done (in any run, resumed anywhere)."""
    bodies = ProvisioningStep.objects.filter(
        tenant=tenant,
        kind=ProvisioningStep.Kind.CREDENTIALS_REVOKE,
        status=ProvisioningStep.Status.DONE,
    ).values_list("body", flat=True)
    return {str(b.get("access_key")) for b in bodies if isinstance(b, dict) and b.get("access_key")}


def issued_keys(tenant: Tenant) -> list[IssuedCredential]:
    return list(
        IssuedCredential.objects.filter(admin__tenant=tenant)
        .select_related("admin")
        .order_by("created_at", "pk")
    )


def _settle_revoked(tenant: Tenant) -> int:
    """Set `revoked_at` on the issued keys the journal says are revoked (a resume from another
    page leaves it to the next offboarding action; the checklist reads the journal too)."""
    keys = revoked_in_journal(tenant)
    if not keys:
        return 0
    return IssuedCredential.objects.filter(
        admin__tenant=tenant, revoked_at__isnull=True, access_key__in=keys
    ).update(revoked_at=timezone.now())


def revoke_step(credential: IssuedCredential) -> StepSpec:
    admin = credential.admin
    return StepSpec(
        kind=ProvisioningStep.Kind.CREDENTIALS_REVOKE,
        endpoint=REVOKE_ENDPOINT,
        body={"access_key": credential.access_key},
        impersonate_as=admin.user_id,
        description=f"Revoke the access key {credential.access_key} of {admin.email} "
        "(impersonating its owner)",
        admin_email=admin.email,
    )


def _check_runnable(tenant: Tenant) -> None:
    if tenant.is_deleted or not tenant.company_id:
        raise OffboardingOrder("This tenant has no company on the apiserver to offboard.")
    leased = tenant.lease_until is not None and tenant.lease_until > timezone.now()
    if tenant.status == Tenant.Status.PROVISIONING and leased:
        raise OffboardingOrder("Someone is applying this tenant right now; reload in a moment.")
    if routing_state(tenant).state != DONE:
        raise OffboardingOrder(
            "Remove the tenant's sign-in routing first (step 1): revoking its keys comes after."
        )


def offboarding_revoke(
    *, tenant: Tenant, actor: str, face: str = "form", client=None
) -> TenantApplied | None:
    """Step 2: revoke every key the console issued to the tenant's admins (or resume the
    revocation that stopped part-way). None when there is nothing to revoke. Raises
    OffboardingOrder (step 1 not done, the tenant busy) or TenantBusy."""
    _check_runnable(tenant)
    _settle_revoked(tenant)
    rows = open_steps(tenant)
    if not (rows and all(r.kind == ProvisioningStep.Kind.CREDENTIALS_REVOKE for r in rows)):
        keys = keys_to_revoke(tenant)
        if not keys:
            return None
        plan = revoke_plan(tenant, keys)
        reason = approval_reason(plan.kind, plan.steps) if approvals_on() else ""
        with transaction.atomic():
            changeset = changeset_open(
                kind=REVOKE_KIND,
                summary=plan.summary,
                actor=actor,
                face=face,
                desired=plan.desired,
            )
            if reason:
                # Nothing goes into the journal yet (a tenant's next apply would send it): the
                # approved changeset's applier records the calls and sends them.
                held = changeset_hold(changeset, plan, reason=reason)
                return TenantApplied(changeset=held, outcome=_not_run(tenant))
            _record_revocation(tenant, keys, changeset, actor)
    applied = tenant_apply(tenant=tenant, actor=actor, face=face, client=client)
    _settle_revoked(tenant)
    return applied


def keys_to_revoke(tenant: Tenant) -> list[IssuedCredential]:
    return [k for k in issued_keys(tenant) if k.revoked_at is None and k.admin.user_id]


def revoke_plan(tenant: Tenant, keys: list[IssuedCredential]) -> ChangePlan:
    """The revocation as a plan: one risky `credentials.revoke` step per key."""
    return ChangePlan(
        kind=REVOKE_KIND,
        summary=f"Offboard {tenant.name}: revoke {len(keys)} access key(s) the console issued",
        steps=[step_of(revoke_step(k), target=tenant_target(tenant)) for k in keys],
        desired={"tenant": tenant.pk, "offboarding": "credentials"},
    )


def _record_revocation(
    tenant: Tenant, keys: list[IssuedCredential], changeset: Changeset, actor: str
) -> None:
    """Journal the revocation calls under the changeset and store them as its steps."""
    with current_changeset(changeset.audit_key):  # the pending entries carry it
        record_run(
            tenant, [revoke_step(k) for k in keys], actor=actor, changeset=changeset.audit_key
        )
    plan = journal_plan(
        tenant, list(tenant.recorded_steps), kind=changeset.kind, summary=changeset.summary
    )
    changeset.steps.all().delete()
    changeset_set_steps(changeset, plan)


def _not_run(tenant: Tenant) -> RunOutcome:
    return RunOutcome(
        tenant_id=tenant.pk, tenant_name=tenant.name, ok=True, nothing_to_do=True, tenant=tenant
    )


def revoke_approved(changeset: Changeset, *, actor: str, face: str = "form", client=None) -> list:
    """Apply an approved revocation (changes.apply's applier): the keys still to revoke must be
    the approved ones (else ReplayFailed, nothing sent); their calls are journaled under the
    changeset and sent (a failure part-way resumes like any revocation)."""
    approval_gate(changeset, actor=actor)
    pk = (changeset.desired or {}).get("tenant")
    tenant = Tenant.objects.filter(pk=pk).first()
    if ProvisioningStep.objects.filter(changeset=changeset.audit_key).exists():
        results = changeset_apply(changeset, actor=actor, face=face)  # journaled: a resume
        if tenant is not None:
            _settle_revoked(tenant)
        return results
    try:
        if tenant is None:
            raise ReplayFailed(f"tenant {pk} no longer exists")
        _check_runnable(tenant)
        _settle_revoked(tenant)
        keys = keys_to_revoke(tenant)
        if revoke_plan(tenant, keys).content_hash() != changeset.approved_hash:
            raise ReplayFailed(
                "the keys left to revoke are not the approved ones any more; ask for the "
                "revocation again"
            )
    except (ReplayFailed, OffboardingOrder) as exc:
        changeset_finish(changeset, ok=False, error=f"Not applied: {exc}")
        raise ReplayFailed(f"Changeset {changeset.pk} was not applied: {exc}") from None
    with transaction.atomic():
        _record_revocation(tenant, keys, changeset, actor)
    applied = tenant_apply(tenant=tenant, actor=actor, face=face, client=client)
    _settle_revoked(tenant)
    return [applied]


# -- the checklist -------------------------------------------------------------------------------
@dataclass
class ChecklistStep:
    number: int
    key: str
    title: str
    state: str = PENDING
    summary: str = ""
    error: str = ""
    changesets: list[Changeset] = field(default_factory=list)
    items: list[tuple[str, str]] = field(default_factory=list)  # (what, its state)
    # An earlier step is not done: the step waits (step 3's runbook stays at hand, with a note).
    waiting: bool = False

    @property
    def badge(self) -> str:
        return {DONE: "badge-ok", FAILED: "badge-bad", RUNNING: "badge-info"}.get(
            self.state, "badge-warn"
        )

    @property
    def state_label(self) -> str:
        return {DONE: "Done", FAILED: "Failed", RUNNING: "In progress"}.get(self.state, "Pending")


def _changeset(key: str) -> Changeset | None:
    return Changeset.objects.filter(pk=int(key)).first() if key.isdigit() else None


def _latest(kind: str, tenant: Tenant) -> Changeset | None:
    return Changeset.objects.filter(kind=kind, desired__tenant=tenant.pk).order_by("-id").first()


def _server_lists_routing(tenant: Tenant, since) -> str:
    """What the snapshot's `login.get_settings` of the tenant, read after `since`, still lists."""
    row = snapshot.routing_of(tenant.company_id)
    if row is None or row.data is None or row.fetched_at is None or row.fetched_at <= since:
        return ""
    domains, whitelist = row.data.get("domains") or [], row.data.get("whitelist") or []
    if not (domains or whitelist):
        return ""
    return (
        f"the server listed {len(domains)} domain(s) and {len(whitelist)} whitelisted email(s) "
        f"at the last refresh ({snapshot.age_text(row.fetched_at)}); push again"
    )


def routing_state(tenant: Tenant) -> ChecklistStep:
    step = ChecklistStep(1, "routing", "Remove the sign-in routing and push it")
    domains = LoginDomain.objects.filter(tenant=tenant).count()
    emails = WhitelistEntry.objects.filter(tenant=tenant).count()
    job = RoutingPushJob.objects.filter(tenant=tenant).order_by("-id").first()
    cleared = _latest(ROUTING_KIND, tenant)
    step.changesets = [c for c in (cleared, _changeset(job.changeset if job else "")) if c]
    last_change = (
        AuditEntry.objects.filter(
            target_type="tenant", target_id=str(tenant.pk), action__startswith="login.routing"
        )
        .order_by("-seq")
        .values_list("created_at", flat=True)
        .first()
    )
    if job is not None and job.status == RoutingPushJob.Status.FAILED:
        step.state, step.error = FAILED, job.error
        step.summary = "The push stopped part-way; run this step again to resume it."
    elif job is not None and job.status == RoutingPushJob.Status.RUNNING:
        step.state = RUNNING
        step.summary = "The push is running; run this step again to go on with it."
    elif domains or emails:
        step.summary = f"The console holds {domains} domain(s) and {emails} whitelisted email(s)."
    elif job is None or job.finished_at is None or (last_change and last_change > job.finished_at):
        step.summary = "The server's routing has not been emptied by a push since the last change."
    else:
        still = _server_lists_routing(tenant, job.finished_at)
        step.state = PENDING if still else DONE
        step.summary = still or (
            f"No domain or whitelisted email is left; the server matched at "
            f"{job.finished_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC."
        )
    return step


def credentials_state(tenant: Tenant) -> ChecklistStep:
    step = ChecklistStep(2, "credentials", "Revoke the API credentials the console issued")
    keys = issued_keys(tenant)
    done = revoked_in_journal(tenant)
    left = [k for k in keys if k.revoked_at is None and k.access_key not in done]
    step.items = [
        (f"{k.access_key} ({k.admin.email})", "left" if k in left else "revoked") for k in keys
    ]
    latest = _latest(REVOKE_KIND, tenant)
    step.changesets = [latest] if latest else []
    if not left:
        step.state = DONE
        step.summary = (
            f"All {len(keys)} key(s) the console issued are revoked."
            if keys
            else "The console issued no key to this tenant's admins."
        )
    elif latest is not None and latest.status == Changeset.Status.FAILED:
        step.state, step.error = FAILED, latest.error
        step.summary = f"{len(left)} key(s) left; run this step again to resume."
    elif latest is not None and latest.status == Changeset.Status.APPLYING:
        step.state = RUNNING
        step.summary = f"{len(left)} key(s) left; if it stopped, run this step again to resume."
    else:
        step.summary = f"{len(left)} key(s) to revoke with auth.revoke_credentials."
    return step


def offboarding_checklist(tenant: Tenant) -> list[ChecklistStep]:
    """The three steps with their state, read from the database (no apiserver call)."""
    routing = routing_state(tenant)
    credentials = credentials_state(tenant)
    delete = ChecklistStep(3, "delete", "Run the deletion runbook, then mark the tenant deleted")
    if tenant.is_deleted:
        delete.state, delete.summary = DONE, "Marked as deleted."
    else:
        delete.summary = "Below: type the tenant's name to see the runbook."
    credentials.waiting = routing.state != DONE and credentials.state != DONE
    delete.waiting = routing.state != DONE or credentials.state != DONE
    return [routing, credentials, delete]
