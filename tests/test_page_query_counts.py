"""Every main page reads the database a fixed number of times, however many tenants there are
(bench/page_reads.py): the same queries with 10 tenants as with 100, each tenant applied through
`apply` against the sandbox (its company, admin, credentials, domain and whitelist entry, its
steps and audit entries) and read back into the snapshot. A page whose count grows with the
tenants reads them one at a time (an N+1)."""

import io
import textwrap

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from changes.models import Changeset
from changes.refresh import refresh_server_state
from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)

# (label, url name, needs a tenant id, needs a changeset id)
PAGES = [
    ("dashboard", "dashboard", {}),
    ("tenants", "tenants:list", {}),
    ("tenant", "tenants:detail", {"pk": "tenant"}),
    ("tenant edit", "tenants:edit", {"pk": "tenant"}),
    ("routing map", "sso:routing_map", {}),
    ("tenant routing", "sso:tenant_routing", {"tenant_id": "tenant"}),
    ("groups", "tenants:groups", {}),
    ("identity providers", "sso:providers", {}),
    ("multi-tenant login", "sso:multitenant", {}),
    ("audit log", "audit:list", {}),
    ("changes", "changes:list", {}),
    ("changeset", "changes:detail", {"pk": "changeset"}),
    ("security", "security", {}),
    ("snippet", "snippets:show", {"source": "server-settings"}),
]


def spec(count: int) -> str:
    lines = ["version: 1", "tenants:"]
    for i in range(count):
        lines += [
            f"  - name: Count Tenant {i:04d}",
            "    admins:",
            f"      - {{name: Admin {i}, email: admin{i}@tenant{i}.example}}",
            "    login:",
            f"      domains: [tenant{i}.example]",
            f"      whitelist: {{users: [guest{i}@partner.example]}}",
        ]
    return "\n".join(lines) + "\n"


def apply(tmp_path, count: int) -> None:
    path = tmp_path / f"spec-{count}.yaml"
    path.write_text(textwrap.dedent(spec(count)))
    call_command("apply", str(path), "--yes", stdout=io.StringIO(), stderr=io.StringIO())
    result = refresh_server_state()
    assert result.reached, result.error


def page_queries(client) -> dict[str, int]:
    """Each page's number of queries: the first tenant's pages and the latest changeset's."""
    ids = {
        "tenant": Tenant.objects.order_by("pk").values_list("pk", flat=True).first(),
        "changeset": Changeset.objects.order_by("-pk").values_list("pk", flat=True).first(),
    }
    counts = {}
    for label, name, kwargs in PAGES:
        url = reverse(name, kwargs={k: ids.get(v, v) for k, v in kwargs.items()})
        client.get(url)  # the session's once-a-minute writes are not the page's
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, f"{label}: HTTP {response.status_code}"
        counts[label] = len(captured)
    return counts


def test_every_page_makes_the_same_queries_for_10_or_100_tenants(
    admin_client, sandbox, sandbox_settings, tmp_path
):
    apply(tmp_path, 10)
    ten = page_queries(admin_client)
    apply(tmp_path, 100)  # the same 10 and 90 more: the latest changeset has 450 steps
    assert Tenant.objects.count() == 100
    hundred = page_queries(admin_client)
    assert hundred == ten
    # And few of them: the session, the user and the page's own reads.
    assert max(ten.values()) <= 14, ten


def test_a_changesets_page_shows_a_page_of_its_entries_and_counts_them_all(admin_client):
    from console.audit import AuditEntry
    from tests.test_page_reads import changeset_with_entries

    changeset = changeset_with_entries(120)
    html = admin_client.get(reverse("changes:detail", args=[changeset.pk])).content.decode()
    seqs = list(
        AuditEntry.objects.filter(changeset=changeset.audit_key)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert "Showing the first 50 of 120; the audit log has them all." in html
    assert f'<a href="/audit/{seqs[49]}/">' in html and f'<a href="/audit/{seqs[50]}/">' not in html
    assert f"?changeset={changeset.pk}" in html  # the link to all of them
