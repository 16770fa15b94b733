"""The change pipeline's periodic jobs, run by the worker (console.periodic; docs/worker.md).

Imported by ChangesConfig.ready(), so every process that runs the worker registers them.
"""

from django.conf import settings

from console.periodic import periodic

from .background import resume_stuck
from .drift import drift_compute
from .refresh import refresh_server_state

RESUME_SECONDS = 60


def refresh_seconds() -> float:
    return float(settings.CONSOLE_REFRESH_MINUTES) * 60


@periodic("server_state.refresh", every=refresh_seconds)
def refresh_and_compute_drift() -> str:
    """Read the server into the snapshot, then compare it with the console (drift)."""
    result = refresh_server_state()
    if not result.reached:
        raise RuntimeError(result.summary())
    return f"{result.summary()}; {len(drift_compute())} difference(s)"


@periodic("changes.resume_stuck", every=RESUME_SECONDS)
def resume_stuck_applies() -> list[int]:
    """A worker killed mid-apply (another replica's) is resumed within a minute."""
    return resume_stuck()
