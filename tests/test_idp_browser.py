"""An admin configures Keycloak in Chromium: discovery fills the endpoints, the secret is
write-only afterwards, and the snippet tabs switch in place."""

import pytest
from playwright.sync_api import expect

from tests.test_idp_discovery import IdP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "browser-Secret-9876"


@pytest.fixture
def idp():
    server = IdP()
    yield server
    server.close()


def test_an_admin_configures_keycloak_with_discovery(signed_in_page, live_server, idp):
    page = signed_in_page
    issuer = idp.document("/realms/acme")
    page.goto(live_server.url + "/sso/providers/")
    page.get_by_role("link", name="Keycloak", exact=True).click()
    page.wait_for_url("**/sso/providers/new/keycloak/")
    page.fill("#f-issuer", issuer)
    page.check("input[name=allow_http]")
    page.fill("#f-client-id", "clearml")
    page.get_by_role("button", name="Fill from discovery").click()
    page.get_by_text("Review them, then save").wait_for()
    assert page.input_value("#f-authorize-url") == issuer + "/protocol/openid-connect/auth"
    assert page.input_value("#f-access-token-url") == issuer + "/protocol/openid-connect/token"
    assert page.input_value("#f-base-url") == issuer + "/"
    assert page.input_value("#f-client-id") == "clearml"
    page.fill("#f-client-secret", SECRET)
    page.select_option("#f-groups-enabled", "true")
    page.fill("#f-groups-admins", "clearml-admins")
    page.get_by_role("button", name="Save Keycloak").click()
    page.wait_for_url("**/sso/providers/keycloak/")
    assert page.get_by_text("Keycloak is configured.").is_visible()
    assert page.locator(".secret-state .badge").inner_text() == "Set"
    assert page.input_value("#f-client-secret") == ""
    assert SECRET not in page.content()
    snippet = page.locator("#snippet-idp-keycloak")
    assert "groups__admins" in snippet.locator("pre").inner_text()
    snippet.get_by_role("link", name="env file").click()
    # expect() polls without eval, which the console's CSP (rightly) forbids.
    expect(page.locator("#snippet-idp-keycloak pre")).to_contain_text("=[")
    assert (
        '__groups__admins=["clearml-admins"]'
        in page.locator("#snippet-idp-keycloak pre").inner_text()
    )
    assert page.js_errors == []
