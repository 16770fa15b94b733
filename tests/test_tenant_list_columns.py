"""The Tenants page's columns (issue "The first hour", finding 2): domains (count and the first
one), whitelist size, admins, credentials (count, last created) and sync status from the
snapshot (on the server, missing, never read, and the routing as last read); sorting and
filtering live in the URL, as links that work without JavaScript and as htmx requests that push
the URL. The query count stays fixed (tests/test_tenants_pages.py)."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from console.snapshot import store
from sso.models import LoginDomain, WhitelistEntry
from sso.routing.queries import routing_counts
from tenants.models import IssuedCredential, Tenant, TenantAdmin
from tenants.queries import SORTS, server_companies, tenant_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenants(settings):
    settings.CLEARML_API_URL = "http://apiserver.invalid"
    acme = Tenant.objects.create(name="Acme Research", company_id="c-acme", status="active")
    beta = Tenant.objects.create(name="Beta Labs", company_id="c-beta", status="active")
    gone = Tenant.objects.create(name="Gone Corp", company_id="c-gone", status="active")
    Tenant.objects.create(name="Draft", status="planned")
    alice = TenantAdmin.objects.create(tenant=acme, name="Alice", email="alice@acme.io")
    TenantAdmin.objects.create(tenant=acme, name="Dan", email="dan@acme.io")
    TenantAdmin.objects.create(tenant=beta, name="Ben", email="ben@beta.io")
    # In the admin's order: the page shows the first one (acme-research.com).
    for position, domain in enumerate(("acme-research.com", "acme.io")):
        LoginDomain.objects.create(tenant=acme, domain=domain, position=position)
    LoginDomain.objects.create(tenant=beta, domain="beta.io")
    for email in ("bob@gmail.com", "carol@partner.com", "erin@contractor.net"):
        WhitelistEntry.objects.create(tenant=beta, email=email)
    old = IssuedCredential.objects.create(admin=alice, access_key="AK1")
    IssuedCredential.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(3))
    IssuedCredential.objects.create(admin=alice, access_key="AK2")
    later = timezone.now() + timedelta(minutes=1)  # read after the tenants were created
    store.snapshot_put(
        store.COMPANIES,
        "",
        {"companies": [{"id": "c-acme", "name": "Acme Research"}, {"id": "c-beta", "name": "B"}]},
        later,
    )
    store.snapshot_put(
        store.ROUTING, "c-acme", {"domains": ["acme.io", "acme-research.com"], "whitelist": []}
    )
    store.snapshot_put(store.ROUTING, "c-beta", {"domains": ["beta.io"], "whitelist": []})
    return {"acme": acme, "beta": beta, "gone": gone}


def _rows(sort="name", **kwargs):
    page = tenant_page(server=server_companies(), sort=sort, **kwargs)
    return page.object_list


def test_each_row_has_its_counts_and_sync_status(tenants):
    rows = {r.name: r for r in _rows(annotations=routing_counts())}
    acme, beta, gone, draft = (
        rows["Acme Research"],
        rows["Beta Labs"],
        rows["Gone Corp"],
        rows["Draft"],
    )
    assert (acme.domain_count, acme.first_domain, acme.whitelist_count) == (
        2,
        "acme-research.com",
        0,
    )
    assert (acme.admin_count, acme.credential_count) == (2, 2)
    assert acme.last_credential_at == IssuedCredential.objects.get(access_key="AK2").created_at
    assert (beta.domain_count, beta.whitelist_count, beta.credential_count) == (1, 3, 0)
    assert (acme.sync, gone.sync, draft.sync) == ("on_server", "missing", "none")
    assert acme.routing.same is True
    assert beta.routing.same is False and beta.routing.whitelist == 0
    assert gone.routing is None  # never read for this company


@pytest.mark.parametrize("sort", sorted(SORTS) + [f"-{k}" for k in sorted(SORTS)])
def test_every_sort_is_a_stable_order(tenants, sort):
    names = [r.name for r in _rows(sort=sort, annotations=routing_counts())]
    assert sorted(names) == ["Acme Research", "Beta Labs", "Draft", "Gone Corp"]
    if sort == "-name":
        assert names == ["Gone Corp", "Draft", "Beta Labs", "Acme Research"]
    if sort == "domains":
        assert names[:2] == ["Draft", "Gone Corp"]  # none first, ties by name
    if sort == "-whitelist":
        assert names[0] == "Beta Labs"
    if sort == "-credentials":
        assert names[0] == "Acme Research"
    if sort == "sync":
        assert names[0] == "Gone Corp"  # missing first


def test_the_page_shows_the_columns(admin_client, tenants):
    html = admin_client.get(reverse("tenants:list")).content.decode()
    for heading in ("Domains", "Whitelist", "Admins", "Credentials", "Sync"):
        assert f">{heading} " in html or f">{heading}<" in html
    assert 'title="acme-research.com">acme-research.com</code>' in html
    assert "+1" in html  # Acme's second domain
    assert "Missing on the server" in html and "On the server" in html
    assert "Routing differs" in html and "routing the same</span>" in html
    assert 'tabindex="0" title="alice@acme.io, dan@acme.io">alice@acme.io</span>' in html
    assert "last <time" in html


def test_sorting_and_filtering_live_in_the_url(admin_client, tenants):
    html = admin_client.get(reverse("tenants:list"), {"q": "a", "sort": "-credentials"}).content
    html = html.decode()
    # The current sort: marked for assistive technology, its link reverses it, the search is kept.
    assert (
        'aria-sort="descending"><a class="sort" href="/tenants/?q=a&amp;show=all&amp;sort='
        'credentials"' in html
    )
    link = re.search(r'<a class="sort" href="([^"]+)" hx-get="([^"]+)"', html)
    assert link.group(1) == link.group(2)  # the same URL without JavaScript and with htmx
    assert 'hx-push-url="true"' in html
    assert '<input type="hidden" name="sort" value="-credentials">' in html
    # A bad sort falls back to the name; the fragment for htmx carries the headings too.
    fragment = admin_client.get(
        reverse("tenants:list"), {"sort": "nope"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "<html" not in fragment and 'aria-sort="ascending"><a class="sort"' in fragment
    rows = re.findall(r'<td class="tenant-name">.*?title="([^"]+)"', fragment)
    assert rows[:2] == ["Acme Research", "Beta Labs"]


def test_a_long_name_domain_or_email_is_cut_with_the_whole_value_on_focus(admin_client, tenants):
    long_domain = "a" * 60 + ".long-subdomain-for-the-tenant-list.example"
    LoginDomain.objects.filter(domain="acme-research.com").update(domain=long_domain)
    html = admin_client.get(reverse("tenants:list")).content.decode()
    assert f'<code class="cut" tabindex="0" title="{long_domain}">' in html
