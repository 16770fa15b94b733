"""A person signs in through the real page in Chromium and reaches the dashboard."""

import pytest

from tests.conftest import TEST_ADMIN_PASSWORD
from tests.test_oidc import configure, person, provider  # noqa: F401 - provider: a fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_signs_in_with_the_keyboard_and_sees_the_dashboard(page, live_server):
    page.goto(live_server.url + "/")
    assert "/signin/" in page.url
    page.fill("#id_password", TEST_ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.get_by_role("heading", name="Apiserver connection").is_visible()
    assert page.js_errors == []


def test_a_wrong_password_shows_a_message_on_the_page(page, live_server):
    page.goto(live_server.url + "/signin/")
    page.fill("#id_password", "not the password")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").inner_text() == "The user name or password is not right."
    assert page.js_errors == []


def test_a_person_signs_in_through_the_identity_provider(
    page,
    live_server,
    settings,
    provider,  # noqa: F811 - the fixture imported above
):
    """OpenID Connect in a real browser: the button, the provider's page, back on the console
    with the role from the groups, and the sessions page."""
    configure(settings, provider)
    person(provider, "ops-person", email="ops@example.com", groups=["console-operators"])
    page.goto(live_server.url + "/tenants/")
    page.get_by_role("link", name="Sign in with localhost").click()
    page.wait_for_url(provider + "/oauth2/authorize**")
    page.fill("input[name=sub]", "ops-person")
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(live_server.url + "/tenants/")
    assert "ops@example.com (operator)" in page.locator(".who").inner_text()
    page.locator(".who a").click()
    page.wait_for_url(live_server.url + "/account/sessions/")
    assert "OpenID Connect" in page.locator("table").inner_text()
