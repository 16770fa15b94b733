"""The first hour with the keyboard only (issue "The first hour"): sign in, create a tenant, add
a sign-in domain and push it, and download the tenant's Helm values (the onboarding kit's agent
values) with Tab, Shift+Tab, Enter and typing; no mouse, no .click(), no .focus(). At every stop
the focused element shows a visible focus style."""

import re

import pytest

from sso.models import LoginDomain
from tenants.models import Tenant
from tests.axe_check import serious_violations
from tests.conftest import TEST_ADMIN_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MAX_TABS = 120

# What has focus, and whether it shows it: an outline or a box shadow that is not "none".
FOCUS_STATE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {tag: "BODY", id: "", text: "", href: "", visible: false};
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow && style.boxShadow !== "none";
  return {
    tag: el.tagName, id: el.id, name: el.getAttribute("name") || "",
    text: (el.innerText || el.value || "").trim().slice(0, 80),
    href: el.getAttribute("href") || "", visible: Boolean(outline || shadow),
  };
}"""


class Keyboard:
    def __init__(self, page):
        self.page = page
        self.stops = 0

    def focused(self) -> dict:
        return self.page.evaluate(FOCUS_STATE)

    def press(self, key: str) -> dict:
        self.page.keyboard.press(key)
        state = self.focused()
        self.stops += 1
        assert state["visible"], f"no visible focus after {key} on {self.page.url}: {state}"
        return state

    def tab_to(self, wanted, *, backwards: bool = False) -> dict:
        """Press Tab (or Shift+Tab) until the focused element matches `wanted(state)`."""
        key = "Shift+Tab" if backwards else "Tab"
        state = self.focused()
        if wanted(state):  # already there (an autofocus field, or the focus an answer moved)
            return state
        seen = []
        for _ in range(MAX_TABS):
            state = self.press(key)
            if wanted(state):
                return state
            seen.append(state["text"] or state["id"] or state["tag"])
        raise AssertionError(f"{key} never reached the element; passed {seen}")

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)


def by_id(element_id):
    return lambda s: s["id"] == element_id


def by_text(pattern):
    return lambda s: re.search(pattern, s["text"]) is not None


def test_the_first_hour_with_the_keyboard_only(
    chromium, live_server, sandbox, sandbox_settings, transactional_db
):
    base = live_server.url
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    keys = Keyboard(page)

    # Sign in
    page.goto(base + "/signin/")
    keys.tab_to(by_id("id_password"))
    keys.type(TEST_ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/")

    # Tenants, then Create a tenant
    keys.tab_to(lambda s: s["href"] == "/tenants/")
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/tenants/")
    keys.tab_to(by_text("^Create a tenant$"))
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/tenants/new/")

    keys.tab_to(by_id("id_name"))
    keys.type("Keyboard Research")
    keys.tab_to(by_id("id_admin-0-name"))
    keys.type("Kim Keys")
    keys.tab_to(by_id("id_admin-0-email"))
    keys.type("kim@keyboard.example")
    keys.tab_to(by_text("^Review the plan$"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/tenants/\d+/plan/$"))
    tenant = Tenant.objects.get(name="Keyboard Research")
    assert tenant.status == "planned"

    # Apply the plan
    keys.tab_to(by_text(r"^Apply \d+ calls"))
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert page.get_by_role("status").first.inner_text().startswith("All ")
    assert serious_violations(page) == []  # the answer that shows new credentials once
    tenant.refresh_from_db()
    assert tenant.status == "active" and tenant.company_id
    assert tenant.company_id in [c["id"] for c in sandbox.companies()]

    # The tenant's sign-in routing: add a domain, push it
    keys.tab_to(by_text("^Go to the tenant$"))
    page.keyboard.press("Enter")
    page.wait_for_url(base + f"/tenants/{tenant.pk}/")
    keys.tab_to(lambda s: s["href"] == f"/sso/routing/tenants/{tenant.pk}/")
    page.keyboard.press("Enter")
    page.wait_for_url(base + f"/sso/routing/tenants/{tenant.pk}/")
    keys.tab_to(by_id("add-domain"))
    keys.type("keyboard.example")
    page.keyboard.press("Enter")
    page.locator("#list-domain").get_by_text("Added 1").wait_for()
    assert list(LoginDomain.objects.filter(tenant=tenant).values_list("domain", flat=True)) == [
        "keyboard.example"
    ]
    # The list was swapped in by htmx: focus went to its status or stayed in the form; go on
    # from wherever it is, backwards to the Push button at the top of the page.
    keys.tab_to(by_text("^Push to server$"), backwards=True)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/push/\d+/$"))
    page.get_by_text("Done: the server's routing matches the console's.").wait_for()
    assert sandbox.login_settings(tenant.company_id)["domains"] == ["keyboard.example"]
    assert serious_violations(page) == []  # the push's progress, once done

    # The tenant's Helm values: the onboarding kit's agent values, downloaded
    page.goto(base + f"/tenants/{tenant.pk}/")  # an address typed in the location bar
    keys.tab_to(lambda s: s["href"] == f"/tenants/{tenant.pk}/onboarding/")
    page.keyboard.press("Enter")
    page.wait_for_url(base + f"/tenants/{tenant.pk}/onboarding/")
    keys.tab_to(by_text("^Agent values$"))
    keys.tab_to(by_text("^Download$"))
    with page.expect_download() as download_info:
        page.keyboard.press("Enter")
    download = download_info.value
    assert download.suggested_filename == "clearml-agent-values.override.yaml"
    with open(download.path()) as values:
        assert "agentk8sglue:" in values.read()
    assert keys.stops > 10
    assert errors == []
    context.close()
