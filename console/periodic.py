"""Work the background worker (`manage.py worker`) repeats: a registry filled at import time.

An app registers its jobs in a module its AppConfig.ready() imports, so the worker finds every
job without knowing the apps (console/ imports no app; the apps register here). The worker decides
when a job is due and makes sure one replica runs it at a time; a job only does its work once.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval_seconds: Callable[[], float]  # read at each turn, so settings changes apply
    run: Callable[[], object]


_jobs: dict[str, PeriodicJob] = {}


def periodic(name: str, *, every: float | Callable[[], float]):
    """Register the decorated function to run every `every` seconds (a number or a callable)."""

    def interval() -> float:
        return float(every() if callable(every) else every)

    def register(func: Callable[[], object]) -> Callable[[], object]:
        _jobs[name] = PeriodicJob(name=name, interval_seconds=interval, run=func)
        return func

    return register


def periodic_jobs() -> list[PeriodicJob]:
    return sorted(_jobs.values(), key=lambda job: job.name)
