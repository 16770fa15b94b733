"""The routing map's rows, a Jinja2 list (templates/jinja2/sso/routing/map_results.jinja):
escaped, paged with the search kept, and answered alone to htmx."""

import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_routing_map_rows_escaped_and_paged(admin_client):
    from sso.models import WhitelistEntry
    from sso.routing.queries import MAP_PAGE_SIZE
    from tenants.models import Tenant

    tenant = Tenant.objects.create(name='<i>Evil</i> "Co"', company_id="c1", status="active")
    WhitelistEntry.objects.bulk_create(
        WhitelistEntry(tenant=tenant, email=f"u{i:03d}@xn--bcher-kva.example", position=i)
        for i in range(MAP_PAGE_SIZE + 5)
    )
    html = admin_client.get(reverse("sso:routing_map"), {"q": "u0", "page": 2}).content.decode()
    assert "&lt;i&gt;Evil&lt;/i&gt; &#34;Co&#34;" in html and "<i>Evil" not in html
    assert "(u050@bücher.example)" in html  # the readable form of the IDNA domain
    assert 'href="?q=u0&amp;kind=&amp;tenant=&amp;page=1"' in html
    rows = admin_client.get(reverse("sso:routing_map"), {"q": "zz<b>"}, HTTP_HX_REQUEST="true")
    text = rows.content.decode()
    assert "<html" not in text and "Nothing matches “zz&lt;b&gt;”" in text
    assert "?email=zz%3Cb%3E" in text
