"""Sign-in routing in a real browser: edit inline, see the drift, push with progress, simulate."""

import pytest

from changes.refresh import refresh_server_state
from console.apiserver import client_from_settings
from sso.models import LoginDomain
from tenants.models import Tenant, TenantAdmin

pytestmark = pytest.mark.browser


@pytest.fixture
def tenants(sandbox_settings, transactional_db):
    client = client_from_settings()
    company = client.call("system.create_company", {"name": "Acme Research"})["id"]
    user = client.call(
        "auth.create_user",
        {"name": "Alice", "company": company, "email": "alice@acme.io", "role": "admin"},
    )["id"]
    acme = Tenant.objects.create(name="Acme Research", company_id=company, status="active")
    TenantAdmin.objects.create(tenant=acme, name="Alice", email="alice@acme.io", user_id=user)
    beta = Tenant.objects.create(name="Beta Labs")
    LoginDomain.objects.create(tenant=beta, domain="beta.io")
    assert refresh_server_state().ok  # the live view shows what the last refresh read
    return acme, beta


def test_an_admin_edits_pushes_and_simulates_routing(signed_in_page, live_server, tenants, sandbox):
    page = signed_in_page
    acme, _ = tenants
    page.click("nav >> text=Sign-in routing")
    page.click("text=Edit routing >> nth=0")
    page.wait_for_selector("#live >> text=The server matches the console")

    page.fill("#add-domain", "Acme.IO beta.io")
    page.click("#list-domain >> button:has-text('Add')")
    page.wait_for_selector("#list-domain >> text=already a sign-in domain of tenant 'Beta Labs'")
    assert page.input_value("#add-domain") == "Acme.IO beta.io"  # kept for fixing

    page.fill("#add-domain", "Acme.IO")
    page.click("#list-domain >> button:has-text('Add')")
    page.wait_for_selector("#list-domain >> text=Added 1")
    page.fill("#add-admin", "carol@beta.io")
    page.click("#list-admin >> button:has-text('Add')")
    page.wait_for_selector("#list-admin >> text=routes to tenant 'Beta Labs'")
    # The live view reloads by itself after each change and shows the drift.
    page.wait_for_selector("#live >> text=differs from the console")

    page.click("#live >> button:has-text('Push the console')")
    page.wait_for_selector("#push-progress >> text=Done", timeout=15_000)
    assert sandbox.login_settings(acme.company_id) == {
        "domains": ["acme.io"],
        "whitelist": [{"email": "carol@beta.io", "is_admin": True}],
    }

    page.goto(live_server.url + "/sso/routing/simulator/")
    page.fill("#sim-email", "Carol@Beta.io")
    page.wait_for_selector("#simulation >> text=1 · whitelist")
    assert "Acme Research" in page.inner_text("#simulation")
    page.fill("#sim-email", "dan@beta.io")
    page.wait_for_selector("#simulation >> text=2 · domain")
    assert "Beta Labs" in page.inner_text("#simulation")
    assert not [e for e in page.js_errors if "Content Security Policy" in e]
