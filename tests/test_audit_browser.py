"""In Chromium: the Audit page filters over htmx without a reload, pages, and opens an entry."""

import pytest
from playwright.sync_api import expect

from console.audit import audit_record
from console.audit.bulk import bulk_append

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_filters_the_audit_log_and_opens_an_entry(signed_in_page, live_server):
    page = signed_in_page
    bulk_append(
        {"actor": "cli:ops", "action": "group.update", "target_type": "group", "target_id": str(i)}
        for i in range(60)
    )
    audit_record(
        actor="admin",
        action="idp.update",
        target_type="idp",
        target_id="keycloak",
        target_repr="Keycloak",
        before={"client_secret": "Ux81PlmN7vbT42xQ"},
        after={"client_secret": "Yo29WksY6hcU03aZ"},
        outcome="failure",
        error="the apiserver refused the configuration",
        calls=[{"endpoint": "sso.save_provider_configuration", "status": 400, "trx": "trx-77"}],
    )
    page.goto(live_server.url + "/audit/")
    rows = page.locator(".audit-table tbody tr")
    assert rows.count() == 50
    page.evaluate("window.notReloaded = true")

    page.fill("#id_q", "refused the")
    expect(rows).to_have_count(1)
    assert page.evaluate("window.notReloaded") is True  # htmx swapped the rows in place
    expect(page).to_have_url(live_server.url + "/audit/?q=refused+the")

    page.fill("#id_q", "")
    page.select_option("#id_outcome", "success")
    expect(page.locator("#id_outcome")).to_have_value("success")
    expect(rows).to_have_count(50)
    page.get_by_role("link", name="Older →").click()
    expect(rows).to_have_count(11)  # 60 group updates and the sign-in
    assert page.evaluate("window.notReloaded") is True
    assert "before=" in page.url and "outcome=success" in page.url

    page.goto(live_server.url + "/audit/?outcome=failure")
    page.locator(".audit-table tbody a").first.click()
    page.wait_for_url("**/audit/*/")
    assert "•••• (changed)" in page.content()
    assert "Yo29WksY6hcU03aZ" not in page.content()
    assert page.get_by_role("cell", name="trx-77").is_visible()
    assert page.js_errors == []
