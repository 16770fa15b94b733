"""A SPEC's plan as a changeset: one step per apiserver call, per console-only change and per
server setting, in the order apply takes them; and linking the steps to the journal once apply
has recorded the tenants' calls."""

from django.db.models import Max

from tenants.models import ProvisioningStep

from ..engine import changeset_record
from ..models import Changeset, ChangeStep
from ..plan import ChangePlan, PlannedStep, step_of
from .plan import Plan


def spec_change_plan(plan: Plan, *, prune: bool = False) -> ChangePlan:
    steps: list[PlannedStep] = []
    for index, tp in enumerate(plan.tenants):
        target = f"tenant:{tp.name}"
        for change in tp.console_changes:
            # A routing list's new order shows the list before and after (plan.OrderChange).
            before, after = getattr(change, "before", None), getattr(change, "after", change)
            steps.append(
                PlannedStep(kind="console.tenant", target=target, before=before, after=after)
            )
        for position, spec in enumerate(tp.steps, start=1):
            step = step_of(spec, target=target)
            step.ref = {"spec_tenant": index, "position": position}
            steps.append(step)
    for removal in getattr(plan, "removals", []) or []:
        steps.append(
            PlannedStep(
                kind=removal.kind,
                target=removal.target,
                before=removal.detail,
                status="planned" if removal.applied else ChangeStep.Status.KEPT,
                risky=True,
            )
        )
    diff = plan.snippets
    if diff is not None:
        for mark, names in (
            ("add", diff.added),
            ("change", diff.changed),
            ("remove", diff.removed),
        ):
            for name in names:
                secret = name in diff.secret_names
                steps.append(
                    PlannedStep(
                        kind=f"setting.{mark}",
                        target=f"env:{name}",
                        after="(secret; value not shown)" if secret else None,
                        risky=mark == "remove",
                    )
                )
    source = plan.spec.source
    return ChangePlan(
        kind="spec",
        summary=f"Apply {source}",
        steps=steps,
        source=source,
        prune=prune,
        notes=[str(w) for w in plan.spec.warnings],
    )


def spec_changeset_record(
    plan: Plan, *, actor: str, face: str, prune: bool, desired: dict | None = None
) -> Changeset:
    """Record the plan; `desired` (the SPEC without secrets) is what a later apply re-plans
    from."""
    change_plan = spec_change_plan(plan, prune=prune)
    change_plan.desired = desired
    return changeset_record(change_plan, actor=actor, face=face)


def spec_steps_with_refs(plan: Plan, prune: bool, tenant_ids: dict[int, int]) -> ChangePlan:
    """The plan's steps with each call step pointing at the journal row apply recorded for it
    (tenant, run, position); `tenant_ids` maps id(TenantPlan) to the saved tenant."""
    change_plan = spec_change_plan(plan, prune=prune)
    runs = dict(
        ProvisioningStep.objects.filter(tenant_id__in=list(tenant_ids.values()))
        .values("tenant_id")
        .annotate(run=Max("run"))
        .values_list("tenant_id", "run")
    )
    for step in change_plan.steps:
        if "spec_tenant" not in step.ref:
            continue
        tenant_id = tenant_ids.get(id(plan.tenants[step.ref["spec_tenant"]]))
        if tenant_id in runs:
            step.ref = {
                "tenant": tenant_id,
                "run": runs[tenant_id],
                "position": step.ref["position"],
            }
    return change_plan
