"""Security review: secrets end to end, error reports, and the problems the review found.

The cross-cutting test drives every flow that handles a secret through the Django test client
against the real sandbox apiserver, then looks for each secret value everywhere it must not be:
the audit log (every column), the log output, later pages, the session and cookies, the cache,
and every database table but the two columns where the design keeps literal IdP client secrets
(the README, "Secret storage").
"""

import html as html_lib
import logging
import pickle
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from console.audit.models import AuditEntry
from sso.multitenant.models import TenantSSOConfig
from sso.providers.models import IdentityProvider
from tenants.models import Tenant, TenantAdmin
from tests.snippet_readers import read_env_file

pytestmark = pytest.mark.django_db

IDP_SECRET = "kc-Literal-Secret-9f3e1c77"
IDP_SECRET_2 = "kc-Rotated-Secret-51aa0b3d"
TENANT_IDP_SECRET = "mt-Client-Secret-0c4d8e2a"
# Columns where the design stores a literal IdP client secret (the README).
SECRET_COLUMNS = {
    (IdentityProvider._meta.db_table, "secrets"),
    (TenantSSOConfig._meta.db_table, "client_secret"),
}

TENANT_FORM = {
    "name": "Acme Research",
    "allowed_users": "10",
    "feature__experiments": "add",
    "admin_rows": "1",
    "admin-0-name": "Alice Admin",
    "admin-0-email": "alice@acme.io",
    "admin-0-internal": "on",
    "domains": "acme.io",
    "whitelist_admins": "",
    "whitelist_users": "bob@gmail.com",
}
KEYCLOAK_FORM = {
    "action": "save",
    "base_url": "https://sso.example.com/realms/acme/",
    "authorize_url": "https://sso.example.com/realms/acme/protocol/openid-connect/auth",
    "access_token_url": "https://sso.example.com/realms/acme/protocol/openid-connect/token",
    "client_id": "clearml",
    "groups.enabled": "true",
    "groups.claim": "groups",
    "claims.name": "preferred_username",
    "idp_logout": "true",
    "get_info_from_access_token": "false",
}
TENANT_SSO_FORM = {
    "action": "save_push",
    "tenant": "acme-ext",
    "group_mapping": "IdP Researchers = Researchers",
    "admin_groups": "IdP Admins",
    "has_provider": "on",
    "provider": "keycloak",
    "configuration.display_name": "Acme SSO",
    "configuration.client_id": "acme-clearml",
    "configuration.authorization_endpoint": "https://kc.example/realms/acme/protocol/openid-connect/auth",
    "configuration.token_endpoint": "https://kc.example/realms/acme/protocol/openid-connect/token",
    "configuration.claim_tenant": "tenant_key",
    "configuration.claim_name": "name",
}


def _shown_credential(page: str) -> tuple[str, str]:
    key = re.search(r'id="cred1-key">([^<]+)<', page)
    secret = re.search(r'id="cred1-secret">([^<]+)<', page)
    assert key and secret, "the page shows no new credentials"
    return html_lib.unescape(key.group(1)), html_lib.unescape(secret.group(1))


def _generated_values(page: str) -> list[str]:
    blocks = {
        m.group(1): html_lib.unescape(m.group(2))
        for m in re.finditer(r'<pre id="(secrets-[\w-]+)">(.*?)</pre>', page, re.S)
    }
    env = read_env_file(blocks["secrets-env-inline"])
    return [value for name, value in env.items() if re.search(r"SECRET|PASS", name, re.I)]


def _table_dump(exclude: set[tuple[str, str]]) -> dict[str, str]:
    """Every table's rows as text, without the excluded (table, column) pairs."""
    out = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ]
            keep = [c for c in columns if (table, c) not in exclude]
            quoted = ", ".join(connection.ops.quote_name(c) for c in keep)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")  # noqa: S608
            out[table] = "\n".join(repr(row) for row in cursor.fetchall())
    return out


def _column_text(table: str, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {connection.ops.quote_name(table)}"  # noqa: S608
        )
        return "\n".join(str(row[0]) for row in cursor.fetchall())


def test_no_secret_leaks_from_the_flows_that_handle_one(
    admin_client, sandbox, sandbox_settings, caplog
):
    caplog.set_level(logging.DEBUG)
    settings = sandbox_settings
    settings.CLEARML_WEBAPP_URL = "https://app.clearml.example"

    # 1. Create a tenant and apply it: the admin's credentials are shown once.
    assert admin_client.post(reverse("tenants:create"), TENANT_FORM).status_code == 302
    tenant = Tenant.objects.get()
    applied = admin_client.post(reverse("tenants:apply", args=[tenant.pk]))
    assert applied.status_code == 200 and "no-store" in applied["Cache-Control"]
    key_1, secret_1 = _shown_credential(applied.content.decode())

    # 2. New credentials for that admin.
    admin = TenantAdmin.objects.get()
    issued = admin_client.post(
        reverse("tenants:credentials", args=[tenant.pk]), {"admin": admin.pk}
    )
    assert issued.status_code == 200 and "no-store" in issued["Cache-Control"]
    key_2, secret_2 = _shown_credential(issued.content.decode())
    assert secret_2 != secret_1

    # 3. An identity provider with a literal client secret, then a new literal.
    tenant.refresh_from_db()
    added = admin_client.post(
        reverse("sso:provider_add", args=["keycloak"]),
        {**KEYCLOAK_FORM, "client_secret": IDP_SECRET, "default_company": tenant.company_id},
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    edited = admin_client.post(
        reverse("sso:provider_edit", args=["keycloak"]),
        {
            **KEYCLOAK_FORM,
            "client_secret": IDP_SECRET_2,
            "default_company": tenant.company_id,
            "version": "1",
        },
    )
    assert edited.status_code == 302, edited.content.decode()[:2000]
    assert IdentityProvider.objects.get().secrets == {"client_secret": IDP_SECRET_2}

    # 4. The tenant's own IdP client (multi-tenant login), saved and pushed with its secret.
    pushed = admin_client.post(
        reverse("sso:tenant_sso", args=[tenant.pk]),
        {**TENANT_SSO_FORM, "configuration.client_secret": TENANT_IDP_SECRET},
    )
    assert pushed.status_code == 302, pushed.content.decode()[:2000]
    assert TenantSSOConfig.objects.get().push_status == TenantSSOConfig.PushStatus.OK

    # 5. Fresh server secrets on the Security page.
    generated = admin_client.post(
        reverse("security_generate"),
        {"secret_name": "clearml-server-secrets", "chart_secret_name": "clearml-conf-rotated"},
    )
    assert generated.status_code == 200 and "no-store" in generated["Cache-Control"]
    server_secrets = _generated_values(generated.content.decode())
    assert len(server_secrets) >= 5

    once_shown = {"credentials secret 1": secret_1, "credentials secret 2": secret_2}
    once_shown.update({f"server secret {i}": v for i, v in enumerate(server_secrets)})
    idp_literals = {
        "IdP secret (replaced)": IDP_SECRET,
        "IdP secret": IDP_SECRET_2,
        "tenant IdP secret": TENANT_IDP_SECRET,
    }
    every_secret = {**once_shown, **idp_literals, "apiserver secret": sandbox.secret}

    def assert_absent(where: str, text: str, secrets=every_secret) -> None:
        for label, value in secrets.items():
            assert value not in text, f"{label} found in {where}"

    # The audit log, every column of every entry (and the export an auditor downloads).
    assert AuditEntry.objects.filter(action="idp.update").exists()
    assert AuditEntry.objects.filter(action="secrets.generate").exists()
    for entry in AuditEntry.objects.values():
        assert_absent(f"audit entry {entry['seq']} ({entry['action']})", repr(entry))
    for fmt in ("csv", "jsonl"):
        response = admin_client.get(reverse("audit:export", args=[fmt]))
        assert_absent(f"the audit {fmt} export", b"".join(response.streaming_content).decode())

    # The log output, formatted and raw.
    assert caplog.records, "nothing was logged at all: the capture is not working"
    logged = caplog.text + "\n".join(repr(r.args) + repr(r.__dict__) for r in caplog.records)
    assert_absent("the log output", logged)

    # Every page that shows these objects afterwards, and their snippets.
    pages = [
        reverse("dashboard"),
        reverse("tenants:list"),
        reverse("tenants:detail", args=[tenant.pk]),
        reverse("tenants:plan", args=[tenant.pk]),
        reverse("sso:providers"),
        reverse("sso:provider_edit", args=["keycloak"]),
        reverse("sso:multitenant"),
        reverse("sso:tenant_sso", args=[tenant.pk]),
        reverse("security"),
        reverse("audit:list"),
        *[reverse("audit:detail", args=[e.seq]) for e in AuditEntry.objects.all()],
        *[
            reverse("snippets:show", args=["idp-keycloak"]) + f"?format={fmt}"
            for fmt in ("helm", "compose", "env", "shell")
        ],
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_absent(url, response.content.decode())

    # The session (the test client's and every stored one), cookies and the cache.
    assert_absent("the session", repr(dict(admin_client.session)))
    from django.contrib.sessions.models import Session

    for session in Session.objects.all():
        assert_absent("a stored session", repr(session.get_decoded()))
    assert_absent("the cookies", admin_client.cookies.output())
    for value in getattr(cache, "_cache", {}).values():
        assert_absent("the cache", repr(pickle.loads(value)))  # noqa: S301 - our own cache

    # Every table: no secret outside the two columns made for literal IdP client secrets.
    for table, text in _table_dump(SECRET_COLUMNS).items():
        assert_absent(f"table {table}", text)
    # ... and the search is real: the literal that is kept is found in its own column.
    assert IDP_SECRET_2 in _column_text(IdentityProvider._meta.db_table, "secrets")
    assert TENANT_IDP_SECRET in _column_text(TenantSSOConfig._meta.db_table, "client_secret")
    # The only things kept of the new credentials are their access keys.
    assert key_1 in _table_dump(set())["tenants_issuedcredential"]
    assert key_2 in _table_dump(set())["tenants_issuedcredential"]


# --- error reports --------------------------------------------------------------------------------
# With DEBUG off, Django's error reports (AdminEmailHandler with include_html, or any handler that
# uses ExceptionReporter) list every frame's local variables unless the view marks them sensitive.
# A template error, a database hiccup or a bug in a view that holds a secret must not copy the
# secret into such a report.


class Boom(RuntimeError):
    pass


def _boom(*args, **kwargs):
    raise Boom("unexpected failure for the error report test")


@pytest.fixture
def error_reports(settings):
    """The HTML error reports Django would e-mail to ADMINS, one per 500."""
    from django.core import mail
    from django.utils.log import AdminEmailHandler

    settings.DEBUG = False
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    handler = AdminEmailHandler(include_html=True)
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    reports: list[str] = []
    yield reports
    logger.removeHandler(handler)
    for message in mail.outbox:
        reports.append(message.body + "".join(str(a[0]) for a in message.alternatives))


def _report_of(client, error_reports, method: str, url: str, data=None) -> str:
    client.raise_request_exception = False
    response = getattr(client, method)(url, data or {})
    assert response.status_code == 500
    html = _html_report()
    assert "Boom" in html and "Local Vars" in html, "the report does not list local variables"
    return html_lib.unescape(html)


def test_an_error_report_of_the_identity_provider_page_has_no_stored_secret(
    admin_client, error_reports, monkeypatch
):
    tenant = Tenant.objects.create(name="Acme Research", company_id="c0ffee01")
    response = admin_client.post(
        reverse("sso:provider_add", args=["keycloak"]),
        {**KEYCLOAK_FORM, "client_secret": IDP_SECRET, "default_company": tenant.company_id},
    )
    assert response.status_code == 302
    monkeypatch.setattr("web.providers.views.audit_for_target", _boom)
    url = reverse("sso:provider_edit", args=["keycloak"])
    report = _report_of(admin_client, error_reports, "get", url)
    assert IDP_SECRET not in report
    # A form with an error is shown again: the stored secret and a newly typed one are in play.
    data = {
        **KEYCLOAK_FORM,
        "authorize_url": "http://sso.example.com/auth",
        "client_secret": IDP_SECRET_2,
        "version": "1",
    }
    report = _report_of_again(admin_client, "post", url, data)
    assert IDP_SECRET not in report and IDP_SECRET_2 not in report


def _report_of_again(client, method, url, data):
    from django.core import mail

    mail.outbox = []
    response = getattr(client, method)(url, data)
    assert response.status_code == 500
    return html_lib.unescape(_html_report())


def _html_report() -> str:
    from django.core import mail

    [html] = ["".join(str(a[0]) for a in m.alternatives) for m in mail.outbox if m.alternatives]
    return html


def test_an_error_report_of_the_tenant_sso_page_has_no_stored_secret(
    admin_client, error_reports, monkeypatch
):
    tenant = Tenant.objects.create(
        name="Acme Research", company_id="c0ffee01", status=Tenant.Status.ACTIVE
    )
    url = reverse("sso:tenant_sso", args=[tenant.pk])
    data = {**TENANT_SSO_FORM, "action": "save", "configuration.client_secret": TENANT_IDP_SECRET}
    assert admin_client.post(url, data).status_code == 302
    monkeypatch.setattr("web.multitenant.views.audit_for_target", _boom)
    report = _report_of(admin_client, error_reports, "get", url)
    assert TENANT_IDP_SECRET not in report


def test_an_error_report_of_a_failed_push_has_no_secret(
    admin_client, error_reports, monkeypatch, sandbox, sandbox_settings
):
    tenant = Tenant.objects.create(
        name="Acme Research", company_id="c0ffee01", status=Tenant.Status.ACTIVE
    )
    url = reverse("sso:tenant_sso", args=[tenant.pk])
    data = {**TENANT_SSO_FORM, "action": "save", "configuration.client_secret": TENANT_IDP_SECRET}
    assert admin_client.post(url, data).status_code == 302
    monkeypatch.setattr("sso.multitenant.services.audit_record", _boom)
    report = _report_of(
        admin_client, error_reports, "post", reverse("sso:tenant_sso_push", args=[tenant.pk])
    )
    assert TENANT_IDP_SECRET not in report


@pytest.mark.parametrize("page", ["apply", "credentials"])
def test_an_error_report_of_a_page_that_shows_new_credentials_has_no_secret(
    admin_client, error_reports, monkeypatch, sandbox, sandbox_settings, page
):
    from changes.tenants import tenant_apply as tenant_provision
    from tests.test_tenants_provisioning import create
    from web.tenants.views import credentials as credentials_views

    shown: list[str] = []
    real_cards = credentials_views.credential_cards

    def cards(issued):
        shown.extend(item.secret_key for item in issued)
        return real_cards(issued)

    tenant = create()
    if page == "credentials":
        tenant_provision(tenant=tenant, actor="admin")
        url, data = reverse("tenants:credentials", args=[tenant.pk]), {}
        data = {"admin": TenantAdmin.objects.get().pk}
        module = "web.tenants.views.credentials"
    else:
        url, data = reverse("tenants:apply", args=[tenant.pk]), {}
        module = "web.tenants.views.create"
    monkeypatch.setattr(f"{module}.credential_cards", cards)
    monkeypatch.setattr(f"{module}.render_page", _boom)
    report = _report_of(admin_client, error_reports, "post", url, data)
    assert len(shown) == 1, "no credentials were made"
    assert shown[0] not in report


def test_an_error_report_of_the_generated_server_secrets_has_no_secret(
    admin_client, error_reports, monkeypatch
):
    from console.security import services

    made = []
    real = services.generate_server_secrets
    monkeypatch.setattr(
        services, "generate_server_secrets", lambda **kw: made.append(real(**kw)) or made[-1]
    )
    monkeypatch.setattr("console.security.views.render", _boom)
    report = _report_of(
        admin_client,
        error_reports,
        "post",
        reverse("security_generate"),
        {"secret_name": "clearml-server-secrets", "chart_secret_name": "clearml-conf-rotated"},
    )
    [generated] = made
    for value in generated.secret_values():
        assert value not in report


def test_an_error_report_of_a_sign_in_has_no_password(client, error_reports, monkeypatch):
    from tests.conftest import TEST_ADMIN_PASSWORD

    monkeypatch.setattr("console.signin.get_user_model", _boom)
    report = _report_of(
        client,
        error_reports,
        "post",
        reverse("signin"),
        {"username": "admin", "password": TEST_ADMIN_PASSWORD},
    )
    assert TEST_ADMIN_PASSWORD not in report


@pytest.mark.parametrize("download", ["snippet", "merged values file"])
def test_an_error_report_of_a_download_with_secrets_has_no_secret(
    admin_client, error_reports, monkeypatch, download
):
    tenant = Tenant.objects.create(name="Acme Research", company_id="c0ffee01")
    response = admin_client.post(
        reverse("sso:provider_add", args=["keycloak"]),
        {**KEYCLOAK_FORM, "client_secret": IDP_SECRET, "default_company": tenant.company_id},
    )
    assert response.status_code == 302
    if download == "snippet":
        monkeypatch.setattr("console.snippets.web.HttpResponse", _boom)
        url = reverse("snippets:download", args=["idp-keycloak"]) + "?format=env"
        report = _report_of(admin_client, error_reports, "get", url)
    else:
        monkeypatch.setattr("web.groups.views.HttpResponse", _boom)
        url = reverse("tenants:groups_merge_download")
        data = {"kind": "helm", "secrets": "inline", "original": "apiserver: {}\n"}
        report = _report_of(admin_client, error_reports, "post", url, data)
    assert IDP_SECRET not in report


# --- sign-in --------------------------------------------------------------------------------------


def test_an_unknown_user_costs_the_same_bcrypt_work_as_a_wrong_password():
    """The backend hashes against a dummy for an unknown user; the dummy must be a real bcrypt
    hash of the configured cost, or bcrypt refuses it at once and the answer comes ~1000x
    faster, telling an attacker which user names exist."""
    import time

    import bcrypt

    from console.admin_password import configured_hash
    from console.signin import AdminPasswordBackend

    backend = AdminPasswordBackend()

    def seconds(username: str) -> float:
        started = time.perf_counter()
        assert backend.authenticate(None, username=username, password="not it") is None
        return time.perf_counter() - started

    seconds("nobody")  # a first call may prepare the dummy hash
    # The broken dummy answered in microseconds against ~250 ms: a loose bound keeps the test
    # steady on a busy machine and still catches that.
    unknown = min(seconds("nobody") for _ in range(3))
    wrong = min(seconds("admin") for _ in range(3))
    assert unknown > wrong * 0.2, f"unknown user {unknown * 1000:.1f} ms, wrong {wrong * 1000:.1f}"
    cost = configured_hash().split("$")[2]
    from console import signin

    dummy = signin._dummy_hash(int(cost))
    assert dummy.split("$")[2] == cost
    assert bcrypt.checkpw(b"not it", dummy.encode()) is False  # a valid hash: no ValueError


def test_signing_in_gives_a_new_session_key(client):
    from tests.conftest import TEST_ADMIN_PASSWORD

    client.get(reverse("signin"))
    session = client.session
    session["probe"] = "before sign-in"
    session.save()
    before = client.cookies["sessionid"].value
    response = client.post(
        reverse("signin"), {"username": "admin", "password": TEST_ADMIN_PASSWORD}
    )
    assert response.status_code == 302
    assert client.cookies["sessionid"].value != before


# --- the deletion runbook -------------------------------------------------------------------------
# An operator copies the runbook into a shell. Run it in bash with the real commands replaced by
# functions that record their arguments: every value must arrive intact, nothing may execute.

STUBS = r"""
record() { printf '%s\0' "$@" >> "$OUT"; printf '\n' >> "$OUT"; }
sudo() { record sudo "$@"; }
python3() { record python3 "$@"; }
rm() { record rm "$@"; }
exit() { :; }
kubectl() {
  record kubectl "$@"
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
  shift
  "$@"
}
export -f record sudo python3 rm kubectl
"""


def _run_runbook(script: str, tmp_path) -> list[list[str]]:
    import subprocess

    out = tmp_path / "calls"
    out.write_text("")
    result = subprocess.run(  # noqa: S603
        ["/bin/bash", "-c", STUBS + script],  # noqa: S607
        cwd=tmp_path,
        env={
            "OUT": str(out),
            "PATH": "/usr/bin:/bin",
            "CLEARML_ROOT": "/opt/clearml",
            "NAMESPACE": "clearml",
            "APISERVER_POD": "pod/apiserver-0",
            "FILESERVER_POD": "pod/fileserver-0",
            "HOME": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return [line.split("\0") for line in out.read_text().split("\0\n") if line]


HOSTILE_NAMES = [
    "Acme Research",
    'O\'Brien "Labs"',
    "a$(touch pwned-1)b",
    "a`touch pwned-2`b",
    "$HOME ${PATH} \\ ; | & && > pwned-3 < x * ? [a] ~ # !x",
    "it's'; touch pwned-4; echo '",
    'it\'s"; touch pwned-5; echo "',
    "Ümlaut – 研究所",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("kind", ["docker-compose", "Kubernetes"])
def test_the_deletion_runbook_passes_a_hostile_tenant_name_intact(tmp_path, name, kind):
    from tenants.runbook import docker_compose, kubernetes

    company_id = "d1bd92a3b039400cbafc60a7a5b1e52b"
    if kind == "docker-compose":
        book = docker_compose(company_id, name)
        script = book.script()
    else:
        book = kubernetes(company_id, name)
        script = "\n".join(s.commands for s in book.steps[1:])  # step 1 is filled in by hand
    calls = _run_runbook(script, tmp_path)
    assert not list(tmp_path.glob("pwned-*")), "the runbook ran a command from the name"
    mongo = [c for c in calls if c[:1] == ["python3"] and "--name" in c]
    assert len(mongo) == 1, calls
    args = mongo[0]
    assert args[args.index("--name") + 1] == name
    assert args[args.index("--id") + 1] == company_id
    removed = [c[-1] for c in calls if c[:1] == ["rm"]]
    expected = {
        "docker-compose": f"/opt/clearml/data/fileserver/{company_id}",
        "Kubernetes": f"/mnt/fileserver/{company_id}",
    }[kind]
    assert removed == [expected]


@pytest.mark.parametrize(
    "company_id",
    ["x$(touch pwned)", "a`id`b", "..", "../..", "a/b", "a b", "a;b", "", "-rf"],
)
def test_the_deletion_runbook_refuses_a_company_id_it_cannot_quote_safely(company_id):
    """`rm -rf <fileserver>/<company id>`: an id from the server that is not a plain identifier
    (a path, '..', shell syntax) must never reach the commands."""
    from tenants.runbook import UnsafeCompanyId, runbooks

    with pytest.raises(UnsafeCompanyId):
        runbooks(company_id, "Acme Research")


def test_the_delete_page_shows_no_runbook_for_an_unsafe_company_id(admin_client):
    tenant = Tenant.objects.create(
        name="Acme Research", company_id="../x$(id)", status=Tenant.Status.ACTIVE
    )
    url = reverse("tenants:delete", args=[tenant.pk])
    response = admin_client.post(url, {"step": "confirm", "confirm_name": "Acme Research"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "rm -rf" not in page and "delete_company_data_from_mongo" not in page
    assert "cannot be put into shell commands safely" in page


# --- upload and request size ----------------------------------------------------------------------
# DATA_UPLOAD_MAX_MEMORY_SIZE does not count files: without a cap of its own, Django parses a
# multipart body of any size into a temporary file before a view can look at it, and the CSRF
# check parses every POST, so even an anonymous POST to /signin/ was spooled to disk whole.


@pytest.fixture
def multipart_spy(monkeypatch):
    from django.http import multipartparser

    parsed = []
    real = multipartparser.MultiPartParser.parse

    def parse(self):
        parsed.append(self._content_length)
        return real(self)

    monkeypatch.setattr(multipartparser.MultiPartParser, "parse", parse)
    return parsed


def test_an_anonymous_post_with_a_large_body_is_refused_before_it_is_read(client, multipart_spy):
    from django.core.files.uploadedfile import SimpleUploadedFile

    big = SimpleUploadedFile("big.bin", b"x" * (2 * 1024 * 1024))
    response = client.post(reverse("signin"), {"username": "admin", "password": "x", "f": big})
    assert response.status_code == 413
    assert multipart_spy == []


def test_a_signed_in_post_over_the_limit_is_refused_before_it_is_read(
    admin_client, multipart_spy, settings
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.CONSOLE_MAX_REQUEST_BYTES = 256 * 1024
    tenant = Tenant.objects.create(name="Acme Research", company_id="c0ffee01")
    url = reverse("sso:routing_import", args=[tenant.pk])
    big = SimpleUploadedFile("emails.csv", b"a@acme.io\n" * 30_000)
    response = admin_client.post(url, {"role_mode": "users", "file": big})
    assert response.status_code == 413
    assert multipart_spy == []
    small = SimpleUploadedFile("emails.csv", b"email\nbob@gmail.com\n")
    assert admin_client.post(url, {"role_mode": "users", "file": small}).status_code != 413


@pytest.mark.parametrize("page", ["routing import", "groups merge"])
def test_an_upload_is_read_only_up_to_its_limit(admin_client, monkeypatch, page):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from console.snippets import merge
    from sso.routing import csv_import

    seen: list[int] = []

    def spy(real):
        def decode(data):
            seen.append(len(data))
            return real(data)

        return decode

    if page == "routing import":
        limit = csv_import.MAX_BYTES
        monkeypatch.setattr(csv_import, "decode_upload", spy(csv_import.decode_upload))
        tenant = Tenant.objects.create(name="Acme Research", company_id="c0ffee01")
        url, data = reverse("sso:routing_import", args=[tenant.pk]), {"role_mode": "users"}
    else:
        limit = merge.MAX_UPLOAD_BYTES
        monkeypatch.setattr(
            "web.groups.views.decode_upload", spy(merge.decode_upload), raising=True
        )
        url, data = reverse("tenants:groups_export"), {"kind": "helm"}
    data["file"] = SimpleUploadedFile("big.txt", b"#" * (limit + 512 * 1024))
    response = admin_client.post(url, data)
    assert response.status_code == 400
    assert max(seen, default=0) <= limit + 1, f"read {max(seen)} bytes for a {limit} byte limit"
    assert str(limit) in response.content.decode() or f"{limit // 2**20} MB" in (
        response.content.decode()
    )


# --- SPEC errors ----------------------------------------------------------------------------------


SPEC_WITH_A_NUMERIC_SECRET = """\
version: 1
identity_providers:
  - provider: keycloak
    base_url: https://sso.example.com/realms/acme/
    authorize_url: https://sso.example.com/realms/acme/protocol/openid-connect/auth
    access_token_url: https://sso.example.com/realms/acme/protocol/openid-connect/token
    client_id: clearml
    client_secret: 98765432101
  - provider: ldap
    server: ldaps://ldap.example.com
    base_dn: dc=example,dc=com
    dn: cn=clearml,dc=example,dc=com
    password: 31415926535
"""


@pytest.mark.parametrize("command", ["plan", "snippets"])
def test_a_spec_error_about_a_secret_does_not_print_the_secret(tmp_path, command):
    """A secret YAML reads as a number (unquoted digits) is refused: the message says to quote
    it, but must not repeat it (it lands in CI logs)."""
    from django.core.management import CommandError, call_command

    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC_WITH_A_NUMERIC_SECRET)
    args = [command, str(spec)] + (["--format", "env"] if command == "snippets" else [])
    with pytest.raises(CommandError) as info:
        call_command(*args)
    message = str(info.value)
    assert info.value.returncode == 2
    assert "identity_providers[0].client_secret: Client secret must be a string" in message
    assert "identity_providers[1].password: Admin password must be a string" in message
    assert "98765432101" not in message and "31415926535" not in message


def test_a_tenant_sso_secret_error_does_not_repeat_the_secret():
    from console.validation import InvalidInput
    from sso.multitenant.spec import tenant_sso_validate

    data = {
        "tenant": "acme-ext",
        "configuration": {
            "client_id": "acme",
            "client_secret": 27182818284,
            "authorization_endpoint": "https://kc.example/auth",
            "token_endpoint": "https://kc.example/token",
        },
    }
    with pytest.raises(InvalidInput) as info:
        tenant_sso_validate(data, "tenants[0].sso")
    text = "; ".join(str(e) for e in info.value.errors)
    assert "tenants[0].sso.configuration.client_secret: Client secret must be a string" in text
    assert "27182818284" not in text


# --- OpenID discovery -----------------------------------------------------------------------------


@pytest.fixture
def dripping_server():
    """Answers 200 with a large Content-Length, then one byte every 50 ms: no single read ever
    waits long enough for the read timeout."""
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 200000\r\n\r\n{"
                )
                try:
                    while not stop.is_set():
                        conn.sendall(b" ")
                        time.sleep(0.05)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/realms/acme"
    stop.set()
    listener.close()


def test_discovery_gives_up_on_a_server_that_drips_its_answer(dripping_server, monkeypatch):
    import threading
    import time

    from sso.providers import discovery

    monkeypatch.setattr(discovery, "TOTAL_SECONDS", 1.0)
    result: dict = {}

    def run():
        started = time.monotonic()
        try:
            discovery.fetch_discovery(dripping_server, allow_http=True, timeout=(1.0, 0.5))
        except discovery.DiscoveryError as exc:
            result["error"] = str(exc)
        result["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "the fetch was still reading after 10 s (budget: 1 s)"
    assert result["seconds"] < 3
    assert "no complete answer within 1 seconds" in result["error"]


def test_discovery_reports_a_server_that_stops_in_the_middle_of_its_answer(dripping_server):
    import time

    from sso.providers import discovery

    # The same server, read with a timeout shorter than its pauses: a read timeout in the body.
    started = time.monotonic()
    with pytest.raises(discovery.DiscoveryError, match="no answer within 0.02 seconds"):
        discovery.fetch_discovery(dripping_server, allow_http=True, timeout=(1.0, 0.02))
    assert time.monotonic() - started < 3


def test_discovery_reads_a_gzip_encoded_document():
    import gzip
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    from sso.providers.discovery import fetch_discovery

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            issuer = f"http://127.0.0.1:{self.server.server_address[1]}/realms/acme"
            body = gzip.compress(
                json.dumps(
                    {
                        "issuer": issuer,
                        "authorization_endpoint": issuer + "/auth",
                        "token_endpoint": issuer + "/token",
                    }
                ).encode()
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        issuer = f"http://127.0.0.1:{server.server_address[1]}/realms/acme"
        found = fetch_discovery(issuer, allow_http=True)
    finally:
        server.shutdown()
        server.server_close()
    assert found.endpoints["token_endpoint"] == issuer + "/token"


# --- a server that repeats the secret in its error ------------------------------------------------
# The apiserver's error messages often quote the offending field (the sandbox's do too). When a
# call that carries an IdP client secret fails, the server's words go into the step's error, the
# push error, the audit entry's `error` and its `calls`: the secret must be scrubbed from all.


def test_a_failed_push_whose_answer_repeats_the_secret_keeps_it_out_of_everything(
    admin_client, sandbox, sandbox_settings
):
    from changes.tenants import tenant_apply as tenant_provision
    from tests.test_tenants_provisioning import create

    tenant = create()
    assert tenant_provision(tenant=tenant, actor="admin").outcome.ok
    url = reverse("sso:tenant_sso", args=[tenant.pk])
    data = {**TENANT_SSO_FORM, "action": "save", "configuration.client_secret": TENANT_IDP_SECRET}
    assert admin_client.post(url, data).status_code == 302
    sandbox.fail_next(
        "sso.save_provider_configuration",
        status=400,
        message=f"Validation error: configuration.client_secret={TENANT_IDP_SECRET} rejected",
    )
    response = admin_client.post(reverse("sso:tenant_sso_push", args=[tenant.pk]), follow=True)
    assert "The push failed" in response.content.decode()
    assert TENANT_IDP_SECRET not in response.content.decode()
    assert AuditEntry.objects.filter(action="sso.tenant_config.push", outcome="failure").exists()
    for entry in AuditEntry.objects.values():
        assert TENANT_IDP_SECRET not in repr(entry), f"audit entry {entry['action']}"
    for table, text in _table_dump(SECRET_COLUMNS).items():
        assert TENANT_IDP_SECRET not in text, f"table {table}"


def test_a_failed_apply_whose_answer_repeats_the_secret_keeps_it_out_of_everything(
    sandbox, sandbox_settings, tmp_path, monkeypatch, capsys
):
    import io

    from django.core.management import CommandError, call_command

    monkeypatch.setenv("ACME_SSO_SECRET", TENANT_IDP_SECRET)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "version: 1\n"
        "tenants:\n"
        "  - name: Acme Research\n"
        "    admins: [{name: Alice Admin, email: alice@acme.io}]\n"
        "    sso:\n"
        "      tenant: acme-ext\n"
        "      configuration:\n"
        "        client_id: acme-clearml\n"
        "        client_secret: env:ACME_SSO_SECRET\n"
        "        authorization_endpoint: https://kc.example/realms/acme/auth\n"
        "        token_endpoint: https://kc.example/realms/acme/token\n"
    )
    sandbox.fail_next(
        "sso.save_provider_configuration",
        status=400,
        message=f"Validation error: configuration.client_secret={TENANT_IDP_SECRET} rejected",
    )
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("apply", str(spec), "--yes", stdout=out, stderr=err)
    assert info.value.returncode == 1
    assert "sso.save_provider_configuration" in str(info.value)
    printed = str(info.value) + out.getvalue() + err.getvalue() + "".join(capsys.readouterr())
    assert TENANT_IDP_SECRET not in printed
    for entry in AuditEntry.objects.values():
        assert TENANT_IDP_SECRET not in repr(entry), f"audit entry {entry['action']}"
    for table, text in _table_dump(SECRET_COLUMNS).items():
        assert TENANT_IDP_SECRET not in text, f"table {table}"


# --- SQL in the log -------------------------------------------------------------------------------


def test_sql_logging_does_not_write_a_stored_secret_into_the_log(admin_client, caplog):
    """With DEBUG on (the default outside production) and LOG_LEVEL=DEBUG, Django logs every SQL
    statement with its parameters, including the INSERT of a literal IdP client secret."""
    caplog.set_level(logging.DEBUG)
    connection.force_debug_cursor = True
    try:
        tenant = Tenant.objects.create(name="Acme Research", company_id="c0ffee01")
        response = admin_client.post(
            reverse("sso:provider_add", args=["keycloak"]),
            {**KEYCLOAK_FORM, "client_secret": IDP_SECRET, "default_company": tenant.company_id},
        )
    finally:
        connection.force_debug_cursor = False
    assert response.status_code == 302
    assert IdentityProvider.objects.get().secrets == {"client_secret": IDP_SECRET}
    assert IDP_SECRET not in caplog.text


def test_discovery_sends_no_credentials_even_with_a_netrc_entry(tmp_path, monkeypatch):
    """requests adds Basic credentials from ~/.netrc (or $NETRC) for a matching host: the
    discovery fetch must not hand the console host's credentials to a URL an admin typed."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    from sso.providers.discovery import fetch_discovery

    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.headers.get("Authorization"))
            issuer = f"http://127.0.0.1:{self.server.server_address[1]}/realms/acme"
            body = json.dumps(
                {
                    "issuer": issuer,
                    "authorization_endpoint": issuer + "/auth",
                    "token_endpoint": issuer + "/token",
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login deploy password hunter2-netrc\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        fetch_discovery(f"http://127.0.0.1:{server.server_address[1]}/realms/acme", allow_http=True)
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [None]


# --- audit CSV export -----------------------------------------------------------------------------


def test_the_audit_csv_export_neutralises_a_formula_in_the_changed_fields(admin_client):
    """Changed fields are the keys of an entry's before/after: a key that starts like a formula
    (a caller's data, an IdP group name at the top level) must not run in a spreadsheet."""
    import csv
    import io

    from console.audit import audit_record

    audit_record(
        actor="admin",
        action="demo.update",
        target_type="demo",
        before={"kept": 1},
        after={"kept": 1, '=HYPERLINK("http://evil.example")': "x"},
    )
    response = admin_client.get(reverse("audit:export", args=["csv"]))
    text = b"".join(response.streaming_content).decode()
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["changed_fields"] == '\'=HYPERLINK("http://evil.example")'


# --- curl commands on the plan page ---------------------------------------------------------------


CURL_STUB = r"""
curl() { for a in "$@"; do printf '%s\0' "$a"; done >> "$OUT"; printf '\n' >> "$OUT"; }
export -f curl
"""


@pytest.mark.parametrize("name", HOSTILE_NAMES[1:7])
def test_the_plan_pages_curl_commands_send_a_hostile_name_intact(admin_client, tmp_path, name):
    """Copy-pasting a plan's curl command must send exactly the body shown, nothing else."""
    import json
    import subprocess

    data = {**TENANT_FORM, "name": name, "domains": "", "whitelist_users": ""}
    response = admin_client.post(reverse("tenants:create"), data)
    assert response.status_code == 302, response.content.decode()[:1500]
    tenant = Tenant.objects.get()
    page = admin_client.get(reverse("tenants:plan", args=[tenant.pk])).content.decode()
    commands = [
        html_lib.unescape(m)
        for m in re.findall(r'<pre id="curl-\d+"><code>(.*?)</code></pre>', page, re.S)
    ]
    assert commands, "no curl command on the plan page"
    out = tmp_path / "calls"
    out.write_text("")
    result = subprocess.run(  # noqa: S603
        ["/bin/bash", "-c", CURL_STUB + "\n".join(commands)],  # noqa: S607
        cwd=tmp_path,
        env={"OUT": str(out), "PATH": "/usr/bin:/bin", "APISERVER_URL": "https://api.test"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert not list(tmp_path.glob("pwned-*")), "a curl command ran something from the name"
    calls = [line.split("\0") for line in out.read_text().split("\0\n") if line]
    create = [c for c in calls if c[-1] == "https://api.test/system.create_company"]
    assert len(create) == 1, calls
    args = create[0]
    assert json.loads(args[args.index("-d") + 1])["name"] == " ".join(name.split())


# --- apply prints the credentials it made, whatever happens next ---------------------------------


def test_apply_prints_new_credentials_even_when_a_later_step_fails(
    sandbox, sandbox_settings, tmp_path, monkeypatch
):
    """The secret of new credentials exists only in apply's output. If storing the SPEC's server
    sections fails after the tenants were applied, the credentials must still be printed: else
    a live key stays on the server that nobody can use or will think of revoking."""
    import io

    from django.core.management import CommandError, call_command

    from console.validation import FieldError, InvalidInput

    def refuse(*args, **kwargs):
        raise InvalidInput(FieldError("groups[0].name", "was taken a moment ago"))

    monkeypatch.setattr("changes.spec.run.store_server_sections", refuse)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "version: 1\n"
        "tenants:\n"
        "  - name: Acme Research\n"
        "    admins: [{name: Alice Admin, email: alice@acme.io}]\n"
        "groups:\n"
        "  - name: data_scientists\n"
        "    features: [experiments]\n"
    )
    out = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("apply", str(spec), "--yes", stdout=out, stderr=io.StringIO())
    assert info.value.returncode == 2
    printed = out.getvalue()
    assert "New credentials" in printed
    [cred] = sandbox.credentials(sandbox.user_by_email("alice@acme.io")["id"])
    assert f"access_key={cred['access_key']} secret_key=" in printed
