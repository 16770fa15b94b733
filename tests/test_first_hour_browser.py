"""The first hour in Chromium (issue "The first hour"): a form with errors focuses its error
summary, whose links move focus to the fields; a field with a limit counts its characters (and
without JavaScript its maxlength still holds); the Tenants page sorts with links that work with
htmx (the URL is pushed) and without JavaScript; a phone-wide page does not scroll sideways."""

import re

import pytest

from sso.models import LoginDomain
from tenants.models import MAX_TENANT_NAME, Tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_error_summary_takes_focus_and_links_to_the_fields(signed_in_page, live_server):
    page = signed_in_page
    page.goto(live_server.url + "/tenants/new/")
    page.fill("#id_admin-0-name", "Alice Admin")
    page.fill("#id_admin-0-email", "alice@")
    page.get_by_role("button", name="Review the plan").click()
    page.wait_for_selector(".error-summary")
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    summary = page.locator(".error-summary")
    assert summary.get_attribute("role") == "alert"
    assert "The tenant name is required" in summary.inner_text()
    summary.get_by_role("link", name=re.compile("Admin 1: The email address")).click()
    assert page.evaluate("document.activeElement.id") == "id_admin-0-email"
    assert [e for e in page.js_errors if "400 (Bad Request)" not in e] == []


def test_a_field_counts_its_characters(signed_in_page, live_server):
    page = signed_in_page
    page.goto(live_server.url + "/tenants/new/")
    page.fill("#id_name", "Acme")
    counter = page.locator("#id_name-count")
    assert counter.inner_text() == f"4 of {MAX_TENANT_NAME} characters"
    page.fill("#id_name", "x" * (MAX_TENANT_NAME + 20))  # maxlength stops it
    assert page.locator("#id_name").input_value() == "x" * MAX_TENANT_NAME
    assert "char-count-full" in counter.get_attribute("class")
    assert "id_name-count" in page.locator("#id_name").get_attribute("aria-describedby")


def test_without_javascript_the_limit_still_holds(chromium, live_server, transactional_db):
    from tests.conftest import TEST_ADMIN_PASSWORD

    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server.url + "/signin/")
    page.fill("#id_password", TEST_ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.goto(live_server.url + "/tenants/new/")
    page.fill("#id_name", "x" * (MAX_TENANT_NAME + 5))
    assert page.locator("#id_name").input_value() == "x" * MAX_TENANT_NAME
    assert page.locator(".char-count").count() == 0
    # Sorting the list is a plain link.
    Tenant.objects.create(name="Beta", company_id="c-b", status="active")
    zed = Tenant.objects.create(name="Zed", company_id="c-z", status="active")
    LoginDomain.objects.create(tenant=zed, domain="zed.io")
    page.goto(live_server.url + "/tenants/")
    page.get_by_role("link", name=re.compile("^Domains")).click()
    page.get_by_role("link", name=re.compile("^Domains")).click()
    assert page.url.endswith("sort=-domains")
    names = page.locator("td.tenant-name a").all_inner_texts()
    assert names[:2] == ["Zed", "Beta"]
    context.close()


def test_the_tenant_list_sorts_with_htmx_and_pushes_the_url(signed_in_page, live_server):
    page = signed_in_page
    Tenant.objects.create(name="Alpha", company_id="c-a", status="active")
    zed = Tenant.objects.create(name="Zed", company_id="c-z", status="active")
    LoginDomain.objects.create(tenant=zed, domain="zed.io")
    page.goto(live_server.url + "/tenants/")
    page.get_by_role("link", name=re.compile("^Domains")).click()
    page.wait_for_url(re.compile(r"sort=domains"))
    page.get_by_role("link", name=re.compile("^Domains")).click()
    page.wait_for_url(re.compile(r"sort=-domains"))
    header = page.locator("th", has=page.get_by_role("link", name=re.compile("^Domains")))
    assert header.get_attribute("aria-sort") == "descending"
    assert page.locator("td.tenant-name a").first.inner_text() == "Zed"
    page.go_back()
    page.wait_for_url(re.compile(r"sort=domains$"))
    assert page.js_errors == []


@pytest.mark.parametrize(
    "path", ["/tenants/", "/tenants/new/", "/sso/providers/new/keycloak/", "/sso/routing/"]
)
def test_a_phone_wide_page_does_not_scroll_sideways(chromium, live_server, transactional_db, path):
    from tests.conftest import TEST_ADMIN_PASSWORD

    long = "a-tenant-with-a-very-long-name-" * 3
    tenant = Tenant.objects.create(name=long[:100], company_id="c-long", status="active")
    LoginDomain.objects.create(
        tenant=tenant, domain="a-very-long-subdomain-of-the-tenant." + "b" * 60 + ".example"
    )
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(live_server.url + "/signin/")
    page.fill("#id_password", TEST_ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.goto(live_server.url + path)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    for table in page.locator(".table-wrap").all():
        # a wide table scrolls inside its container, never the page
        assert table.evaluate("e => e.getBoundingClientRect().right <= window.innerWidth + 1")
    context.close()
