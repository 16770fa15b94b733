"""Groups & features in a real browser: create a group, switch snippet formats, explain a
matrix cell, merge an uploaded file."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_group_journey_with_snippet_tabs_matrix_and_merge(signed_in_page, live_server, tmp_path):
    page = signed_in_page
    base = live_server.url
    page.goto(base + "/tenants/groups/new/")
    page.fill("#id_name", "Data_Scientists")
    page.fill("#id_display_name", "Data Scientists")
    page.check("input[name=features][value=applications]")
    page.check("input[name=features][value=pipelines]")
    page.click("button:has-text('Save group')")
    page.wait_for_selector("text=saved with id")

    # Format tabs swap the snippet in place (htmx) and keep Copy/Download working.
    snippet = page.locator("#snippet-group-text")
    assert "extraEnvs" in snippet.inner_text()
    page.click("#snippet-group .tabs a:has-text('env file')")
    # expect() polls without eval, which the console's CSP (rightly) forbids.
    expect(page.locator("#snippet-group-text")).to_contain_text('=["applications"')
    assert "Download clearml-group.env" in page.inner_text("#snippet-group")
    with page.expect_download() as download_info:
        page.click("#snippet-group a:has-text('Download')")
    text = download_info.value.path().read_text()
    assert (
        'CLEARML__services__auth__default_groups__Data_Scientists__name="Data Scientists"' in text
    )

    # The matrix explains a cell without leaving the page.
    page.goto(base + "/tenants/groups/effective/")
    page.click("a[aria-label='users + Data_Scientists, applications: by default']")
    page.wait_for_selector("#explain :text('Group Data_Scientists lists it.')")

    # Merge an uploaded values file and review the diff.
    values = tmp_path / "clearml-values.override.yaml"
    values.write_text("# mine\napiserver:\n  extraEnvs:\n    - name: KEEP\n      value: '1'\n")
    page.goto(base + "/tenants/groups/export/")
    page.set_input_files("#id_file", str(values))
    page.click("button:has-text('Merge and review')")
    page.wait_for_selector(".merge-result")
    assert "diff-add" in page.inner_html("#merge-diff")
    with page.expect_download() as download_info:
        page.click("button:has-text('Download merged')")
    merged = download_info.value.path().read_text()
    assert merged.startswith("# mine\n") and "Data_Scientists__features" in merged
    assert page.js_errors == []
