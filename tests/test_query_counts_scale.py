"""The Tenants page and the Audit page read the database a fixed number of times whether the
console holds 10 tenants or 1,000 (bulk-created rows, each with admins, a login domain, a
whitelist entry, its company in the snapshot with its routing as read, and audit entries about
it): a count that grows with the tenants is a query per row (an N+1)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from console.audit.bulk import bulk_append
from console.snapshot.store import COMPANIES, ROUTING, SERVER, snapshot_put, snapshot_put_many
from sso.models import LoginDomain, WhitelistEntry
from tenants.models import Tenant, TenantAdmin

pytestmark = pytest.mark.django_db

URLS = [
    "/tenants/",
    "/tenants/?sort=-admins",
    "/tenants/?q=tenant+0004",
    "/tenants/?q=admin1%40tenant7",
    "/tenants/?show=attention",
    "/tenants/?show=outside",
    "/tenants/?page=2",
    "/audit/",
    "/audit/?q=tenant",
    "/audit/?outcome=failure",
    "/audit/?target_type=tenant&target=3",
]


def add_tenants(first: int, count: int) -> None:
    """Tenants `first`..`first + count - 1`, as an apply and a refresh would leave them."""
    numbers = range(first, first + count)
    Tenant.objects.bulk_create(
        Tenant(name=f"Tenant {i:04d}", company_id=f"{i:024x}", status=Tenant.Status.ACTIVE)
        for i in numbers
    )
    tenants = {
        t.company_id: t
        for t in Tenant.objects.filter(company_id__in=[f"{i:024x}" for i in numbers])
    }
    admins, domains, whitelist = [], [], []
    for i in numbers:
        tenant = tenants[f"{i:024x}"]
        admins += [
            TenantAdmin(tenant=tenant, name=f"Admin {k}", email=f"admin{k}@tenant{i}.example")
            for k in range(1 + i % 2)
        ]
        domains.append(LoginDomain(tenant=tenant, domain=f"tenant{i}.example"))
        whitelist.append(WhitelistEntry(tenant=tenant, email=f"guest{i}@partner.example"))
    TenantAdmin.objects.bulk_create(admins)
    LoginDomain.objects.bulk_create(domains)
    WhitelistEntry.objects.bulk_create(whitelist)
    every = list(Tenant.objects.order_by("pk"))
    now = timezone.now()
    companies = [{"id": t.company_id, "name": t.name} for t in every]
    companies.append({"id": "f" * 24, "name": "Made outside the console"})
    snapshot_put(COMPANIES, "", {"companies": companies}, now)
    snapshot_put(SERVER, "", {"version": "1.17.0"}, now)
    snapshot_put_many(
        ROUTING,
        {
            company: {"domains": [f"tenant{int(company, 16)}.example"], "whitelist": []}
            for company in tenants
        },
        now,
    )
    bulk_append(
        {
            "actor": "admin",
            "action": "tenant.update",
            "target_type": "tenant",
            "target_id": str(tenants[f"{i:024x}"].pk),
            "target_repr": f"Tenant {i:04d}",
            "outcome": "failure" if i % 5 == 0 else "success",
            "error": "system.update_company_settings: refused" if i % 5 == 0 else "",
            "before": {"allowed_users": 5},
            "after": {"allowed_users": 6},
        }
        for i in numbers
    )


def query_counts(client) -> dict[str, int]:
    counts = {}
    for url in URLS:
        client.get(url)  # the session's once-a-minute writes are not the page's
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, f"{url}: HTTP {response.status_code}"
        counts[url] = len(captured)
    return counts


def test_tenants_and_audit_pages_make_the_same_queries_for_10_or_1000_tenants(
    admin_client, settings
):
    settings.CLEARML_API_URL = "http://127.0.0.1:9"  # pages read the snapshot, never this
    add_tenants(0, 10)
    with_10 = query_counts(admin_client)
    add_tenants(10, 990)
    assert Tenant.objects.count() == 1000
    with_1000 = query_counts(admin_client)
    grown = {url: (with_10[url], n) for url, n in with_1000.items() if n != with_10[url]}
    assert not grown, f"queries with 10 tenants vs 1,000: {grown}"
