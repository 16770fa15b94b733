"""The Security page: generate (shown once, never stored), audit uploads, and a browser journey."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from console.audit.models import AuditEntry
from console.security import catalog
from console.security.audit_files import MAX_FILE_BYTES
from tests.snippet_readers import apiserver_reads, read_env_file

pytestmark = pytest.mark.django_db

CHART_VALUES = (
    "clearml:\n"
    f"  apiserverKey: {catalog.known_default_of('clearml.apiserverKey').value}\n"
    f"  apiserverSecret: {catalog.known_default_of('clearml.apiserverSecret').value}\n"
)
GENERATE = {"secret_name": "clearml-server-secrets", "chart_secret_name": "clearml-conf-rotated"}


def _pre_blocks(html: str) -> dict[str, str]:
    import html as html_lib

    return {
        m.group(1): html_lib.unescape(m.group(2))
        for m in re.finditer(r'<pre id="(secrets-[\w-]+)">(.*?)</pre>', html, re.S)
    }


def test_the_page_shows_every_part(admin_client):
    response = admin_client.get(reverse("security"))
    html = response.content.decode()
    assert response.status_code == 200
    for text in (
        "Public default credentials",
        "Generate server secrets",
        "Audit deployment files",
        "Rotating secrets: what breaks, and in which order",
        "Order to roll",
        "Where the public defaults come from",
        f'hx-get="{reverse("security_live_check")}"',
    ):
        assert text in html
    for setting in catalog.SERVER_SECRETS:
        assert setting.path in html
    for value in catalog.known_defaults():
        assert value.value not in html


def test_generate_shows_every_format_once_and_records_no_value(admin_client):
    data = dict(GENERATE, supervisor="on", supervisor_email="Boss@Example.com")
    response = admin_client.post(reverse("security_generate"), data)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "Shown once." in html
    blocks = _pre_blocks(html)
    assert set(blocks) == {
        "secrets-helm-inline",
        "secrets-helm-secret-ref",
        "secrets-compose-inline",
        "secrets-env-inline",
        "secrets-shell-inline",
    }
    env = read_env_file(blocks["secrets-env-inline"])
    assert (
        apiserver_reads(
            "CLEARML__secure__credentials__supervisor__email",
            env["CLEARML__secure__credentials__supervisor__email"],
        )
        == "boss@example.com"
    )
    values = [apiserver_reads(s.env_name, env[s.env_name]) for s in catalog.SERVER_SECRETS]
    # the same values in every format
    for value in values:
        for name, text in blocks.items():
            assert value in text, name
    entry = AuditEntry.objects.filter(action="secrets.generate").latest("seq")
    assert entry.actor == "admin (local)" and entry.after["supervisor"] is True
    assert "secure.credentials.supervisor.email" in entry.after["settings"]
    stored = json.dumps([entry.before, entry.after, entry.target_repr, entry.error])
    for value in values:
        assert value not in stored
    # generating again makes different values
    again = _pre_blocks(admin_client.post(reverse("security_generate"), GENERATE).content.decode())
    assert not set(values) & set(
        apiserver_reads(s.env_name, read_env_file(again["secrets-env-inline"])[s.env_name])
        for s in catalog.SERVER_SECRETS
    )


def test_generate_as_htmx_answers_the_fragment_only(admin_client):
    response = admin_client.post(reverse("security_generate"), GENERATE, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="security-generate"')
    assert "<html" not in html
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"supervisor": "on", "supervisor_email": "not an email"}, "supervisor_email", "@"),
        ({"supervisor": "on", "supervisor_email": ""}, "supervisor_email", "required"),
        ({"secret_name": "Bad_Name"}, "secret_name", "not a valid Kubernetes Secret name"),
        ({"chart_secret_name": "clearml-server-secrets"}, "chart_secret_name", "different name"),
        ({"supervisor_company": "a b"}, "supervisor_company", "letters, digits"),
    ],
)
def test_generate_refuses_bad_input_and_shows_no_secret(admin_client, data, field, reason):
    response = admin_client.post(reverse("security_generate"), {**GENERATE, **data})
    assert response.status_code == 400
    html = response.content.decode()
    form = response.context["generate_form"]
    assert field in form.errors and reason in " ".join(form.errors[field])
    assert "Shown once." not in html and not _pre_blocks(html)
    assert not AuditEntry.objects.filter(action="secrets.generate").exists()


def test_audit_upload_reports_findings_without_values(admin_client):
    upload = SimpleUploadedFile("values.yaml", CHART_VALUES.encode())
    response = admin_client.post(reverse("security_audit_upload"), {"files": [upload]})
    assert response.status_code == 200
    html = response.content.decode()
    assert "High-severity findings" in html
    assert "<code>values.yaml</code>" in html and "clearml.apiserverKey (line 2)" in html
    fingerprint = catalog.fingerprint(catalog.known_default_of("clearml.apiserverSecret").value)
    assert f"<code>{fingerprint}</code>" in html
    for value in catalog.known_defaults():
        assert value.value not in html
    entry = AuditEntry.objects.filter(action="secrets.audit").latest("seq")
    assert entry.after["files"] == [{"name": "values.yaml", "kind": "Helm values"}]
    assert entry.after["counts"]["high"] >= 2


def test_a_partial_audit_of_a_clean_file(admin_client):
    upload = SimpleUploadedFile(
        "a.env", b"CLEARML__SECURE__AUTH__TOKEN_SECRET=" + b"Z" * 54 + b"\n"
    )
    response = admin_client.post(
        reverse("security_audit_upload"), {"files": [upload], "partial": "on"}
    )
    html = response.content.decode()
    assert "No findings." in html and "Partial audit" in html


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("logo.png", b"\x89PNG\x00\x00", "logo.png: is a binary file"),
        ("values.yaml", b"a: [\n", "values.yaml: is not valid YAML: line 2, column 1"),
        (
            "huge.yaml",
            b"#" * (MAX_FILE_BYTES + 1),
            "huge.yaml: is 5.0 MiB; the audit reads files up to 5 MiB",
        ),
    ],
)
def test_bad_uploads_are_refused_with_the_reason(admin_client, name, content, reason):
    upload = SimpleUploadedFile(name, content)
    response = admin_client.post(reverse("security_audit_upload"), {"files": [upload]})
    assert response.status_code == 400
    html = response.content.decode()
    assert "These files cannot be audited" in html and reason in html
    entry = AuditEntry.objects.filter(action="secrets.audit").latest("seq")
    assert entry.outcome == "failure"


def test_an_upload_without_files_says_so(admin_client):
    response = admin_client.post(reverse("security_audit_upload"), {})
    assert response.status_code == 400
    assert "Deployment files: choose at least one file" in response.content.decode()


def test_an_oversized_upload_is_refused_before_reading(admin_client):
    response = admin_client.post(
        reverse("security_audit_upload"),
        data=b"x",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(200 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert "the audit takes at most 20 files of 5 MiB" in response.content.decode()


@pytest.mark.browser
def test_security_page_in_the_browser(
    signed_in_page, live_server, settings, make_sandbox, tmp_path
):
    pair = next(p for p in catalog.known_pairs() if p.id == "server-tests")
    server = make_sandbox(key=pair.key, secret=pair.secret)
    settings.CLEARML_API_URL = server.url
    settings.CLEARML_API_KEY, settings.CLEARML_API_SECRET = server.key, server.secret
    page = signed_in_page
    page.goto(live_server.url + "/")  # the dashboard again, now pointed at the sandbox
    page.wait_for_selector(".security-live-bad")  # the dashboard panel
    page.click("nav.sidenav >> text=Security")
    page.wait_for_selector("#security-live-check.security-live-bad")
    assert "accepted" in page.inner_text("#security-live-check")
    page.check("#id_platform_management")
    page.click("text=Generate new secrets")
    page.wait_for_selector(".security-once")
    helm = page.inner_text("#secrets-helm-inline")
    assert "CLEARML__secure__credentials__platform_management__user_key" in helm
    values_file = tmp_path / "values.yaml"
    values_file.write_text(CHART_VALUES)
    page.set_input_files("#id_files", str(values_file))
    page.click("#security-audit button[type=submit]")
    page.wait_for_selector(".security-findings")
    assert "clearml.apiserverSecret" in page.inner_text(".security-findings")
    assert page.js_errors == []


def test_every_bad_upload_is_listed_at_once(admin_client):
    files = [
        SimpleUploadedFile("huge.yaml", b"#" * (MAX_FILE_BYTES + 1)),
        SimpleUploadedFile("logo.png", b"\x89PNG\x00"),
        SimpleUploadedFile("ok.env", b"A=1\n"),
    ]
    response = admin_client.post(reverse("security_audit_upload"), {"files": files})
    html = response.content.decode()
    assert response.status_code == 400
    assert "huge.yaml: is 5.0 MiB" in html and "logo.png: is a binary file" in html
    assert "ok.env" not in html.split("These files cannot be audited")[1].split("</ul>")[0]


def test_htmx_requests_get_errors_as_a_swappable_fragment(admin_client):
    """htmx 2 does not swap a 4xx answer, so errors come back as 200 with the form fragment."""
    response = admin_client.post(
        reverse("security_generate"),
        {**GENERATE, "secret_name": "Bad_Name"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "not a valid Kubernetes Secret name" in response.content.decode()
    upload = SimpleUploadedFile("logo.png", b"\x89PNG\x00")
    response = admin_client.post(
        reverse("security_audit_upload"), {"files": [upload]}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith(
        '<section class="card" id="security-audit"'
    )
    assert "logo.png: is a binary file" in html


def test_without_javascript_the_check_link_runs_the_check_in_the_page(
    admin_client, sandbox_settings
):
    html = admin_client.get(reverse("security")).content.decode()
    assert f'href="{reverse("security")}?check=1#security-live-check"' in html
    html = admin_client.get(reverse("security"), {"check": "1"}).content.decode()
    assert "refuses every publicly known default credential pair" in html
