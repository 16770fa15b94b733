"""Sign-in routing changes through the pipeline: add, remove, pull, bulk import, and push.

- add, pull and import change only what the console keeps: each is a `local_change` (the rows,
  the audit entry and the changeset commit together; a save that changes nothing leaves nothing).
- remove is recorded the same way, as one risky `routing.remove` step (with CONSOLE_APPROVALS
  on it waits for a second admin; `routing_remove_approved` applies it once approved).
- a push is a resumable job of batches (sso/routing/push.py) that the browser runs one short step
  per poll. The job is one changeset: its steps are the job's batches (one apiserver call each,
  kind = the endpoint), every batch's audit entries carry its id, and it is finished (applied or
  failed, each step's status from its batch) whenever a step of the job ends. A resume re-plans
  from the server: the new batches are appended as steps, the dropped ones marked not reached.
"""

import time
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from console.apiserver import client_from_settings
from console.audit import current_changeset
from sso.models import RoutingImport, RoutingPushBatch, RoutingPushJob
from sso.routing import csv_import
from sso.routing import services as routing
from sso.routing.push import (
    open_job,
    push_start,
    push_step,
    push_take_back,
    read_server_state,
    tenant_act_as,
)
from sso.routing.services import RoutingChange
from sso.routing.validation import ALLOW_PUBLIC_KEY
from tenants.models import Tenant

from .engine import (
    changeset_finish,
    changeset_open,
    desired_object,
    local_change,
    local_change_replay,
)
from .models import Changeset, ChangeStep
from .plan import RISKY_KINDS, PlannedStep, content_hash

BatchStatus = RoutingPushBatch.Status
JobStatus = RoutingPushJob.Status
# The RISKY_KINDS name of each login.* call that can take routing away from someone.
PUSH_RISK = {
    "login.set_domains": "routing.domains.set",  # replaces the whole list
    "login.remove_whitelist_entries": "routing.whitelist.remove",
}
LIST_NAMES = {"domain": "domains", "admin": "whitelisted admins", "user": "whitelisted users"}
BATCH_STEP_STATUS = {
    BatchStatus.PENDING: ChangeStep.Status.PLANNED,
    BatchStatus.SENDING: ChangeStep.Status.PLANNED,
    BatchStatus.APPLIED: ChangeStep.Status.DONE,
    BatchStatus.FAILED: ChangeStep.Status.FAILED,
    BatchStatus.REPLANNED: ChangeStep.Status.FAILED,
}


def tenant_target(tenant: Tenant) -> str:
    return f"tenant:{tenant.name}"


def _settle_push(tenant: Tenant, changeset: Changeset | None) -> None:
    """After a routing change: a running push was stopped (its plan is stale, push_invalidate);
    its changeset says so at once rather than at the next poll."""
    job = open_job(tenant) if changeset is not None else None
    if job is not None and job.changeset:
        push_record(job)


# -- console-only changes ------------------------------------------------------------------------
def routing_add(
    *,
    tenant: Tenant,
    kind: str,
    values: list[str],
    actor: str,
    face: str = "form",
    allow_public: Sequence[str] = (),
) -> tuple[Changeset | None, RoutingChange]:
    """Add domains or whitelist emails (an inline form). Raises InvalidInput, nothing saved.

    `allow_public`: the public mail domains the admin confirmed routing to this tenant; the
    changeset's request and the audit entry record them.
    """
    desired = {"tenant": tenant.pk, "kind": kind, "values": list(values)}
    if allow_public:
        desired[ALLOW_PUBLIC_KEY] = list(allow_public)
    result = local_change(
        kind="routing.add",
        summary=f"Add {LIST_NAMES.get(kind, kind)} to the sign-in routing of {tenant.name}",
        actor=actor,
        face=face,
        desired=desired,
        write=lambda: routing.routing_add(
            tenant=tenant, kind=kind, values=values, actor=actor, allow_public=allow_public
        ),
    )
    _settle_push(tenant, result[0])
    return result


def routing_remove(
    *, tenant: Tenant, kind: str, key: str, actor: str, face: str = "form"
) -> tuple[Changeset, RoutingChange]:
    """Remove one domain or email: a risky step (new users of that key stop reaching the tenant).

    Raises InvalidInput (the key is not listed any more) with nothing written. With
    CONSOLE_APPROVALS on, the removal waits for approval: the changeset is `awaiting_approval`
    and nothing is removed until `routing_remove_approved` applies it.
    """
    changeset, change = local_change(
        kind="routing.remove",
        summary=f"Remove {key} from the sign-in routing of {tenant.name}",
        actor=actor,
        face=face,
        desired={"tenant": tenant.pk, "kind": kind, "key": key},
        write=lambda: routing.routing_remove(tenant=tenant, kind=kind, key=key, actor=actor),
        steps=lambda change: removal_steps(tenant, change),
    )
    if changeset is not None and changeset.status == Changeset.Status.APPLIED:
        _settle_push(tenant, changeset)
    return changeset, change


def removal_steps(tenant: Tenant, change: RoutingChange) -> list[PlannedStep]:
    """A routing removal as its one risky `routing.remove` step."""
    before, after = change.audit_lists()
    step = PlannedStep(
        kind="routing.remove", target=tenant_target(tenant), before=before, after=after
    )
    return [step]


def routing_remove_approved(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """Apply an approved `routing.remove` (changes.apply's applier): the removal again, from
    `desired`."""
    desired = changeset.desired or {}
    tenant = Tenant.objects.filter(pk=desired.get("tenant")).first()

    def write() -> RoutingChange:
        found = desired_object(Tenant, f"tenant {desired.get('tenant')}", pk=desired.get("tenant"))
        return routing.routing_remove(
            tenant=found, kind=desired.get("kind"), key=desired.get("key"), actor=actor
        )

    local_change_replay(
        changeset, actor=actor, write=write, steps=lambda change: removal_steps(tenant, change)
    )
    _settle_push(tenant, changeset)
    return []


def routing_pull(
    *, tenant: Tenant, actor: str, face: str = "form"
) -> tuple[Changeset | None, RoutingChange]:
    """Take the server's routing (`login.get_settings`) as the console's, after validating it.

    The server is read first, outside any transaction; the save is a local change. Raises
    InvalidInput (no admin to act as, a key another tenant holds) or ApiError, nothing saved.
    """
    records: list = []
    server = read_server_state(client_from_settings(), tenant_act_as(tenant), records=records)
    wanted = routing.server_routing_checked(tenant=tenant, server=server)
    result = local_change(
        kind="routing.pull",
        summary=f"Take the server's sign-in routing of {tenant.name}",
        actor=actor,
        face=face,
        desired={"tenant": tenant.pk},
        write=lambda: routing.routing_save(
            tenant=tenant,
            routing=wanted,
            actor=actor,
            action="login.routing.pull",
            calls=records,
        ),
    )
    _settle_push(tenant, result[0])
    return result


def routing_import_check(
    *, tenant: Tenant, text: str, role_mode: str, actor: str, source: str
) -> tuple[csv_import.ImportCheck, RoutingImport | None]:
    """Check every line of a bulk import; keep it as a draft to save when every line is valid
    (a draft changes nothing yet). Raises InvalidInput for a file-level problem."""
    check = csv_import.import_check(tenant=tenant, text=text, role_mode=role_mode)
    if not check.ok:
        return check, None
    draft = csv_import.import_draft(
        tenant=tenant, check=check, actor=actor, source=source, role_mode=role_mode
    )
    return check, draft


def routing_import_save(
    *, draft: RoutingImport, actor: str, face: str = "form"
) -> tuple[Changeset | None, RoutingChange]:
    """Save a checked import into the whitelist. Raises InvalidInput (saved already, a race lost
    to another tenant) with nothing saved."""
    tenant = draft.tenant
    result = local_change(
        kind="routing.import",
        summary=f"Import {len(draft.entries):,} whitelist email(s) into {tenant.name}",
        actor=actor,
        face=face,
        desired={"tenant": tenant.pk, "import": draft.pk, "source": draft.source},
        write=lambda: csv_import.import_save(draft=draft, actor=actor),
    )
    _settle_push(tenant, result[0])
    return result


# -- push ----------------------------------------------------------------------------------------
def routing_push_start(*, tenant: Tenant, actor: str, face: str = "form") -> RoutingPushJob:
    """Start a push, or resume the tenant's unfinished one, and record it as its changeset.

    Reads the server and plans the batches (nothing is sent yet: `routing_push_step` sends them).
    A push with nothing to send records no changeset. Raises InvalidInput (no admin to act as)
    or ApiError (the server's routing cannot be read), with nothing recorded.
    """
    job = push_start(tenant=tenant, actor=actor, client=client_from_settings())
    return push_record(job, face=face)


def routing_push_step(job: RoutingPushJob, budget_seconds: float | None = None) -> RoutingPushJob:
    """Send the job's next batches for about `budget_seconds` under its changeset, then record
    the outcome on the changeset's steps (and finish it when the job ended)."""
    job = push_record(job)
    if job.status == JobStatus.RUNNING:
        client = client_from_settings()
        if job.changeset:
            with current_changeset(job.changeset):
                job = push_step(job, client, budget_seconds=budget_seconds)
        else:
            job = push_step(job, client, budget_seconds=budget_seconds)
    return push_record(job)


# -- a push on the background worker (changes/background.py) ---------------------------------------
PUSH_KIND = "routing.push"
WORKER_STEP_SECONDS = 1.0  # the changeset's steps are brought up to date this often
WAIT_FOR_OTHER_SENDER_SECONDS = 120.0


def push_job_of(changeset: Changeset) -> RoutingPushJob | None:
    """The push job a `routing.push` changeset records."""
    return (
        RoutingPushJob.objects.select_related("tenant")
        .filter(changeset=changeset.audit_key)
        .first()
    )


def push_last_sent(changeset: Changeset) -> datetime | None:
    """When the push's last call went out (None: none yet)."""
    job = push_job_of(changeset)
    if job is None:
        return None
    return job.batches.filter(sent_at__isnull=False).aggregate(last=Max("sent_at"))["last"]


def push_is_open(changeset: Changeset) -> bool:
    """Whether the changeset's push can still run: its job is the tenant's unfinished one."""
    job = push_job_of(changeset)
    return job is not None and job == open_job(job.tenant)


def routing_push_take_back(changeset: Changeset) -> None:
    """A push left running by a worker that died: the call it was sending has an unknown
    outcome and the push is failed, so the run that follows resumes it from the server's state."""
    job = push_job_of(changeset)
    if job is not None:
        push_record(push_take_back(job, "the worker stopped while sending this call"))


def routing_push_run(changeset: Changeset, *, actor: str) -> str:
    """Run (or resume) the changeset's push to its end in this process, as the worker does;
    the error to show ("" when done). A failed push is resumed first: the server is read again
    and only what is still missing is sent."""
    job = push_job_of(changeset)
    if job is None or job != open_job(job.tenant):
        return "this push is finished or was replaced by a newer one; push again from the tenant"
    if job.status == JobStatus.FAILED:
        job = routing_push_start(tenant=job.tenant, actor=actor, face=changeset.face)
    waited_until = time.monotonic() + WAIT_FOR_OTHER_SENDER_SECONDS
    while job.status == JobStatus.RUNNING:
        before = job.batches.filter(status=BatchStatus.APPLIED).count()
        job = routing_push_step(job, budget_seconds=WORKER_STEP_SECONDS)
        stuck = job.batches.filter(status=BatchStatus.APPLIED).count() == before
        if job.status == JobStatus.RUNNING and stuck:
            if time.monotonic() > waited_until:  # someone else holds the job
                return "another process kept sending this push; try again later"
            time.sleep(0.5)
    return "" if job.status == JobStatus.DONE else job.error or "the push stopped"


def push_record(job: RoutingPushJob, *, face: str = "form") -> RoutingPushJob:
    """Bring the job's changeset up to date with its batches: open it when the job has batches
    and none yet, append steps for new batches, copy each batch's outcome onto its step, and set
    the changeset applying, applied or failed as the job is running, done or failed."""
    with transaction.atomic():
        job = RoutingPushJob.objects.select_for_update().select_related("tenant").get(pk=job.pk)
        batches = list(job.batches.order_by("seq"))
        changeset = _job_changeset(job, batches, face)
        if changeset is None:
            return job
        _sync_steps(changeset, job, batches)
        if job.status == JobStatus.RUNNING:
            if changeset.status != Changeset.Status.APPLYING:
                Changeset.objects.filter(pk=changeset.pk).update(
                    status=Changeset.Status.APPLYING, error="", updated_at=timezone.now()
                )
        else:
            done = job.status == JobStatus.DONE
            wanted = Changeset.Status.APPLIED if done else Changeset.Status.FAILED
            if (changeset.status, changeset.error) != (wanted, "" if done else job.error):
                changeset_finish(changeset, ok=done, error=job.error)
    return job


def _job_changeset(job: RoutingPushJob, batches: list, face: str) -> Changeset | None:
    if job.changeset:
        return Changeset.objects.select_for_update().filter(pk=int(job.changeset)).first()
    if not batches:
        return None  # the server already matched: nothing to record
    changeset = changeset_open(
        kind="routing.push",
        summary=f"Push the sign-in routing of {job.tenant.name}",
        actor=job.actor,
        face=face,
        desired={"tenant": job.tenant_id, "push_job": job.pk},
    )
    job.changeset = changeset.audit_key
    RoutingPushJob.objects.filter(pk=job.pk).update(changeset=job.changeset)
    return changeset


def _batch_step(job: RoutingPushJob, batch: RoutingPushBatch) -> PlannedStep:
    call = {"endpoint": batch.endpoint, "body": batch.body}
    if job.act_as:
        call["act_as"] = job.act_as
    return PlannedStep(
        kind=batch.endpoint,
        target=tenant_target(job.tenant),
        after={"description": batch.description} if batch.description else None,
        call=call,
        risky=PUSH_RISK.get(batch.endpoint) in RISKY_KINDS,
        ref={"push_job": job.pk, "batch": batch.pk, "seq": batch.seq},
    )


def _step_status(batch: RoutingPushBatch | None) -> str:
    if batch is None:
        return ChangeStep.Status.SKIPPED  # planned, then dropped when a resume re-planned
    if batch.status in (BatchStatus.FAILED, BatchStatus.REPLANNED) and batch.outcome_unknown:
        return ChangeStep.Status.UNKNOWN
    return BATCH_STEP_STATUS.get(batch.status, ChangeStep.Status.PLANNED)


def _printed(step: ChangeStep) -> dict:
    """A stored step as the content hash covers it (PlannedStep.as_dict)."""
    return {
        "kind": step.kind,
        "target": step.target,
        "call": step.call,
        "risky": step.risky,
        "before": step.before,
        "after": step.after,
    }


def _sync_steps(changeset: Changeset, job: RoutingPushJob, batches: list) -> None:
    steps = list(changeset.steps.order_by("position"))
    known = {(s.ref or {}).get("batch") for s in steps}
    new = [_batch_step(job, b) for b in batches if b.pk not in known]
    if new:
        position = steps[-1].position if steps else 0
        ChangeStep.objects.bulk_create(
            [
                ChangeStep(
                    changeset=changeset,
                    position=position + n,
                    kind=s.kind[:50],
                    target=s.target[:300],
                    after=s.after,
                    call=s.call,
                    risky=bool(s.risky),
                    ref=s.ref,
                )
                for n, s in enumerate(new, start=1)
            ]
        )
        steps = list(changeset.steps.order_by("position"))
        changeset.content_hash = content_hash([_printed(s) for s in steps], prune=False)
        Changeset.objects.filter(pk=changeset.pk).update(content_hash=changeset.content_hash)
    by_pk = {b.pk: b for b in batches}
    changed = []
    for step in steps:
        batch = by_pk.get((step.ref or {}).get("batch"))
        status = _step_status(batch)
        error = (batch.error if batch is not None else "")[:10_000]
        if (status, error) != (step.status, step.error):
            step.status, step.error = status, error
            step.finished_at = None if status == ChangeStep.Status.PLANNED else timezone.now()
            changed.append(step)
    if changed:
        ChangeStep.objects.bulk_update(changed, ["status", "error", "finished_at"])
