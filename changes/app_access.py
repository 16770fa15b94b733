"""A tenant's application instance visibility through the pipeline (docs/app-visibility.md).

Setting it records one call, `system.update_company_app_instance_access` with the tenant's whole
policy, as a changeset step journaled like the tenant's other calls (retries, lost answers,
resume), then applies it: its pending and outcome audit entries carry the changeset's id. What
the console last sent, per tenant, is read back from that journal (the server has no documented
call to read a tenant's policy).
"""

from dataclasses import dataclass

from django.db import transaction

from console.apiserver import ApiClient
from console.apiserver.plan import PlannedCall
from console.app_visibility import VisibilityPolicy, policy_body, policy_from_body
from console.audit import current_changeset
from tenants.models import ProvisioningStep, Tenant
from tenants.provisioning import calls as build
from tenants.provisioning.engine import record_run
from tenants.services import NotAllowed

from .engine import changeset_open, changeset_set_steps, hold_recorded
from .tenants import TenantApplied, journal_plan, tenant_apply, tenant_target

ENDPOINT = "system.update_company_app_instance_access"
KIND = "app_access.update"


@dataclass
class SentPolicy:
    policy: VisibilityPolicy
    status: str
    at: object  # when it was sent (None: not yet)
    error: str
    changeset: str


def last_sent(tenant: Tenant) -> SentPolicy | None:
    """The tenant's latest policy call of the journal, whatever became of it."""
    row = (
        ProvisioningStep.objects.filter(tenant=tenant, endpoint=ENDPOINT)
        .exclude(status=ProvisioningStep.Status.SUPERSEDED)
        .order_by("-run", "-position")
        .first()
    )
    if row is None:
        return None
    return SentPolicy(
        policy=policy_from_body((row.body or {}).get("app_instance_access")) or VisibilityPolicy(),
        status=row.status,
        at=row.finished_at or row.sent_at,
        error=row.error,
        changeset=row.changeset,
    )


def last_applied(tenant: Tenant) -> VisibilityPolicy | None:
    row = (
        ProvisioningStep.objects.filter(
            tenant=tenant, endpoint=ENDPOINT, status=ProvisioningStep.Status.DONE
        )
        .order_by("-run", "-position")
        .first()
    )
    return policy_from_body((row.body or {}).get("app_instance_access")) if row else None


def tenant_app_access_set(
    *,
    tenant: Tenant,
    policy: VisibilityPolicy,
    actor: str,
    face: str = "form",
    client: ApiClient | None = None,
) -> TenantApplied:
    """Record and send the tenant's whole policy. Raises NotAllowed for a tenant without a
    company on the server, TenantBusy while another run holds the tenant."""
    if tenant.deleted_at is not None or not tenant.company_id:
        raise NotAllowed(
            f"tenant {tenant.name} has no company on the apiserver yet; apply its creation first."
        )
    before = last_applied(tenant)
    body = {"company": tenant.company_id, "app_instance_access": policy_body(policy)}
    spec = build.call_step(
        PlannedCall(
            endpoint=ENDPOINT,
            body=body,
            description="Set who sees the tenant's application instances",
        )
    )
    summary = f"Set application instance visibility of tenant {tenant.name}"
    with transaction.atomic():
        changeset = changeset_open(kind=KIND, summary=summary, actor=actor, face=face)
        with current_changeset(changeset.audit_key):
            record_run(tenant, [spec], actor=actor, changeset=changeset.audit_key)
        plan = journal_plan(tenant, list(tenant.recorded_steps), kind=KIND, summary=summary)
        step = plan.steps[0]
        step.target = tenant_target(tenant)
        step.before = policy_body(before) if before else None
        step.after = policy_body(policy)
        changeset_set_steps(changeset, plan)
        hold_recorded(changeset)
    return tenant_apply(tenant=tenant, actor=actor, face=face, client=client)
