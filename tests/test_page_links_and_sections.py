"""Small page-shape promises: the Security page's API-audit section starts collapsed, the usage
aggregator's table explanation sits outside its scrolling box, and a tenant's page links to its
keys, vaults and usage."""

import pytest
from django.urls import reverse

from tenants.models import Tenant


def test_the_api_audit_section_is_collapsed_with_a_one_line_summary(admin_client):
    page = admin_client.get("/security/").content.decode()
    assert '<details class="card help" id="security-api-audit">' in page  # not `open`
    assert "<summary>ClearML's own API audit: " in page


def test_the_aggregator_explains_its_table_outside_the_scrolling_box(admin_client):
    page = admin_client.get(reverse("usage:aggregator")).content.decode()
    help_at = page.index('id="price-rows-help"')
    assert help_at < page.index('<div class="table-wrap">')
    assert '<table aria-describedby="price-rows-help">' in page
    assert '<caption class="sr-only">' in page


@pytest.mark.django_db
def test_a_tenant_links_to_its_keys_vaults_and_usage(admin_client):
    tenant = Tenant.objects.create(name="Acme & Co", company_id="c0ffee42", status="active")
    page = admin_client.get(reverse("tenants:detail", args=[tenant.pk])).content.decode()
    assert 'href="/credentials/?tenant=Acme%20%26%20Co"' in page
    assert f'href="/vaults/{tenant.pk}/"' in page
    assert 'href="/usage/#usage-tenant-c0ffee42"' in page
    planned = Tenant.objects.create(name="Planned")  # nothing on the server yet: no links
    page = admin_client.get(reverse("tenants:detail", args=[planned.pk])).content.decode()
    assert "This tenant elsewhere" not in page


@pytest.mark.django_db
def test_the_filter_the_tenant_page_links_to_narrows_the_inventory(admin_client):
    response = admin_client.get("/credentials/?tenant=Acme%20%26%20Co")
    assert response.status_code == 200
    assert 'value="Acme &amp; Co"' in response.content.decode()
