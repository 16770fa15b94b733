"""In Chromium: an admin adds a JSON-lines audit sink through the form, sends it a test event and
reads its status; and narrows the credentials inventory with its filter form (htmx swaps the
rows, the address keeps the filter)."""

import base64
import json
import urllib.request

import pytest
from playwright.sync_api import expect

from changes.refresh import refresh_server_state
from tenants.models import Tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_adds_a_json_lines_sink_and_sends_it_a_test_event(
    signed_in_page, live_server, tmp_path
):
    target = tmp_path / "audit.jsonl"
    page = signed_in_page
    page.goto(live_server.url + "/audit/sinks/")
    expect(page.get_by_text("No audit sinks yet.")).to_be_visible()
    page.get_by_label("Name").fill("siem-file")
    page.get_by_label("Kind").select_option(label="JSON-lines file")
    page.get_by_label("URL or file").fill(str(target))
    page.get_by_role("button", name="Add sink").click()
    expect(page.get_by_text("Added siem-file: it gets entries after #")).to_be_visible()
    row = page.locator("tbody tr", has_text="siem-file")
    expect(row).to_contain_text(str(target))
    cells = row.locator("td")
    expect(cells.nth(2)).to_have_text("#1")  # delivered through the entry before it was added
    expect(cells.nth(3)).to_contain_text("entries")  # its own "added" entry is still to send
    expect(cells.nth(4)).to_have_text("—")  # no error

    row.get_by_role("button", name="Send test event").click()
    expect(page.get_by_text("siem-file acknowledged the test event (seq 0).")).to_be_visible()
    [line] = target.read_text().splitlines()
    assert json.loads(line)["seq"] == 0
    expect(page.locator("tbody tr", has_text="siem-file").locator("td").nth(4)).to_have_text("—")
    assert page.js_errors == []


def _use(sandbox, access_key: str, secret: str) -> None:
    """One authenticated call with the key: the server records its last use."""
    token = base64.b64encode(f"{access_key}:{secret}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - the sandbox on loopback
        sandbox.url + "/auth.login",
        data=b"{}",
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310


def test_an_admin_filters_the_credentials_inventory_with_the_form(
    signed_in_page, live_server, sandbox, sandbox_settings
):
    for name, domain in (("Acme Research", "acme.io"), ("Beta Labs", "beta.io")):
        company = sandbox.seed_company(name)
        admin = sandbox.seed_user(company, f"ann@{domain}")
        used = sandbox.seed_credentials(admin, label="laptop")
        sandbox.seed_credentials(admin, label="spare")
        Tenant.objects.create(name=name, company_id=company, status="active")
        _use(sandbox, *used)
    refresh_server_state()

    page = signed_in_page
    page.goto(live_server.url + "/credentials/")
    rows = page.locator("#credential-rows tbody tr")
    expect(rows).to_have_count(4)

    page.get_by_label("Tenant").fill("beta")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)
    expect(page.locator("#credential-rows")).to_contain_text("2 keys of 1 tenant")
    expect(rows.first).to_contain_text("Beta Labs")
    assert "tenant=beta" in page.url  # the address keeps the filter (a reload shows the same)

    page.get_by_label("Usage").select_option(label="never used")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("spare")
    page.reload()
    expect(rows).to_have_count(1)
    expect(page.get_by_label("Tenant")).to_have_value("beta")
    assert page.js_errors == []
