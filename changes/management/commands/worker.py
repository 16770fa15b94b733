"""`manage.py worker`: the background worker (docs/worker.md).

It is django-tasks' own database worker (`db_worker`: its arguments, its loop and its graceful
shutdown — SIGTERM or SIGINT lets the current task finish, then the process exits 0), with two
additions: at start it queues again the applies a killed worker left running
(changes.background.resume_stuck), and a scheduler thread queues each periodic job
(console.periodic) when it is due, once per interval across every worker on the database
(changes/scheduler.py).
"""

import logging
import signal
import sys
import threading

from django.db import connection
from django_tasks.backends.database.management.commands.db_worker import (
    Command as DatabaseWorkerCommand,
)
from django_tasks.backends.database.management.commands.db_worker import package_logger

from changes.background import resume_stuck
from changes.scheduler import jobs_claim_due, schedule_ensure
from tenants.provisioning.engine import lease_owner

log = logging.getLogger("changes.worker")

POLL_SECONDS = 0.25


class Scheduler(threading.Thread):
    """Queues due periodic jobs every `tick` seconds (a daemon: it ends with the worker)."""

    def __init__(self, tick: float, worker: str):
        super().__init__(name="scheduler", daemon=True)
        self.tick, self.worker = tick, worker
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            schedule_ensure()
            while not self.stopped.is_set():
                try:
                    for name in jobs_claim_due(worker=self.worker):
                        log.info("queued periodic job %s", name)
                except Exception:  # noqa: BLE001 - a busy or restarting database: try next tick
                    log.exception("the scheduler could not check the periodic jobs")
                self.stopped.wait(self.tick)
        finally:
            connection.close()


def _exit_now(signum, frame) -> None:
    sys.exit(0)


class Command(DatabaseWorkerCommand):
    help = (
        "Run the background worker: queued changeset applies, the scheduled server-state "
        "refresh and drift (django-tasks' database worker, with a scheduler)."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--tick",
            type=float,
            default=5.0,
            help="How often (seconds) the scheduler checks for due periodic jobs (default 5).",
        )
        parser.add_argument(
            "--no-scheduler",
            action="store_false",
            dest="scheduler",
            help="Run queued tasks only; another worker queues the periodic jobs.",
        )
        # Reloading runs the loop in a child process; the resume and the scheduler belong there.
        # An idle worker looks for queued tasks every 0.25 s rather than django-tasks' 1 s: an
        # Apply's progress should move within a second of the click, and the look is one short
        # indexed query.
        parser.set_defaults(reload=False, worker_id=lease_owner()[:64], interval=POLL_SECONDS)

    def configure_logging(self, verbosity: int) -> None:
        super().configure_logging(verbosity)
        log.setLevel(package_logger.level)
        if not log.hasHandlers():
            log.addHandler(logging.StreamHandler(self.stdout))

    def handle(self, *, tick: float, scheduler: bool, **options) -> None:
        # Until django-tasks' loop sets its own handlers, a stop request simply ends the start.
        for stop in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop, _exit_now)
        self.configure_logging(options["verbosity"])
        resumed = resume_stuck()
        if resumed:
            log.warning("resumed the applies of changesets %s left by a stopped worker", resumed)
        if scheduler:
            Scheduler(tick, options["worker_id"]).start()
        super().handle(**options)
