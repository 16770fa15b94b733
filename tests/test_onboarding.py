"""The tenant onboarding kit: `manage.py onboarding`, the tenant's kit page, and the kit shown once
with new credentials. Manifests are checked with kubernetes-validate (Kubernetes 1.31)."""

import html
import json
import logging
import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.core.management import CommandError, call_command
from django.urls import reverse

from console.audit.models import AuditEntry
from tenants.models import Tenant, TenantAdmin
from tenants.onboarding import (
    DNS_LABEL,
    SECRET_NAME,
    name_slug,
    namespace_base,
    onboarding_kit,
    tenant_namespace,
)
from tests.test_tenants_pages import form_data
from tests.test_tenants_provisioning import create, tenant_provision

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
K8S_VERSION = "1.31.0"


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("onboarding", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def documents(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def validate_manifests(docs: list[dict]) -> list[str]:
    """Each manifest checked against the Kubernetes 1.31 schemas (strict: no unknown field)."""
    kinds = []
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        kinds.append(doc["kind"])
    return kinds


@pytest.fixture
def urls(settings):
    settings.CLEARML_API_URL = "https://api.example.com"
    settings.CLEARML_WEBAPP_URL = "https://app.example.com"
    settings.CLEARML_FILES_URL = "https://files.example.com"
    settings.CLEARML_APPS_QUEUE_MODE = "global"
    settings.ONBOARDING_SERVER_CIDRS = []
    settings.ONBOARDING_SERVER_NAMESPACE = ""
    settings.ONBOARDING_INGRESS_NAMESPACE = ""
    settings.ONBOARDING_APP_GATEWAY_DOMAIN = ""
    return settings


def active(name="Acme Research", company_id="c0ffee01", **extra) -> Tenant:
    return Tenant.objects.create(
        name=name, company_id=company_id, status=Tenant.Status.ACTIVE, **extra
    )


def credentials_file(tmp_path, *lines) -> str:
    path = tmp_path / "credentials.txt"
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def line(tenant="Acme Research", email="alice@acme.io", key="AKEY1", secret="s3cret-value"):  # noqa: S107
    return f"tenant={tenant}\temail={email}\taccess_key={key}\tsecret_key={secret}"


# -- the namespace -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,expected",
    [
        ("Acme Research", "clearml-acme-research"),
        ("  ACME -- Research!! ", "clearml-acme-research"),
        ("Café Ünïcode GmbH", "clearml-cafe-unicode-gmbh"),
        ("R&D 2024", "clearml-r-d-2024"),
        ("株式会社", "clearml-tenant-7"),
    ],
)
def test_the_namespace_is_a_dns_label_made_from_the_name(name, expected):
    assert namespace_base(7, name) == expected
    assert DNS_LABEL.match(expected)


def test_a_long_name_is_cut_to_63_characters_without_a_trailing_dash():
    name = "a" * 54 + " b" * 40
    base = namespace_base(1, name)
    assert len(base) <= 63 and DNS_LABEL.match(base) and not base.endswith("-")
    assert name_slug("--x--") == "x"


def test_names_that_give_the_same_label_get_the_later_tenants_id_and_say_why():
    first = active("Acme Research", "c1")
    second = active("acme_research", "c2")
    third = active("ACME  research.", "c3", deleted_at=None)
    assert tenant_namespace(first).name == "clearml-acme-research"
    assert tenant_namespace(first).note == ""
    namespace = tenant_namespace(second)
    assert namespace.name == f"clearml-acme-research-{second.pk}"
    assert "Acme Research" in namespace.note and f"-{second.pk}" in namespace.note
    assert tenant_namespace(third).name == f"clearml-acme-research-{third.pk}"


def test_a_deleted_tenant_keeps_its_namespace_from_a_new_tenant_of_the_same_name():
    from django.utils import timezone

    old = active("Acme Research", "c1", deleted_at=timezone.now())
    new = active("Acme Research", "c2")
    assert tenant_namespace(new).name == f"clearml-acme-research-{new.pk}"
    assert str(old.pk) in tenant_namespace(new).note


def test_a_suffix_that_another_tenant_already_has_is_not_reused():
    first = active("Acme", "c1")
    # "Acme <id>" has the base a second "acme" would get with its id appended.
    taken = active(f"Acme {first.pk + 2}", "c2")
    clash = active("Acme!", "c3")
    assert clash.pk == first.pk + 2
    assert tenant_namespace(taken).name == f"clearml-acme-{clash.pk}"
    assert tenant_namespace(clash).name == f"clearml-acme-{clash.pk}-2"
    assert tenant_namespace(first).name == "clearml-acme"


# -- the command ---------------------------------------------------------------------------------
def test_the_command_prints_agent_values_then_valid_manifests_then_app_gateway_values(urls):
    tenant = active()
    out, err = run("acme research")
    docs = documents(out)
    assert len(docs) == 5
    agent, manifests, gateway = docs[0], docs[1:4], docs[4]
    assert agent["clearml"] == {"existingAgentk8sglueSecret": SECRET_NAME}
    glue = agent["agentk8sglue"]
    assert glue["apiServerUrlReference"] == "https://api.example.com"
    assert glue["webServerUrlReference"] == "https://app.example.com"
    assert glue["fileServerUrlReference"] == "https://files.example.com"
    assert glue["createQueues"] is True and list(glue["queues"]) == ["default"]
    assert "appsQueue" not in glue
    assert validate_manifests(manifests) == ["Namespace", "NetworkPolicy", "Secret"]
    namespace, policy, secret = manifests
    assert namespace["metadata"]["name"] == "clearml-acme-research"
    assert namespace["metadata"]["annotations"]["clearml.ai/company-id"] == "c0ffee01"
    assert policy["metadata"]["namespace"] == secret["metadata"]["namespace"]
    assert secret["metadata"]["name"] == SECRET_NAME
    assert secret["stringData"] == {"agentk8sglue_key": "", "agentk8sglue_secret": ""}
    assert gateway["clearml"]["apiServerUrlReference"] == "https://api.example.com"
    assert gateway["clearml"]["apiKey"] == "" and gateway["clearml"]["apiSecret"] == ""
    assert gateway["ingress"] == {
        "enabled": True,
        "hostName": "acme-research.gateway.example.com",
    }
    assert "ONBOARDING_INGRESS_NAMESPACE" in err
    # By id, the same kit.
    assert run(str(tenant.pk))[0] == out


def test_the_network_policy_isolates_the_namespace(urls):
    active()
    policy = documents(run("Acme Research")[0])[2]["spec"]
    assert policy["podSelector"] == {} and policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [{"from": [{"podSelector": {}}]}]
    egress = policy["egress"]
    assert egress[0] == {"to": [{"podSelector": {}}]}
    dns = egress[1]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    assert egress[2] == {"ports": [{"protocol": "TCP", "port": 443}]}


def test_settings_narrow_the_network_policy_and_enable_the_apps_queue(urls):
    urls.CLEARML_API_URL = "https://api.example.com:8443"
    urls.CLEARML_FILES_URL = "http://files.example.com"
    urls.CLEARML_APPS_QUEUE_MODE = "per_tenant"
    urls.ONBOARDING_SERVER_CIDRS = ["10.20.0.0/16", "192.0.2.10/32"]
    urls.ONBOARDING_SERVER_NAMESPACE = "clearml"
    urls.ONBOARDING_INGRESS_NAMESPACE = "ingress-nginx"
    urls.ONBOARDING_APP_GATEWAY_DOMAIN = "apps.example.org"
    active()
    out, err = run("Acme Research")
    docs = documents(out)
    assert docs[0]["agentk8sglue"]["appsQueue"] == {"enabled": True}
    validate_manifests(docs[1:4])
    spec = docs[2]["spec"]
    by_name = {"kubernetes.io/metadata.name": "ingress-nginx"}
    assert spec["ingress"][0]["from"][1] == {"namespaceSelector": {"matchLabels": by_name}}
    server_ns, cidrs = spec["egress"][2], spec["egress"][3]
    assert server_ns == {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "clearml"}}}]
    }
    assert [t["ipBlock"]["cidr"] for t in cidrs["to"]] == ["10.20.0.0/16", "192.0.2.10/32"]
    assert sorted(p["port"] for p in cidrs["ports"]) == [80, 443, 8443]
    assert docs[4]["ingress"]["hostName"] == "acme-research.apps.example.org"
    assert "ONBOARDING_INGRESS_NAMESPACE" not in err


def test_credentials_from_a_file_fill_the_secret(urls, tmp_path):
    active()
    active("Beta", "c0ffee02")
    path = credentials_file(
        tmp_path,
        line(tenant="Beta", key="BKEY", secret="beta-secret"),
        line(tenant="ACME RESEARCH"),
        line(email="carol@acme.io", key="AKEY2", secret="other"),
    )
    out, err = run("Acme Research", "--credentials-from", path)
    secret = documents(out)[3]
    validate_manifests([secret])
    assert secret["stringData"] == {
        "agentk8sglue_key": "AKEY1",
        "agentk8sglue_secret": "s3cret-value",
    }
    assert secret["metadata"]["annotations"] == {"clearml.ai/admin-email": "alice@acme.io"}
    assert "2 credential pairs" in err and "line 2" in err
    assert "s3cret-value" not in err and "other" not in err
    only, _ = run("Acme Research", "--credentials-from", path, "--only", "manifests")
    assert [d["kind"] for d in documents(only)] == ["Namespace", "NetworkPolicy", "Secret"]


def test_a_credentials_file_apply_wrote_is_read(urls, tmp_path, sandbox, sandbox_settings):
    """The file format of `apply --credentials-out` (CredentialsPrinter), written for real."""
    from changes.spec.credentials_out import CredentialsPrinter, open_credentials_file
    from tenants.provisioning.engine import IssuedSecret, RunOutcome

    tenant = active()
    path = tmp_path / "out.txt"
    printer = CredentialsPrinter(StringIO(), open_credentials_file(str(path)))
    outcome = RunOutcome(tenant_id=tenant.pk, tenant_name=tenant.name, ok=True)
    printer(outcome, IssuedSecret("alice@acme.io", "KEYFROMAPPLY", "secret-from-apply"))
    printer.close()
    out, _ = run(str(tenant.pk), "--credentials-from", str(path))
    assert documents(out)[3]["stringData"]["agentk8sglue_secret"] == "secret-from-apply"


@pytest.mark.parametrize(
    "content,message",
    [
        ("tenant=Acme Research email=a@acme.io access_key=K secret_key=S\n", "line 1: no email"),
        (line() + "\nthis is not a credentials line\n", "line 2: expected"),
        ("\n" + line(secret="") + "\n", "line 2: no secret_key"),
        (line(key="A KEY") + "\n", "line 1: a key or secret with white space"),
        (line() + "\tsecret_key=again\n", "line 1: expected"),
        (line(tenant="Beta") + "\n", "has no credentials of tenant 'Acme Research'"),
        ("", "has no credentials of tenant 'Acme Research' (tenants in it: none)"),
    ],
)
def test_a_bad_credentials_file_exits_2_naming_the_line(urls, tmp_path, content, message):
    active()
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(CommandError) as exc:
        run("Acme Research", "--credentials-from", str(path))
    assert exc.value.returncode == 2
    assert message in str(exc.value)
    assert "s3cret-value" not in str(exc.value)


def test_unknown_tenants_missing_files_and_tenants_without_a_company_exit_2(urls, tmp_path):
    from django.utils import timezone

    planned = Tenant.objects.create(name="Planned")
    gone = active("Gone", "c0ffee09", deleted_at=timezone.now())
    cases = [
        (("nobody",), "no tenant 'nobody'"),
        (("999999",), "no tenant '999999'"),
        (("Planned",), "no company on the apiserver yet"),
        ((str(planned.pk),), "no company on the apiserver yet"),
        ((str(gone.pk),), "marked as deleted"),
        (("Gone",), "no tenant 'Gone'"),
    ]
    active()
    cases.append((("Acme Research", "--credentials-from", str(tmp_path / "nope")), "nope: No such"))
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00")
    cases.append((("Acme Research", "--credentials-from", str(tmp_path / "binary")), "UTF-8"))
    for args, message in cases:
        with pytest.raises(CommandError) as exc:
            run(*args)
        assert exc.value.returncode == 2, args
        assert message in str(exc.value), (args, str(exc.value))


def test_the_command_never_prints_a_traceback(tmp_path):
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    migrate = [sys.executable, "manage.py", "migrate", "-v", "0"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True, timeout=300)
    for args in (["nobody"], ["42", "--credentials-from", str(tmp_path / "missing")]):
        done = subprocess.run(
            [sys.executable, "manage.py", "onboarding", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert "no tenant" in done.stderr


# -- the page ------------------------------------------------------------------------------------
def test_the_kit_page_reads_the_database_only(admin_client, urls, sandbox, sandbox_settings):
    sandbox_settings.ONBOARDING_APP_GATEWAY_DOMAIN = "gateway.example.com"
    tenant = active()
    calls = len(sandbox.calls)
    url = reverse("tenants:onboarding", args=[tenant.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "clearml-acme-research" in text and "existingAgentk8sglueSecret" in text
    assert 'aria-current="page">Agent values' in text
    manifests = admin_client.get(url, {"part": "manifests"}).content.decode()
    assert "kind: NetworkPolicy" in manifests
    fragment = admin_client.get(url, {"part": "gateway"}, headers={"HX-Request": "true"})
    assert "<html" not in fragment.content.decode()
    assert "hostName: acme-research.gateway.example.com" in fragment.content.decode()
    install = admin_client.get(url, {"part": "install"}).content.decode()
    assert "helm upgrade -i -n" in html.unescape(install)
    assert f"apiServerUrlReference: {sandbox.url}" in text
    assert len(sandbox.calls) == calls  # no apiserver call


def test_the_kit_downloads_are_the_commands_output(admin_client, urls):
    tenant = active()
    url = reverse("tenants:onboarding_download", args=[tenant.pk])
    whole = admin_client.get(url, {"part": "all"})
    assert whole.status_code == 200
    assert 'filename="clearml-acme-research.onboarding.yaml"' in whole["Content-Disposition"]
    assert whole.content.decode() == run("Acme Research")[0]
    part = admin_client.get(url, {"part": "manifests"})
    kinds = validate_manifests(documents(part.content.decode()))
    assert kinds == ["Namespace", "NetworkPolicy", "Secret"]
    assert 'filename="manifests.yaml"' in part["Content-Disposition"]
    assert admin_client.get(url, {"part": "nonsense"}).status_code == 400


def test_a_tenant_without_a_company_has_no_kit(admin_client, urls):
    tenant = Tenant.objects.create(name="Planned")
    page = admin_client.get(reverse("tenants:onboarding", args=[tenant.pk])).content.decode()
    assert "No kit for this tenant" in page and "apply its plan first" in page
    download = reverse("tenants:onboarding_download", args=[tenant.pk])
    assert admin_client.get(download).status_code == 409


def test_the_tenant_page_links_the_kit(admin_client, urls):
    tenant = active()
    page = admin_client.get(reverse("tenants:detail", args=[tenant.pk])).content.decode()
    assert reverse("tenants:onboarding", args=[tenant.pk]) in page


# -- the kit with new credentials, shown once ----------------------------------------------------
def _kit_secret(page: str) -> tuple[str, str]:
    """The key and secret of the kit's Secret on a page that shows it once."""
    match = re.search(r'id="cred1-kit-manifests"><code>(.*?)</code>', page, re.S)
    docs = documents(html.unescape(match.group(1)))
    validate_manifests(docs)
    data = docs[2]["stringData"]
    return data["agentk8sglue_key"], data["agentk8sglue_secret"]


def _secret_never_kept(admin_client, tenant, secret: str, caplog) -> None:
    for entry in AuditEntry.objects.all():
        dumped = json.dumps(
            [entry.before, entry.after, entry.calls, entry.error, entry.search_text], default=str
        )
        assert secret not in dumped
    for url in [
        reverse("tenants:detail", args=[tenant.pk]),
        reverse("tenants:onboarding", args=[tenant.pk]),
        reverse("tenants:onboarding_download", args=[tenant.pk]) + "?part=all",
        reverse("tenants:plan", args=[tenant.pk]),
        reverse("audit:list"),
        reverse("changes:list"),
    ]:
        assert secret not in admin_client.get(url).content.decode(), url
    assert secret not in str(dict(admin_client.session))
    assert secret not in caplog.text


def test_applying_shows_the_kit_with_the_new_credentials_once(
    admin_client, urls, sandbox, sandbox_settings, caplog
):
    caplog.set_level(logging.DEBUG)
    admin_client.post(reverse("tenants:create"), form_data())
    tenant = Tenant.objects.get()
    response = admin_client.post(reverse("tenants:apply", args=[tenant.pk]))
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    shown_secret = re.search(r'id="cred1-secret">([^<]+)<', page).group(1)
    key, secret = _kit_secret(page)
    assert secret == shown_secret and key in page
    assert "Onboarding kit with these credentials" in page
    assert 'download="clearml-acme-research.onboarding.yaml"' in page
    # The download link carries the whole kit (no later request could fetch the secret).
    href = re.search(r'href="(data:application/yaml[^"]+)"', page).group(1)
    assert secret in html.unescape(href)
    _secret_never_kept(admin_client, tenant, secret, caplog)


def test_new_credentials_show_the_kit_once(admin_client, urls, sandbox, sandbox_settings, caplog):
    caplog.set_level(logging.DEBUG)
    tenant = create()
    tenant_provision(tenant=tenant, actor="admin")
    admin = TenantAdmin.objects.get()
    response = admin_client.post(
        reverse("tenants:credentials", args=[tenant.pk]), {"admin": admin.pk}
    )
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    key, secret = _kit_secret(page)
    assert key == admin.credentials.order_by("-pk").first().access_key
    assert secret == re.search(r'id="cred1-secret">([^<]+)<', page).group(1)
    _secret_never_kept(admin_client, tenant, secret, caplog)


def test_the_kit_object_needs_a_company():
    from tenants.onboarding import KitError

    with pytest.raises(KitError):
        onboarding_kit(Tenant.objects.create(name="Planned"))
