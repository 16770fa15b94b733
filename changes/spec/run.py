"""Applying a SPEC's plan through the change pipeline: the one path `manage.py apply`, the
benchmark and (later) the API share. Records the changeset, applies it under its id, links each
step to the journal and finishes it."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q

from console.snapshot.store import ROUTING, companies_upsert_many, snapshot_put_many
from console.validation import InvalidInput

from ..engine import (
    applying,
    approval_gate,
    changeset_finish_from_steps,
    changeset_hold,
    changeset_open,
    changeset_set_steps,
    steps_mark,
    steps_sync_from_journal,
)
from ..models import Changeset, ChangeStep
from ..plan import approval_reason, approvals_on
from .apply import ApplyResult, apply_plan
from .changeset import spec_change_plan, spec_steps_with_refs
from .plan import ClientFactory, Plan
from .server_config import store_server_sections
from .validate import SpecModel

ROUTING_REMOVALS = ("routing.domain.remove", "routing.whitelist.remove")
SERVER_REMOVALS = ("group.delete", "idp.delete")


@dataclass
class SpecApplied:
    changeset: Changeset
    result: ApplyResult

    @property
    def error(self) -> str:
        return "\n".join(o.failure_line() for o in self.result.failures)

    @property
    def held(self) -> bool:
        """The plan waits for approval (CONSOLE_APPROVALS): nothing was applied."""
        return self.changeset.status == Changeset.Status.AWAITING_APPROVAL


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
    changeset: Changeset | None = None,
) -> SpecApplied:
    """Record and apply the plan. `store_server(changeset)` keeps the SPEC's server sections
    (inside the changeset, after the tenants' calls); the changeset is finished afterwards.
    `changeset`: a recorded plan of this SPEC to apply as itself (its planned steps are replaced
    by the steps this run takes); by default a new changeset is recorded.

    Without `changeset`, and with CONSOLE_APPROVALS on: a plan with risky steps or more than
    BULK_STEPS steps is recorded `awaiting_approval` and nothing is applied (`SpecApplied.held`);
    once an admin other than the requester approved it, applying the SPEC again applies that
    changeset, as long as the SPEC still plans exactly the approved steps (its content hash)."""
    if changeset is None:
        changeset = _approved_plan(plan, prune, actor)
    if changeset is None:
        changeset = changeset_open(
            kind="spec",
            summary=f"Apply {plan.spec.source}",
            actor=actor,
            face=face,
            source=plan.spec.source,
        )
        held = _hold(plan, prune, changeset)
        if held is not None:
            return SpecApplied(changeset=held, result=ApplyResult())

    def record_steps(recorded: ApplyResult) -> None:
        ChangeStep.objects.filter(changeset=changeset).delete()
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
        # A routing removal is made by its tenant's login calls: done when the tenant is.
        finished = [f"tenant:{o.tenant_name}" for o in result.outcomes if o.ok]
        removals = changeset.steps.filter(kind__in=ROUTING_REMOVALS, target__in=finished)
        steps_mark(
            changeset,
            status=ChangeStep.Status.DONE,
            positions=removals.values_list("position", flat=True),
        )
        try:
            if store_server is not None:
                store_server(changeset)
        finally:
            applied = SpecApplied(changeset=changeset, result=result)
            changeset_finish_from_steps(changeset, error=applied.error)
    snapshot_after_apply(plan, result)
    return applied


def _approved_plan(plan: Plan, prune: bool, actor: str) -> Changeset | None:
    """The approved changeset whose approved hash is this plan's (CONSOLE_APPROVALS)."""
    if not approvals_on():
        return None
    digest = spec_change_plan(plan, prune=prune).content_hash()
    changeset = (
        Changeset.objects.filter(
            kind="spec", status=Changeset.Status.APPROVED, approved_hash=digest
        )
        .order_by("-id")
        .first()
    )
    if changeset is not None:
        approval_gate(changeset, actor=actor)  # its stored steps must still be the approved ones
    return changeset


def _hold(plan: Plan, prune: bool, changeset: Changeset) -> Changeset | None:
    """With CONSOLE_APPROVALS on, keep a plan that needs approval waiting (its steps, nothing
    applied); None when it needs none."""
    if not approvals_on():
        return None
    change_plan = spec_change_plan(plan, prune=prune)
    reason = approval_reason("spec", change_plan.steps)
    if not reason:
        return None
    changeset.desired = {"source": plan.spec.source, "prune": prune}
    changeset.save(update_fields=["desired", "updated_at"])
    return changeset_hold(changeset, change_plan, reason=reason)


def spec_store_server(
    spec: SpecModel, *, actor: str, prune: bool, changeset: Changeset
) -> list[str]:
    """Keep the SPEC's server sections in the console and mark the changeset's snippet steps
    done; what was stored, by name. InvalidInput (the steps marked failed) when refused."""
    if not spec.server.present:
        return []
    # The snippet changes and the removals of groups and providers are what it stores.
    snippets = changeset.steps.filter(Q(kind__startswith="setting.") | Q(kind__in=SERVER_REMOVALS))
    try:
        stored = store_server_sections(spec, actor=actor, prune=prune)
    except InvalidInput as exc:
        steps_mark(changeset, status=ChangeStep.Status.FAILED, error=str(exc))
        raise
    done = stored[0] if isinstance(stored, tuple) else stored
    steps_mark(
        changeset,
        status=ChangeStep.Status.DONE,
        positions=snippets.values_list("position", flat=True),
    )
    return list(done)


def snapshot_after_apply(plan: Plan, result: ApplyResult) -> None:
    """What the run made the server hold, into the snapshot the pages read: each tenant that
    finished has its company, and the routing its calls pushed (no read call needed)."""
    plans = {id(tp): tp for tp in plan.tenants}
    by_tenant = {pk: plans[key] for key, pk in result.tenant_ids.items() if key in plans}
    companies, routing = [], {}
    for outcome in result.outcomes:
        tenant = outcome.tenant
        if not outcome.ok or tenant is None or not tenant.company_id:
            continue
        companies.append({"id": tenant.company_id, "name": tenant.name})
        tp = by_tenant.get(tenant.pk)
        pushed = tp.push_login if tp is not None else None
        if pushed is not None:
            routing[tenant.company_id] = {
                "domains": list(pushed.domains),
                "whitelist": [
                    {"email": email, "is_admin": is_admin}
                    for email, is_admin in pushed.whitelist.items()
                ],
            }
    companies_upsert_many(companies)
    if routing:
        snapshot_put_many(ROUTING, routing)
