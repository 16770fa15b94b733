"""Page reads stay cheap (bench/page_reads.py): what the audit tables show is what Django's
filters would write; a changeset's page reads only the columns it shows, in a fixed number of
queries; a tenant's page reads the snapshot once."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.template import engines
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse, set_script_prefix
from django.utils import timezone

from changes.models import Changeset, ChangeStep
from console.audit import AuditEntry, audit_for_target, current_changeset
from console.audit.bulk import bulk_append
from console.snapshot import store
from tenants.models import Tenant
from tenants.queries import tenant_server_facts

pytestmark = pytest.mark.django_db

DAY = datetime(2025, 3, 10, 12, 34, 56, 789000, tzinfo=UTC)


def rendered(source: str, **context) -> str:
    """What the template engine writes (it moves datetimes to the current time zone first)."""
    return engines["django"].from_string(source).render(context)


def jinja(source: str, **context) -> str:
    """A Jinja2 row template's output, rendered with a request as the pages render them."""
    return engines["jinja2"].from_string(source).render(context, RequestFactory().get("/"))


def test_entry_urls_are_the_reversed_ones_and_follow_the_script_prefix():
    for seq in (1, 9, 10, 987654321, 123456789012):
        shown = jinja("{{ url('audit:detail', seq) }}", seq=seq)
        assert shown == reverse("audit:detail", args=[seq])
    try:
        set_script_prefix("/console/")
        shown = jinja("{{ url('audit:detail', 42) }}")
        assert shown == reverse("audit:detail", args=[42]) == "/console/audit/42/"
    finally:
        set_script_prefix("/")
    assert jinja("{{ url('audit:detail', 42) }}") == "/audit/42/"


def test_what_the_tables_show_is_what_the_filters_wrote():
    many_fields = {f"field_{i}": i for i in range(20)}
    bulk_append(
        [
            dict(actor="admin", action="tenant.update", target_type="tenant", target_id="1",
                 before={"name": "a"}, after={"name": "b", "features": ["x"]}, created_at=DAY),
            dict(actor="admin", action="tenant.update", target_type="tenant", target_id="1",
                 after=many_fields, outcome="refused", created_at=DAY + timedelta(1)),
            dict(actor="admin", action="tenant.delete", target_type="tenant", target_id="1",
                 outcome="pending", created_at=DAY + timedelta(2)),
        ]
    )  # fmt: skip
    for entry in AuditEntry.objects.all():
        for fmt in ("c", "Y-m-d H:i:s", "Y-m-d H:i"):
            shown = jinja("{{ e.created_at|date(f) }}", e=entry, f=fmt)
            assert shown == rendered("{{ e.created_at|date:f }}", e=entry, f=fmt)
        assert entry.outcome_label == entry.get_outcome_display()
        assert entry.changed_text == rendered(
            '{% autoescape off %}{{ e.changed_fields|join:", "|truncatechars:90 }}'
            "{% endautoescape %}",
            e=entry,
        )
    assert len(AuditEntry.objects.get(seq=2).changed_text) == 90


def test_dates_follow_the_active_time_zone():
    bulk_append([dict(actor="admin", action="tenant.create", created_at=DAY)])
    entry = AuditEntry.objects.get()
    with timezone.override("Europe/Berlin"):
        text = jinja("{{ e.created_at|date('Y-m-d H:i:s') }}", e=entry)
        assert text == rendered('{{ e.created_at|date:"Y-m-d H:i:s" }}', e=entry)
        assert text == "2025-03-10 13:34:56"
        iso = jinja("{{ e.created_at|date('c') }}", e=entry)
        assert iso == "2025-03-10T13:34:56.789000+01:00"


def test_the_tables_link_and_label_every_entry(admin_client):
    bulk_append(
        [dict(actor="admin", action="tenant.create", target_type="tenant", target_id="7",
              before={"name": "a"}, after={"name": "b"}, outcome="failure", created_at=DAY)]
    )  # fmt: skip
    html = admin_client.get(reverse("audit:list")).content.decode()
    assert '<a href="/audit/1/">1</a>' in html
    assert '<time datetime="2025-03-10T12:34:56.789000+00:00">2025-03-10 12:34:56</time>' in html
    assert ">Failure</span>" in html and '<div class="hint">name</div>' in html
    from django.template.loader import render_to_string

    html = render_to_string("audit/slice.jinja", {"entries": audit_for_target("tenant", "7")})
    assert 'href="/audit/1/"' in html and "2025-03-10 12:34</time>" in html
    assert ">Failure</span>" in html and '<td class="hint">name' in html


def changeset_with_entries(count: int) -> Changeset:
    changeset = Changeset.objects.create(kind="spec", summary="bench", requested_by="admin")
    for position in range(1, 4):
        ChangeStep.objects.create(
            changeset=changeset, position=position, kind="system.create_company",
            target=f"t{position}", after={"name": f"t{position}"},
            call={"endpoint": "system.create_company", "body": {}},
        )  # fmt: skip
    with current_changeset(changeset.audit_key):
        bulk_append(
            [
                dict(actor="admin", action="tenant.create", target_type="tenant",
                     target_id=str(i), target_repr=f"Tenant {i}",
                     outcome="failure" if i % 2 else "success", error="no" if i % 2 else "")
                for i in range(count)
            ]
        )  # fmt: skip
    return changeset


def test_a_changesets_page_costs_the_same_queries_however_many_entries(admin_client):
    small, big = changeset_with_entries(2), changeset_with_entries(40)

    def queries(changeset) -> tuple[int, str]:
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(reverse("changes:detail", args=[changeset.pk]))
        assert response.status_code == 200
        return len(captured), response.content.decode()

    (few, _), (many, html) = queries(small), queries(big)
    assert few == many
    first = AuditEntry.objects.filter(changeset=big.audit_key).order_by("seq").first()
    assert f'<a href="/audit/{first.seq}/">{first.seq}</a>' in html
    assert "Tenant 39" in html and ">Failure</span>" in html and ">Success</span>" in html


def test_a_tenants_server_facts_read_the_snapshot_once():
    tenant = Tenant.objects.create(name="Acme", company_id="c-1", status="active")
    store.snapshot_put(store.COMPANIES, "", {"companies": [{"id": "c-1", "name": "Acme"}]})
    store.snapshot_put(store.USERS, "c-1", {"users": [{"id": "u-1", "email": "a@acme.io"}]})
    store.snapshot_put(store.USERS, "c-2", {"users": [{"id": "u-2"}]})
    with CaptureQueriesContext(connection) as captured:
        facts = tenant_server_facts(tenant)
    assert len(captured) == 1
    assert facts.on_server is True and facts.company["name"] == "Acme"
    assert facts.users == [{"id": "u-1", "email": "a@acme.io"}]
    assert facts.companies_at is not None and facts.users_at is not None

    unknown = Tenant.objects.create(name="Planned", status="planned")
    facts = tenant_server_facts(unknown)
    assert facts.on_server is None and facts.users is None and facts.users_at is None
