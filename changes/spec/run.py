"""Applying a SPEC's plan through the change pipeline: the one path `manage.py apply`, the
benchmark and (later) the API share. Records the changeset, applies it under its id, links each
step to the journal and finishes it."""

from collections.abc import Callable
from dataclasses import dataclass

from ..engine import (
    applying,
    changeset_finish_from_steps,
    changeset_open,
    changeset_set_steps,
    steps_mark,
    steps_sync_from_journal,
)
from ..models import Changeset, ChangeStep
from .apply import ApplyResult, apply_plan
from .changeset import spec_steps_with_refs
from .plan import ClientFactory, Plan


@dataclass
class SpecApplied:
    changeset: Changeset
    result: ApplyResult

    @property
    def error(self) -> str:
        return "\n".join(o.failure_line() for o in self.result.failures)


def spec_apply(
    plan: Plan,
    *,
    actor: str,
    face: str,
    client_factory: ClientFactory,
    concurrency: int,
    prune: bool = False,
    on_credentials: Callable | None = None,
    store_server: Callable[[Changeset], list[str]] | None = None,
) -> SpecApplied:
    """Record and apply the plan. `store_server(changeset)` keeps the SPEC's server sections
    (inside the changeset, after the tenants' calls); the changeset is finished afterwards."""
    changeset = changeset_open(
        kind="spec",
        summary=f"Apply {plan.spec.source}",
        actor=actor,
        face=face,
        source=plan.spec.source,
    )

    def record_steps(recorded: ApplyResult) -> None:
        changeset_set_steps(changeset, spec_steps_with_refs(plan, prune, recorded.tenant_ids))

    with applying(changeset):
        result = apply_plan(
            plan,
            actor=actor,
            client_factory=client_factory,
            concurrency=concurrency,
            changeset=changeset.audit_key,
            on_credentials=on_credentials,
            on_recorded=record_steps,
        )
        steps_sync_from_journal(changeset)
        console_steps = changeset.steps.filter(kind="console.tenant")
        steps_mark(
            changeset,
            status=ChangeStep.Status.DONE,
            positions=console_steps.values_list("position", flat=True),
        )
        try:
            if store_server is not None:
                store_server(changeset)
        finally:
            applied = SpecApplied(changeset=changeset, result=result)
            changeset_finish_from_steps(changeset, error=applied.error)
    return applied
