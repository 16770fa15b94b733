"""Every page the console serves, with demo data (tenants with domains, groups, an identity
provider, an applied and a planned changeset), checked by axe-core in Chromium: no serious or
critical violation, and no JavaScript error in the console (issue "The first hour").

axe-core comes vendored in axe-playwright-python (axe.min.js), so nothing is downloaded. The page
list is scripts/demo_site.py's, the one `make screenshots` photographs."""

import pytest

from scripts.demo_site import demo_pages, seed_demo_data, sign_in, visit
from tests.axe_check import serious_violations
from tests.conftest import TEST_ADMIN_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Open every <details>, then let the page react to the toggle events (console.js makes a table
# that now scrolls focusable) before axe looks.
OPEN_DETAILS = """async () => {
  document.querySelectorAll("details").forEach(d => { d.open = true; });
  await new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)));
}"""


@pytest.fixture
def demo(sandbox, sandbox_settings, transactional_db):
    seed_demo_data(sandbox)
    return demo_pages()


# Pages with wide tables and code, checked again at phone width (where more of it scrolls).
PHONE_PAGES = {
    "dashboard",
    "tenants",
    "tenant-detail",
    "tenant-plan",
    "change-detail",
    "audit",
    "credentials",
    "routing",
    "groups-export",
    "security",
    "app-visibility",
}


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_has_no_serious_violation_and_no_script_error(
    chromium, live_server, demo, width
):
    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    problems: dict[str, list[str]] = {}
    if width < 1000:
        demo = [p for p in demo if p.name in PHONE_PAGES or not p.signed_in]
    pages = sorted(demo, key=lambda p: p.signed_in)  # the sign-in page first, signed out
    signed_in = False
    for demo_page in pages:
        if demo_page.signed_in and not signed_in:
            sign_in(page, live_server.url, TEST_ADMIN_PASSWORD)
            signed_in = True
        errors.clear()
        response = visit(page, live_server.url, demo_page)
        assert response.status == demo_page.status, demo_page.name
        # Collapsed sections ("How this works", feature lists...) are checked open.
        page.evaluate(OPEN_DETAILS)
        found = serious_violations(page)
        # An error page's own status is logged by Chromium as a failed resource; nothing else is.
        found += [
            f"console error: {e}"
            for e in errors
            if not (demo_page.status != 200 and "Failed to load resource" in e)
        ]
        if found:
            problems[demo_page.name] = found
    # A form answered with errors: the error summary, the fields marked invalid.
    page.goto(live_server.url + "/tenants/new/")
    page.get_by_role("button", name="Review the plan").press("Enter")
    page.locator(".error-summary").wait_for()
    if found := serious_violations(page):
        problems["tenant-new with errors"] = found
    context.close()
    assert len(pages) >= (35 if width >= 1000 else len(PHONE_PAGES) + 1)
    assert problems == {}
