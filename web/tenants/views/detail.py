"""A tenant's page: facts, admins, routing, the latest run's steps (resume), recent changes."""

from django.http import Http404
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from console.audit import audit_for_target
from console.audit.queries import SLICE_FIELDS
from console.prepared import Prepared, counted
from sso.models import LoginDomain
from sso.routing.queries import routing_counts
from tenants.features import FEATURES_BY_NAME
from tenants.models import Tenant, TenantAdmin
from tenants.provisioning.engine import latest_run_steps
from tenants.queries import tenant_server_facts
from web.tenants.views.common import render_page, step_rows

DOMAINS_SHOWN = 50


@never_cache
@require_GET
def tenant_detail(request, pk: int):
    tenant = _tenant_or_404(pk)
    admins = _admins_of(tenant)
    steps = latest_run_steps(tenant, admins)
    failed = next((s for s in steps if s.status in ("failed", "unknown", "sent")), None)
    domains = _DOMAINS.fetch({"size": DOMAINS_SHOWN + 1}, tenant=tenant.pk)
    context = {
        "tenant": tenant,
        "admins": admins,
        "domains": domains[:DOMAINS_SHOWN],
        "domain_count": len(domains)
        if len(domains) <= DOMAINS_SHOWN
        else (_DOMAIN_TOTAL.fetch(tenant=tenant.pk) or [0])[0],
        "whitelist_count": tenant.whitelist_total,
        "rows": step_rows(tenant, steps, admins),
        "failed": failed,
        "done_count": sum(1 for s in steps if s.status == "done"),
        "can_resume": tenant.status in (Tenant.Status.FAILED, Tenant.Status.PLANNED)
        or (tenant.status == Tenant.Status.PROVISIONING and failed is not None),
        "is_active": tenant.status == Tenant.Status.ACTIVE,
        "features": [FEATURES_BY_NAME.get(n) or n for n in tenant.features or []],
        "excluded": [FEATURES_BY_NAME.get(n) or n for n in tenant.exclude_features or []],
        "entries": audit_for_target("tenant", str(tenant.pk), fields=SLICE_FIELDS),
        # what the apiserver held at the last refresh (the snapshot; no call is made here)
        "server": tenant_server_facts(tenant),
    }
    return render_page(request, "tenants/detail.html", context)


# The page's reads, compiled once per process (console/prepared.py): building and compiling them
# anew cost more than running them.
def _tenant_or_404(pk: int) -> Tenant:
    found = _TENANT.fetch(pk=pk)
    if not found:
        raise Http404("No Tenant matches the given query.")
    return found[0]


def _admins_of(tenant: Tenant) -> list[TenantAdmin]:
    """The tenant's admins in the model's order, each knowing its tenant (as `tenant.admins`)."""
    admins = _ADMINS.fetch(tenant=tenant.pk)
    for admin in admins:
        admin.tenant = tenant
    return admins


# The whitelist's size comes with the tenant (a subquery), not in a query of its own.
_TENANT = Prepared(
    lambda pk: (
        Tenant.objects.annotate(whitelist_total=routing_counts()["whitelist_count"])
        .filter(pk=pk)
        .order_by()
    )
)
_ADMINS = Prepared(lambda tenant: TenantAdmin.objects.filter(tenant=tenant))
_DOMAINS = Prepared(
    lambda size, tenant: LoginDomain.objects.filter(tenant=tenant).values_list("domain", flat=True)[
        :size
    ]
)
_DOMAIN_TOTAL = Prepared(lambda tenant: counted(LoginDomain.objects.filter(tenant=tenant)))
