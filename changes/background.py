"""Applying a changeset on the background worker (`manage.py worker`, docs/worker.md).

A face that applies a changeset of more than BACKGROUND_STEPS steps, or a recorded SPEC plan,
calls `changeset_enqueue` instead of applying it in the request: a `BackgroundApply` row and a
django-tasks task are written in one transaction, and the worker runs `background_run`, which
applies through the same path as the page (`changes.apply.changeset_apply`, or the recorded SPEC
apply for a plan that kept its SPEC). The page shows its progress from the journal
(changes/progress.py).

- **Retry** of a failed run enqueues it again: the engine resumes from the journal (what was done
  is not sent again; a call sent without an answer is settled first).
- **A worker killed mid-run** leaves the row `running`. Its lease dies with it, as the engine's
  tenant leases do: on PostgreSQL the run holds a session advisory lock on its changeset, which
  the server drops with the connection; elsewhere the row names the worker's `host:pid`.
  `resume_stuck` (at every worker start, and as a periodic job) enqueues such runs again.
- **A routing push of more than BACKGROUND_STEPS calls** (a bulk import's, typically) runs here
  too (`routing_push_begin`): the worker sends the push job's batches (changes/routing.py), the
  push page follows them, and a resume re-reads the server before sending what is missing.
- **New credentials are never made in the background**: their secret is shown once, to the
  person who applied. A changeset with a credentials step is applied in the request as before.
"""

import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django_tasks import task

from console.audit import audit_record
from console.validation import InvalidInput
from sso.models import RoutingPushJob
from sso.routing.push import open_job
from tenants.models import ProvisioningStep, Tenant
from tenants.provisioning.engine import (
    DEFAULT_CONCURRENCY,
    TenantBusy,
    lease_holder_dead,
    lease_owner,
)
from tenants.services import NotAllowed, TenantChanged

from . import apply as pipeline
from . import routing as routing_changes
from . import tenants as tenant_changes
from .engine import changeset_finish
from .models import BackgroundApply, Changeset, ChangeStep
from .spec.plan import PlanError
from .spec.recorded import NotApplicable as SpecNotApplicable
from .spec.recorded import PlanChanged, spec_apply_recorded

log = logging.getLogger(__name__)

BACKGROUND_STEPS = 5
CREDENTIALS_STEP = ProvisioningStep.Kind.CREDENTIALS_CREATE
OPEN_STEP_STATUSES = (
    ChangeStep.Status.PLANNED,
    ChangeStep.Status.FAILED,
    ChangeStep.Status.UNKNOWN,
)
# A run's refusals and failures, shown on the page with Retry.
REFUSALS = (
    pipeline.NotApplicable,
    SpecNotApplicable,
    PlanChanged,
    PlanError,
    TenantBusy,
    TenantChanged,
    NotAllowed,
    InvalidInput,
)
ADVISORY_KEY = 0x434D4C62  # "CMLb": a background run's changeset (the engine's tenants: "CMLt")


def _keeps_its_spec(changeset: Changeset) -> bool:
    return isinstance(changeset.desired, dict) and "spec" in changeset.desired


def runs_in_background(changeset: Changeset) -> bool:
    """Whether applying the changeset is the worker's job: recorded calls of more than
    BACKGROUND_STEPS open steps, or a recorded SPEC plan, without a credentials step."""
    if changeset.kind == routing_changes.PUSH_KIND:
        if background_of(changeset) is not None:
            return True  # once on the worker, its Retry stays there
        planned = changeset.steps.filter(status=ChangeStep.Status.PLANNED).count()
        return planned > BACKGROUND_STEPS
    if not changeset.kind.startswith(("tenant.", "spec")) or changeset.kind in pipeline.APPLIERS:
        return False
    open_steps = changeset.steps.filter(status__in=OPEN_STEP_STATUSES)
    if open_steps.filter(kind=CREDENTIALS_STEP).exists():
        return False
    if changeset.kind == "spec" and _keeps_its_spec(changeset):
        return True
    return open_steps.count() > BACKGROUND_STEPS


def background_of(changeset: Changeset) -> BackgroundApply | None:
    return BackgroundApply.objects.filter(changeset=changeset).first()


def _refuse_unless_applicable(changeset: Changeset) -> None:
    """The refusals of an apply in the request, before anything is queued. (A recorded SPEC
    plan, approved or not, is applied here from its SPEC.)"""
    if changeset.kind == routing_changes.PUSH_KIND:
        if not routing_changes.push_is_open(changeset):
            raise pipeline.NotApplicable(
                f"Changeset {changeset.pk} is a routing push that finished or was replaced by a "
                "newer one; push again from the tenant's routing page."
            )
        return
    if changeset.status == Changeset.Status.AWAITING_APPROVAL:
        pipeline.changeset_apply_refusal(changeset)
    recorded_spec = changeset.kind == "spec" and _keeps_its_spec(changeset)
    if recorded_spec and changeset.status in (Changeset.Status.PLANNED, Changeset.Status.APPROVED):
        return
    if not pipeline.can_apply(changeset):
        pipeline.changeset_apply_refusal(changeset)


def changeset_enqueue(changeset: Changeset, *, actor: str) -> BackgroundApply:
    """Queue the changeset for the worker (again, after a failure: it resumes). Asking while it
    is queued or running gives the same run. Raises changes.apply.NotApplicable."""
    with transaction.atomic():
        job = BackgroundApply.objects.select_for_update().filter(changeset=changeset).first()
        if job is not None and job.status in (
            BackgroundApply.Status.QUEUED,
            BackgroundApply.Status.RUNNING,
        ):
            return job
        _refuse_unless_applicable(changeset)
        job = job or BackgroundApply(changeset=changeset)
        job.status = BackgroundApply.Status.QUEUED
        job.requested_by = actor[:150]
        job.error, job.worker, job.queued_at = "", "", timezone.now()
        job.started_at = job.finished_at = None
        job.save()
        job.task_id = str(apply_changeset.enqueue(changeset.pk).id)[:64]
        job.save(update_fields=["task_id"])
        audit_record(
            actor=actor,
            action="change.queue",
            target_type="changeset",
            target_id=str(changeset.pk),
            target_repr=changeset.summary,
            after={"attempt": job.attempts + 1, "task": job.task_id},
        )
    return job


def _holder_dead(job: BackgroundApply) -> bool:
    """Whether the worker that marked the run `running` is gone (see the module docstring)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ADVISORY_KEY, job.changeset_id])
            free = bool(cursor.fetchone()[0])
            if free:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_KEY, job.changeset_id]
                )
        return free
    return lease_holder_dead(job.worker)


def _take(changeset_id: int) -> tuple[BackgroundApply | None, bool]:
    """Mark the run `running` by this worker (and, on PostgreSQL, hold its lock). Returns the row
    (None when there is nothing to run) and whether it takes over a dead worker's run."""
    with transaction.atomic():
        job = BackgroundApply.objects.select_for_update().filter(changeset_id=changeset_id).first()
        finished = (BackgroundApply.Status.DONE, BackgroundApply.Status.FAILED)
        if job is None or job.status in finished:
            return None, False
        resumed = job.status == BackgroundApply.Status.RUNNING or job.attempts > 0
        if job.status == BackgroundApply.Status.RUNNING and not _holder_dead(job):
            return None, False  # a live worker runs it
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [ADVISORY_KEY, changeset_id])
        job.status, job.worker = BackgroundApply.Status.RUNNING, lease_owner()[:200]
        job.attempts += 1
        job.started_at, job.error = timezone.now(), ""
        job.checked = job.to_check = 0
        fields = ["status", "worker", "attempts", "started_at", "error", "checked", "to_check"]
        job.save(update_fields=fields)
    return job, resumed


def _release(changeset_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_KEY, changeset_id])


def _let_calls_in_flight_land(changeset: Changeset) -> None:
    """The server may still be processing a call the dead worker sent (it lands after its client
    is gone). Wait until CLEARML_API_TIMEOUT has passed since the last call was sent, so the
    resume's read calls (a create is looked up before it is sent again) see what it made."""
    if changeset.kind == routing_changes.PUSH_KIND:
        last = routing_changes.push_last_sent(changeset)
    else:
        last = ProvisioningStep.objects.filter(
            changeset=changeset.audit_key, sent_at__isnull=False
        ).aggregate(last=Max("sent_at"))["last"]
    if last is None:
        return
    timeout = float(settings.CLEARML_API_TIMEOUT)
    wait = timeout - (timezone.now() - last).total_seconds()
    if wait > 0:
        time.sleep(min(wait, timeout))


def _take_back(changeset: Changeset) -> None:
    """A changeset left `applying` by a worker that died: failed, so the apply resumes it from
    the journal; a SPEC plan the dead run had not journaled yet is planned (or approved) again,
    so it is applied from its SPEC as it would have been."""
    if changeset.kind == routing_changes.PUSH_KIND:
        _let_calls_in_flight_land(changeset)
        routing_changes.routing_push_take_back(changeset)
        return
    journaled = ProvisioningStep.objects.filter(changeset=changeset.audit_key).exists()
    if journaled or not (changeset.kind == "spec" and _keeps_its_spec(changeset)):
        _let_calls_in_flight_land(changeset)
        changeset_finish(changeset, ok=False, error="the worker stopped while applying it")
        return
    status = Changeset.Status.APPROVED if changeset.approved_hash else Changeset.Status.PLANNED
    Changeset.objects.filter(pk=changeset.pk).update(status=status)
    changeset.status = status


class _CheckProgress:
    """Keeps the run's row told how far the check of the plan against the server has gone, so
    the page moves before the first call is sent: at the start, at the end, and at most every
    REPORT_SECONDS between (one small UPDATE each)."""

    REPORT_SECONDS = 0.2

    def __init__(self, job: BackgroundApply):
        self.job_pk = job.pk
        self.last = float("-inf")

    def __call__(self, read: int, total: int) -> None:
        now = time.monotonic()
        if read in (0, total) or now - self.last >= self.REPORT_SECONDS:
            self.last = now
            BackgroundApply.objects.filter(pk=self.job_pk).update(checked=read, to_check=total)


def _apply(changeset: Changeset, *, actor: str, job: BackgroundApply) -> str:
    """Apply as the page would; the error to show ("" when applied)."""
    if changeset.kind == routing_changes.PUSH_KIND:
        return routing_changes.routing_push_run(changeset, actor=actor)
    journaled = ProvisioningStep.objects.filter(changeset=changeset.audit_key).exists()
    if changeset.kind == "spec" and _keeps_its_spec(changeset) and not journaled:
        done = spec_apply_recorded(
            changeset,
            actor=actor,
            face=changeset.face,
            concurrency=DEFAULT_CONCURRENCY,
            on_read=_CheckProgress(job),
        )
        if done.server_errors:
            return "; ".join(done.server_errors)
    else:
        pipeline.changeset_apply(changeset, actor=actor, face=changeset.face)
    changeset.refresh_from_db()
    if changeset.status == Changeset.Status.APPLIED:
        return ""
    return changeset.error or f"the changeset is {changeset.get_status_display().lower()}"


@task()
def apply_changeset(changeset_id: int) -> str:
    """The django-tasks task the worker runs for a queued changeset."""
    return background_run(changeset_id)


def background_run(changeset_id: int) -> str:
    """The worker's task: apply (or resume) the changeset; the outcome is kept on its
    BackgroundApply row. Returns the row's status."""
    job, resumed = _take(changeset_id)
    if job is None:
        return "skipped"
    try:
        changeset = Changeset.objects.get(pk=changeset_id)
        if resumed and changeset.status == Changeset.Status.APPLYING:
            _take_back(changeset)
        error = _apply(changeset, actor=job.requested_by, job=job)
    except REFUSALS as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - any failure is shown on the page, with Retry
        log.exception("background apply of changeset %s stopped", changeset_id)
        error = f"the worker stopped unexpectedly ({type(exc).__name__})"
    finally:
        _release(changeset_id)
    job.status = BackgroundApply.Status.FAILED if error else BackgroundApply.Status.DONE
    job.error, job.finished_at = error[:10_000], timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    return job.status


def resume_stuck() -> list[int]:
    """Queue again the runs whose worker died (it left them `running`); their changesets."""
    resumed = []
    for job in BackgroundApply.objects.filter(status=BackgroundApply.Status.RUNNING):
        if not _holder_dead(job):
            continue
        with transaction.atomic():
            taken = BackgroundApply.objects.filter(
                pk=job.pk, status=BackgroundApply.Status.RUNNING, worker=job.worker
            ).update(status=BackgroundApply.Status.QUEUED, queued_at=timezone.now())
            if taken:
                task_id = str(apply_changeset.enqueue(job.changeset_id).id)[:64]
                BackgroundApply.objects.filter(pk=job.pk).update(task_id=task_id)
                resumed.append(job.changeset_id)
    if resumed:
        log.warning("resuming the background applies of changesets %s", resumed)
    return resumed


def routing_push_begin(*, tenant: Tenant, actor: str, face: str = "form") -> RoutingPushJob:
    """Push the tenant's routing from a page: a push of more than BACKGROUND_STEPS calls (or one
    the worker ran before: its Retry) is queued for the worker, a smaller one is sent by the
    page's polls. Raises InvalidInput, ApiError (the server's routing cannot be read) or
    changes.apply.NotApplicable."""
    job = open_job(tenant)
    earlier = push_background(job) if job is not None else None
    if earlier is not None:
        # The worker's push: it runs it (a live run is left alone) or resumes it (Retry).
        changeset_enqueue(earlier.changeset, actor=actor)
        return job
    job = routing_changes.routing_push_start(tenant=tenant, actor=actor, face=face)
    changeset = Changeset.objects.filter(pk=int(job.changeset)).first() if job.changeset else None
    if changeset is not None and job.status == RoutingPushJob.Status.RUNNING:
        if runs_in_background(changeset):
            changeset_enqueue(changeset, actor=actor)
    return job


def push_background(job: RoutingPushJob) -> BackgroundApply | None:
    """The worker's run of a push job (None: the page's polls send it)."""
    if not job.changeset:
        return None
    return BackgroundApply.objects.filter(changeset_id=int(job.changeset)).first()


def tenant_apply_queue(*, tenant: Tenant, actor: str, face: str = "form") -> BackgroundApply | None:
    """Queue the tenant page's Apply (or Resume) for the worker when its changeset is the
    worker's (more than BACKGROUND_STEPS open steps, no credentials step: a new secret is shown
    once, in the request). None: the page applies it in the request as before. Raises
    changes.apply.NotApplicable (its changeset waits for approval, for example)."""
    changeset = tenant_changes.tenant_apply_changeset(tenant, actor=actor, face=face)
    if changeset is None or not runs_in_background(changeset):
        return None
    return changeset_enqueue(changeset, actor=actor)
