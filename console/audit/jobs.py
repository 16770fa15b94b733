"""The audit log's repeated jobs for the background worker (console/periodic.py):
delivering every sink's backlog every few seconds, and archiving by retention every hour.

Both also run without the worker: `manage.py audit_sink deliver [--once|--loop]` and
`manage.py audit_archive`.
"""

import logging

from console.periodic import periodic

from .archive import ArchiveRefused, archive_by_retention
from .sinks.delivery import deliver_all

log = logging.getLogger(__name__)

DELIVER_EVERY_SECONDS = 2
DELIVER_BUDGET_SECONDS = 20  # one turn yields to the worker's other jobs after this
ARCHIVE_EVERY_SECONDS = 3600
WORKER_ACTOR = "worker"


@periodic("audit.sinks.deliver", every=DELIVER_EVERY_SECONDS)
def deliver_sinks() -> list:
    runs = deliver_all(budget_seconds=DELIVER_BUDGET_SECONDS)
    for run in runs:
        if run.error:
            log.warning("audit sink %s", run)
    return runs


@periodic("audit.archive", every=ARCHIVE_EVERY_SECONDS)
def archive_by_age():
    try:
        return archive_by_retention(actor=WORKER_ACTOR)
    except ArchiveRefused as exc:
        log.warning("audit archive refused: %s", exc)
        return None
