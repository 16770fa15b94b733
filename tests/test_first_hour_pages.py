"""Form or list first, explanation second (issue "The first hour", finding 1): a page leads with
its form or list; its explanation is a collapsed "How this works" section after it, which links
the ClearML documentation page instead of paraphrasing it. A form answered with errors shows
one error summary at the top (finding 4)."""

import re

import pytest
from django.urls import reverse

from sso.providers.catalog import PROVIDERS
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

DOCS = "https://clear.ml/docs/latest/docs/"


@pytest.fixture
def tenant():
    return Tenant.objects.create(name="Acme Research", company_id="c-acme", status="active")


def page_urls(tenant):
    return {
        "tenants": (reverse("tenants:list"), 'id="tenant-rows"'),
        "create": (reverse("tenants:create"), 'action="/tenants/new/"'),
        "edit": (reverse("tenants:edit", args=[tenant.pk]), 'name="allowed_users"'),
        "groups": (reverse("tenants:groups"), "<h2>Cross-tenant groups</h2>"),
        "group": (reverse("tenants:group_create"), 'name="display_name"'),
        "builtin": (reverse("tenants:builtin_groups"), 'name="mode__users"'),
        "organization": (reverse("tenants:organization"), 'name="unique_company_names"'),
        "effective": (reverse("tenants:effective_features"), 'class="matrix effective-matrix"'),
        "routing": (reverse("sso:routing_map"), 'id="tenants-title"'),
        "tenant-routing": (reverse("sso:tenant_routing", args=[tenant.pk]), 'class="inline-add"'),
        "simulator": (reverse("sso:simulator"), 'id="sim-email"'),
        "providers": (reverse("sso:providers"), "<h2>Configured</h2>"),
        "keycloak": (reverse("sso:provider_add", args=["keycloak"]), 'id="idp-form"'),
        "multitenant": (reverse("sso:multitenant"), 'name="enabled"'),
        "tenant-sso": (reverse("sso:tenant_sso", args=[tenant.pk]), 'id="tenant-sso-form"'),
        "security": (reverse("security"), 'id="security-generate"'),
        "audit": (reverse("audit:list"), 'id="audit-rows"'),
    }


@pytest.mark.parametrize(
    "name",
    [
        "tenants",
        "create",
        "edit",
        "groups",
        "group",
        "builtin",
        "organization",
        "effective",
        "routing",
        "tenant-routing",
        "simulator",
        "providers",
        "keycloak",
        "multitenant",
        "tenant-sso",
        "security",
        "audit",
    ],
)
def test_the_form_or_list_comes_before_the_explanation(admin_client, tenant, name):
    url, first = page_urls(tenant)[name]
    response = admin_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    main = html[html.index('<main id="main"') :]
    assert first in main
    how = main.find("<summary>How this works")
    assert how != -1, "no How this works section"
    assert main.index(first) < how
    # The page head is a heading, not an essay: at most one short sentence under the title.
    head = main[: main.index("</h1>") + 400]
    assert not re.search(r'<p class="muted">[^<]{160,}', head)


@pytest.mark.parametrize(
    "url",
    [
        "/tenants/new/",
        "/tenants/groups/",
        "/sso/routing/",
        "/sso/providers/",
        "/sso/multi-tenant/",
        "/security/",
    ],
)
def test_the_explanation_links_the_clearml_docs(admin_client, url):
    html = admin_client.get(url).content.decode()
    assert re.search(rf'<a [^>]*href="{re.escape(DOCS)}[^"]+"', html), url


def test_each_provider_page_links_its_clearml_docs_page(admin_client):
    for key, provider in PROVIDERS.items():
        html = admin_client.get(reverse("sso:provider_add", args=[key])).content.decode()
        if provider.docs_url:
            assert provider.docs_url.startswith(DOCS + "deploying_clearml/")
            assert f'href="{provider.docs_url}"' in html, key
        form, checklist = html.index('id="idp-form"'), html.find('id="checklist"')
        assert checklist == -1 or form < checklist, key  # the form before the steps at the IdP
        if provider.notes:
            assert html.index('id="idp-form"') < html.index('id="docs-notes"')


def test_the_features_of_a_new_tenant_are_collapsed_until_one_is_chosen(admin_client):
    html = admin_client.get(reverse("tenants:create")).content.decode()
    assert '<details class="feature-details">' in html
    assert "all at the server&#x27;s default" in html
    response = admin_client.post(
        reverse("tenants:create"), {"name": "", "admin_rows": "1", "feature__reports": "add"}
    )
    html = response.content.decode()
    assert '<details class="feature-details" open>' in html and "1 added" in html


@pytest.mark.parametrize(
    "url,data",
    [
        (reverse("tenants:create"), {"name": "", "admin_rows": "1"}),
        (reverse("tenants:group_create"), {"name": "bad name"}),
        (reverse("sso:provider_add", args=["keycloak"]), {"action": "save"}),
        (reverse("security_generate"), {"secret_name": "Bad Name", "chart_secret_name": "x"}),
    ],
)
def test_a_form_with_errors_shows_one_summary_at_the_top(admin_client, url, data):
    response = admin_client.post(url, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert html.count('class="alert alert-error error-summary"') == 1
    summary = html[html.index("error-summary") :]
    assert 'role="alert"' in html and 'tabindex="-1"' in summary[:400]
    assert re.search(r'<li><a href="#[\w-]+">[A-Z]', summary)  # a sentence linking to a field
    main = html.index('<main id="main"')
    first_field = min(
        i
        for i in (html.find(t, main) for t in ('<input type="text"', "<textarea", "<select"))
        if i > 0
    )
    assert html.index("error-summary") < first_field  # at the top, before the fields
