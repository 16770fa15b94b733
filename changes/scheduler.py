"""The worker's schedule of periodic jobs (console.periodic): which job is due, and which worker
runs it.

Every job has a `PeriodicJobState` row. A worker takes a due job with one conditional UPDATE —
`next_run_at <= now` becomes `now + interval` — and enqueues a django-tasks task for it in the
same transaction. Of several workers (replicas) on one database exactly one UPDATE matches, on
SQLite (one writer at a time) and PostgreSQL (the row lock makes the second UPDATE re-read the
row, which no longer matches) alike, so a job runs once per interval however many workers run.
A conditional UPDATE needs no open transaction while the job runs, unlike SELECT … FOR UPDATE
SKIP LOCKED, which SQLite does not have.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_tasks import task

from console.periodic import PeriodicJob, periodic_jobs

from .models import PeriodicJobState

log = logging.getLogger(__name__)


def schedule_ensure() -> None:
    """A row for every registered job (a new job is due at once)."""
    now = timezone.now()
    PeriodicJobState.objects.bulk_create(
        [PeriodicJobState(name=job.name, next_run_at=now) for job in periodic_jobs()],
        ignore_conflicts=True,
    )


def jobs_claim_due(*, worker: str) -> list[str]:
    """Take the jobs that are due and queue a task for each; the names taken."""
    taken = []
    for job in periodic_jobs():
        now = timezone.now()
        with transaction.atomic():
            claimed = PeriodicJobState.objects.filter(name=job.name, next_run_at__lte=now).update(
                next_run_at=now + timedelta(seconds=job.interval_seconds()),
                runs=F("runs") + 1,
                last_claimed_by=worker[:200],
                last_claimed_at=now,
            )
            if claimed:
                run_periodic_job.enqueue(job.name)
                taken.append(job.name)
    return taken


def _job(name: str) -> PeriodicJob | None:
    return next((job for job in periodic_jobs() if job.name == name), None)


@task()
def run_periodic_job(name: str) -> str:
    """The task of one turn of a periodic job; its outcome is kept on the job's row."""
    job = _job(name)
    if job is None:
        return "unknown job"
    error = ""
    try:
        job.run()
    except Exception as exc:  # noqa: BLE001 - a failed turn is recorded; the next one runs anyway
        log.exception("periodic job %s failed", name)
        error = f"{type(exc).__name__}: {exc}"
    PeriodicJobState.objects.filter(name=name).update(
        last_finished_at=timezone.now(), last_error=error[:10_000]
    )
    return error or "ok"
