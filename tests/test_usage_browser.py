"""In Chromium: an admin fetches a range on the Usage page and reads the chart and its table."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_fetches_usage_and_reads_the_chart(signed_in_page, live_server, settings, sandbox):
    settings.CLEARML_METERING_URL = sandbox.url + "/metering"
    settings.CLEARML_METERING_KEY = sandbox.key
    settings.CLEARML_METERING_SECRET = sandbox.secret
    company = sandbox.seed_company("Acme")
    sandbox.seed_user(company, "ann@acme.io")
    page = signed_in_page
    page.goto(live_server.url + "/usage/?from=2026-01-01&to=2026-01-14")
    expect(page.get_by_text("This range has not been fetched yet.")).to_be_visible()
    page.get_by_role("button", name="Fetch").click()
    expect(page.get_by_text("Read usage for 1 tenant(s).")).to_be_visible()
    chart = page.get_by_role("img", name="Daily cost by category (USD)")
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() >= 14
    page.get_by_text("The chart's data as a table").click()
    expect(page.locator("details table tbody tr")).to_have_count(14)
    assert page.js_errors == []  # no Content-Security-Policy refusal either
