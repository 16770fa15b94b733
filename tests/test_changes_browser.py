"""The Changes pages in a real browser: a reviewed edit is listed, opened and applied."""

import pytest
from playwright.sync_api import expect

from changes.background import background_run
from changes.models import Changeset
from tests.test_tenants_provisioning import create, tenant_provision
from tests.test_worker import plan as plan_bulk

pytestmark = pytest.mark.browser


def test_an_admin_reviews_an_edit_and_applies_it_from_its_changeset(
    signed_in_page, live_server, sandbox, sandbox_settings
):
    page = signed_in_page
    tenant = create()
    tenant_provision(tenant=tenant, actor="admin")
    tenant.refresh_from_db()
    page.goto(f"{live_server.url}/tenants/{tenant.pk}/edit/")
    page.fill("#id_allowed_users", "25")
    page.click("button[name=review]")
    changeset = Changeset.objects.get(kind="tenant.update")
    page.wait_for_url(f"{live_server.url}/changes/{changeset.pk}/")
    assert page.locator("h1").inner_text().startswith(f"Changeset #{changeset.pk}")
    assert "system.update_company_settings" in page.locator(".change-steps").inner_text()

    page.goto(f"{live_server.url}/changes/")
    row = page.locator("#change-rows tbody tr").first
    assert "Update tenant Acme Research" in row.inner_text() and "Planned" in row.inner_text()
    page.select_option("#id_status", "applied")  # the filter updates the list and the URL
    page.wait_for_url("**/changes/?status=applied**")

    page.goto(f"{live_server.url}/changes/{changeset.pk}/")
    apply_button = page.get_by_role("button", name="Apply")
    apply_button.focus()  # by keyboard
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "system.update_company_settings" in page.content()
    changeset.refresh_from_db()
    assert changeset.status == "applied"
    assert sandbox.company(tenant.company_id)["defaults"]["allowed_users"] == 25
    assert page.js_errors == []


def test_the_changeset_page_follows_a_background_apply_live(
    signed_in_page, live_server, sandbox, sandbox_settings
):
    page = signed_in_page
    changeset = plan_bulk([f"Live {i}" for i in range(6)])
    page.goto(f"{live_server.url}/changes/{changeset.pk}/")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    progress = page.locator("#progress")
    assert "0 of 6 steps done" in " ".join(progress.inner_text().split())
    assert progress.get_attribute("hx-trigger") == "every 1s"

    background_run(changeset.pk)  # what the worker runs; the open page polls and follows it
    expect(page.locator("#progress .progress-done")).to_have_text("6", timeout=10_000)
    assert page.locator("#progress").get_attribute("hx-trigger") is None  # polling stopped
    assert page.js_errors == []
