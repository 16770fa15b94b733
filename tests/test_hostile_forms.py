"""Regression tests for the hostile inputs the form fuzzer (tests/test_fuzz_forms.py) found:
each was a 500 or seconds of CPU; each now gives a clear answer at once and changes nothing.
Kept apart from the fuzzer's module so they run on an empty database, not its built world."""

import time

import pytest
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from changes.models import Changeset
from tenants.models import Tenant
from tests.conftest import TEST_ADMIN_PASSWORD
from tests.fuzzing import MB

pytestmark = pytest.mark.django_db


def error_messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request) if m.level == message_levels.ERROR]


def _cpu(call):
    started = time.thread_time()
    result = call()
    return result, time.thread_time() - started


@pytest.mark.parametrize("next_url", ["a b", "tenants", "http:x", "/x\ny", "/x\r\nSet-Cookie: a=b"])
def test_a_next_that_is_not_a_page_of_the_console_goes_to_the_dashboard(
    admin_client, next_url, sandbox_settings
):
    """`next=a b` was read as a URL name (NoReverseMatch) and a line break in HX-Redirect raised
    BadHeaderError: both 500s (web/refresh.py, console/views.py; console/redirects.py)."""
    response = admin_client.post("/refresh/", {"next": next_url})
    assert response.status_code == 302 and response["Location"] == "/"
    response = admin_client.post("/refresh/", {"next": next_url}, headers={"HX-Request": "true"})
    assert response.status_code == 204 and response["HX-Redirect"] == "/"
    response = Client().post(
        "/signin/", {"username": "admin", "password": TEST_ADMIN_PASSWORD, "next": next_url}
    )
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_next_on_this_console_is_followed(admin_client, sandbox_settings):
    response = admin_client.post("/refresh/", {"next": "/tenants/?q=é"})
    assert response["Location"] == "/tenants/?q=%C3%A9"
    response = admin_client.post(
        "/refresh/", {"next": "/tenants/?q=é"}, headers={"HX-Request": "true"}
    )
    assert response["HX-Redirect"] == "/tenants/?q=%C3%A9"


@pytest.mark.parametrize("tenant", ["²", "9" * 5000, "1\u0661"])
def test_refresh_of_a_tenant_id_that_is_not_ascii_digits_reads_every_tenant(
    admin_client, tenant, sandbox_settings
):
    """'²'.isdigit() is true but int('²') raises: a 500 (web/refresh.py)."""
    response = admin_client.post("/refresh/", {"tenant": tenant})
    assert response.status_code == 302


@pytest.mark.parametrize("admin", [" ", "abc", "²", "9" * 30, "-1", ""])
def test_credentials_for_an_admin_that_is_not_one_of_the_tenants_say_so(admin_client, admin):
    """`admin=' '` went to get_object_or_404(pk=' '): ValueError, a 500
    (web/tenants/views/credentials.py)."""
    tenant = Tenant.objects.create(name="Acme", company_id="c1", status="active")
    response = admin_client.post(f"/tenants/{tenant.pk}/credentials/", {"admin": admin})
    assert response.status_code == 302 and response["Location"] == f"/tenants/{tenant.pk}/"
    assert error_messages(response) == [
        "Choose one of this tenant's admins to create credentials for."
    ]
    assert not Changeset.objects.exists()


HOSTILE_VALUES_FILES = {
    # ruamel.yaml recursed per level: RecursionError, a 500
    "100,000 nested lists": "apiserver: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "deep blocks": "".join(" " * i + "a:\n" for i in range(400)),
    # ruamel.yaml took 28 s of CPU for 1 MB of short keys, twice (kind detection, then merge)
    "200,000 keys": "a: b\n" * 200_000,
    "a flow list of 300,000 values": "x: [" + "1, " * 300_000 + "]\n",
    # a first line libyaml refuses but ruamel.yaml takes must not skip the budget
    "a directive only ruamel reads": "%FOO bar\n---\napiserver: " + "[" * 5_000 + "]" * 5_000,
    # ruamel.yaml raised AssertionError on this directive
    "YAML 1.3": "%YAML 1.3\n---\napiserver: {}\n",
}


@pytest.mark.parametrize("text", HOSTILE_VALUES_FILES.values(), ids=HOSTILE_VALUES_FILES)
def test_merging_a_hostile_values_file_is_refused_at_once(admin_client, text):
    upload = SimpleUploadedFile("values.yaml", text.encode())
    response, cpu = _cpu(
        lambda: admin_client.post("/tenants/groups/export/", {"file": upload, "kind": "auto"})
    )
    assert response.status_code == 400
    assert "alert-error" in response.content.decode()
    assert cpu < 2.0, f"{cpu:.1f} s of CPU"
    response, cpu = _cpu(
        lambda: admin_client.post(
            "/tenants/groups/export/merge/", {"original": text, "kind": "helm"}
        )
    )
    assert response.status_code == 400 and response.content.decode().startswith("the file")
    assert cpu < 2.0, f"{cpu:.1f} s of CPU"


def test_the_merge_download_takes_no_more_text_than_the_upload(admin_client):
    """The review page posts the original text back: it was merged whatever its size (5 MB of
    form data allowed), a minute of ruamel.yaml's CPU."""
    text = "apiserver:\n  extraEnvs: []\n" + "#" * (MB + 1)
    response = admin_client.post("/tenants/groups/export/merge/", {"original": text})
    assert response.status_code == 400
    assert "at most 1,048,576" in response.content.decode()


def test_auditing_a_file_of_a_million_values_is_refused_at_once(admin_client):
    """PyYAML's pure-Python composer took 15 s of CPU per MB of short keys, and the audit takes
    20 files of 5 MiB (console/security/audit_files.py)."""
    upload = SimpleUploadedFile("values.yaml", b"a: b\n" * (MB // 5))
    response, cpu = _cpu(lambda: admin_client.post("/security/audit/", {"files": [upload]}))
    assert response.status_code == 400
    assert "more than 100,000 values" in response.content.decode()
    assert cpu < 2.0, f"{cpu:.1f} s of CPU"


@pytest.mark.parametrize("query", [{"tenant": "9" * 20}, {"page": "9" * 20}, {"tenant": "²"}])
def test_the_routing_map_of_a_tenant_id_past_64_bits_is_the_whole_map(admin_client, query):
    """`?tenant=99999999999999999999` reached a tenant filter: SQLite's OverflowError, a 500
    (web/routing/views.py; console/ids.py)."""
    assert admin_client.get("/sso/routing/", query).status_code == 200


def test_the_effective_features_links_carry_only_the_pages_choices(admin_client):
    """Every cell's link copied the whole query: a 400 KB parameter made an 80 MB page and 10 s
    of CPU (web/groups/matrix.py)."""
    junk = "zq:\n " * 100_000
    response, cpu = _cpu(
        lambda: admin_client.get("/tenants/groups/effective/", {"in": junk, "x": junk})
    )
    assert response.status_code == 200
    assert len(response.content) < 1_000_000 and "zq:" not in response.content.decode()
    assert cpu < 2.0, f"{cpu:.1f} s of CPU"
