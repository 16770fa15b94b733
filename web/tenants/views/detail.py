"""A tenant's page: facts, admins, routing, the latest run's steps (resume), recent changes."""

from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from console.audit import audit_for_target
from console.audit.queries import SLICE_FIELDS
from sso.routing.queries import routing_counts
from tenants.features import FEATURES_BY_NAME
from tenants.models import Tenant
from tenants.provisioning.engine import latest_run_steps
from tenants.queries import tenant_server_facts
from web.tenants.views.common import render_page, step_rows

DOMAINS_SHOWN = 50


@never_cache
@require_GET
def tenant_detail(request, pk: int):
    # The whitelist's size comes with the tenant (a subquery), not in a query of its own.
    counted = Tenant.objects.annotate(whitelist_total=routing_counts()["whitelist_count"])
    tenant = get_object_or_404(counted, pk=pk)
    steps = latest_run_steps(tenant)
    failed = next((s for s in steps if s.status in ("failed", "unknown", "sent")), None)
    admins = list(tenant.admins.all())
    domains = list(tenant.login_domains.values_list("domain", flat=True)[: DOMAINS_SHOWN + 1])
    context = {
        "tenant": tenant,
        "admins": admins,
        "domains": domains[:DOMAINS_SHOWN],
        "domain_count": len(domains)
        if len(domains) <= DOMAINS_SHOWN
        else tenant.login_domains.count(),
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
