"""Admin vaults against the real sandbox over HTTP: listing as the tenant's admin, set and delete
as audited changesets that keep only a fingerprint, each forbidden key refused (exit 2), the
user-scoped vault never deleted, and a server or an admin that cannot do it shown plainly."""

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from changes import vaults
from changes.models import Changeset
from changes.refresh import refresh_server_state
from console.audit.models import AuditEntry
from console.snapshot import queries, store
from tenants.models import Tenant, TenantAdmin
from tenants.vaults import FORBIDDEN_KEYS, VaultDocumentError, parse_vault_document

pytestmark = pytest.mark.django_db
SECRET_SETTING = "s3cr3t-storage-key-123"
DOCUMENT = f'sdk {{ aws {{ s3 {{ key: "AKIA1", secret: "{SECRET_SETTING}" }} }} }}\n'


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def acme(sandbox, sandbox_settings):
    company = sandbox.seed_company("Acme Research")
    user = sandbox.seed_user(company, "alice@acme.io")
    tenant = Tenant.objects.create(name="Acme Research", company_id=company, status="active")
    TenantAdmin.objects.create(tenant=tenant, name="Alice", email="alice@acme.io", user_id=user)
    return tenant


def server_vaults(sandbox, tenant) -> list[dict]:
    with sandbox.app.lock:
        return [
            dict(v) for v in sandbox.app.state.vaults.values() if v["company"] == tenant.company_id
        ]


def write(tmp_path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content)
    return str(path)


# -- the document --------------------------------------------------------------------------------
@pytest.mark.parametrize("key", FORBIDDEN_KEYS)
@pytest.mark.parametrize(
    ("fmt", "template"),
    [
        ("hocon", "{section} {{ {leaf}: 1 }}"),
        ("hocon", "{key}: 1"),
        ("json", '{{"{section}": {{"{leaf}": 1}}}}'),
        ("json", '{{"{key}": 1}}'),
        ("yaml", "{section}:\n  {leaf}: 1\n"),
    ],
)
def test_each_forbidden_key_is_refused_however_it_is_written(key, fmt, template):
    section, leaf = key.split(".")
    document = template.format(section=section, leaf=leaf, key=key)
    with pytest.raises(VaultDocumentError, match=re.escape(key)):
        parse_vault_document(document, fmt)


@pytest.mark.parametrize(
    ("document", "fmt", "reason"),
    [
        ("a: {", "hocon", "not valid HOCON"),
        ('include "other.conf"', "hocon", "include"),
        ("[1, 2]", "json", "not a mapping"),
        ("{", "json", "not valid JSON"),
        ("a: [", "yaml", "not valid YAML"),
        ("", "hocon", "empty"),
        ("a: 1", "toml", "Format"),
    ],
)
def test_bad_documents_are_refused_with_the_reason(document, fmt, reason):
    with pytest.raises(VaultDocumentError, match=reason):
        parse_vault_document(document, fmt)


def test_agent_settings_other_than_the_forbidden_ones_pass():
    parsed = parse_vault_document("agent { docker_force_pull: true, debug_mode: 1 }", "hocon")
    assert parsed.keys == ("agent.debug_mode", "agent.docker_force_pull")


# -- the command -------------------------------------------------------------------------------
def test_set_list_delete_with_the_command(sandbox, acme, tmp_path):
    path = write(tmp_path, "storage.conf", DOCUMENT)
    out = StringIO()
    call_command("vault", "set", "Acme Research", "--file", path, "--description", "S3", stdout=out)
    held = server_vaults(sandbox, acme)
    group = [v for v in held if v["scope"] == "group"]
    assert len(group) == 1 and group[0]["data"] == DOCUMENT and group[0]["description"] == "S3"
    logins = [r for r in sandbox.requests if r["endpoint"] == "auth.login"]
    assert logins and all(r["impersonate_as"] == acme.first_admin().user_id for r in logins)

    changeset = Changeset.objects.get(kind="vault.set")
    entries = AuditEntry.objects.filter(changeset=str(changeset.pk))
    assert [e.outcome for e in entries.order_by("seq")] == ["pending", "success"]
    stored = json.dumps(
        [list(entries.values("before", "after", "calls")), list(changeset.steps.values())],
        default=str,
    )
    assert SECRET_SETTING not in stored and "fingerprint" in stored

    # the same description again updates that vault
    write(tmp_path, "storage.conf", DOCUMENT.replace("AKIA1", "AKIA2"))
    call_command("vault", "set", "Acme Research", "--file", path, "--description", "S3", stdout=out)
    assert len([v for v in server_vaults(sandbox, acme) if v["scope"] == "group"]) == 1

    out = StringIO()
    call_command("vault", "list", "Acme Research", "--json", stdout=out)
    listed = json.loads(out.getvalue())
    assert [v["description"] for v in listed] == ["S3"]
    assert SECRET_SETTING not in out.getvalue() and listed[0]["fingerprint"]

    user_vault = next(v for v in server_vaults(sandbox, acme) if v["scope"] == "user")
    with pytest.raises(CommandError) as refused:
        call_command("vault", "delete", "Acme Research", user_vault["id"])
    assert refused.value.returncode == 2 and "user-scoped" in str(refused.value)

    call_command("vault", "delete", "Acme Research", listed[0]["id"], stdout=StringIO())
    assert [v["scope"] for v in server_vaults(sandbox, acme)] == ["user"]
    assert Changeset.objects.get(kind="vault.delete").steps.get().risky


def test_a_forbidden_key_exits_2_naming_it_and_sends_nothing(sandbox, acme, tmp_path):
    path = write(tmp_path, "bad.yaml", "agent:\n  worker_id: gpu-1\n")
    with pytest.raises(CommandError) as refused:
        call_command("vault", "set", "Acme Research", "--file", path)
    assert refused.value.returncode == 2 and "agent.worker_id" in str(refused.value)
    assert "users.add_or_update_vault" not in sandbox.calls


def test_a_server_without_vaults_and_an_admin_who_cannot_sign_in_exit_1(sandbox, acme, tmp_path):
    sandbox.fail_next("users.get_vaults", status=404, message="endpoint not found")
    with pytest.raises(CommandError) as missing:
        call_command("vault", "list", "Acme Research")
    assert missing.value.returncode == 1 and "no administrator vaults" in str(missing.value)

    sandbox.fail_next("auth.login", status=401, message="invalid credentials")
    with pytest.raises(CommandError) as login:
        call_command("vault", "list", "Acme Research")
    assert login.value.returncode == 1 and "cannot sign in" in str(login.value)
    assert "--credentials-from" in str(login.value)


def test_credentials_from_a_file_sign_in_as_that_admin(sandbox, acme, tmp_path):
    key, secret = sandbox.seed_credentials(acme.first_admin().user_id)
    path = write(
        tmp_path,
        "creds.txt",
        f"tenant=Acme Research\temail=alice@acme.io\taccess_key={key}\tsecret_key={secret}\n",
    )
    call_command("vault", "list", "Acme Research", "--credentials-from", path, stdout=StringIO())
    login = next(r for r in sandbox.requests if r["endpoint"] == "auth.login")
    assert login["impersonate_as"] in ("", None)


# -- the refresh and the page ----------------------------------------------------------------------
def test_the_refresh_keeps_summaries_and_the_page_masks_contents(sandbox, acme, admin_client):
    document = parse_vault_document(DOCUMENT, "hocon")
    vaults.vault_set(tenant=acme, document=document, description="S3", actor="ops")
    assert refresh_server_state().ok
    row = queries.row(store.VAULTS, acme.company_id)
    assert [v["description"] for v in row.data["vaults"] if v["scope"] == "group"] == ["S3"]
    assert SECRET_SETTING not in json.dumps(row.data)

    page = admin_client.get(reverse("vaults:tenant", args=[acme.pk]))
    assert page.status_code == 200
    body = text(page)
    assert "S3" in body and SECRET_SETTING not in body and document.fingerprint in body


def test_a_tenant_without_vault_calls_is_shown_plainly(sandbox, acme, admin_client):
    sandbox.fail_next("users.get_vaults", status=404, message="endpoint not found")
    assert refresh_server_state().ok  # not a failure of the refresh
    body = text(admin_client.get(reverse("vaults:list")))
    assert "Acme Research" in body and "no administrator vaults" in body.lower()


def test_showing_a_vaults_content_needs_a_recent_sign_in_and_is_audited(
    sandbox, acme, admin_client
):
    import time

    from console.accounts.sessions import SIGNED_IN_AT

    change = vaults.vault_set(
        tenant=acme, document=parse_vault_document(DOCUMENT, "hocon"), description="S3", actor="o"
    )
    url = reverse("vaults:reveal", args=[acme.pk, change.vault_id])
    session = admin_client.session
    session[SIGNED_IN_AT] = time.time() - 24 * 3600
    session.save()
    stale = admin_client.post(url)
    assert stale.status_code == 302 and "reauth" in stale["Location"]

    session = admin_client.session
    session[SIGNED_IN_AT] = time.time()
    session.save()
    shown = admin_client.post(url)
    assert shown.status_code == 200 and SECRET_SETTING in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    entry = AuditEntry.objects.get(action="vault.reveal")
    assert SECRET_SETTING not in json.dumps(entry.after) and entry.after["fingerprint"]


def test_a_template_sets_one_vault_on_many_tenants_as_one_changeset(sandbox, acme, tmp_path):
    others = []
    for name in ("Beta Labs", "Gamma Inc"):
        company = sandbox.seed_company(name)
        user = sandbox.seed_user(company, f"admin@{name.split()[0].lower()}.io")
        tenant = Tenant.objects.create(name=name, company_id=company, status="active")
        TenantAdmin.objects.create(tenant=tenant, name="A", email=f"a@{company}.io", user_id=user)
        others.append(tenant)
    lonely = Tenant.objects.create(
        name="No Admin", company_id=sandbox.seed_company("No Admin"), status="active"
    )
    path = write(tmp_path, "shared.conf", DOCUMENT)
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as partly:
        call_command(
            "vault",
            "template",
            "--all",
            "--file",
            path,
            "--description",
            "shared",
            stdout=out,
            stderr=err,
        )
    assert partly.value.returncode == 1 and "No Admin" in err.getvalue()
    changeset = Changeset.objects.get(kind="vault.template")
    assert changeset.steps.count() == 3 and changeset.status == "applied"
    for tenant in (acme, *others):
        group = [v for v in server_vaults(sandbox, tenant) if v["scope"] == "group"]
        assert [v["description"] for v in group] == ["shared"] and group[0]["data"] == DOCUMENT
    assert server_vaults(sandbox, lonely) == []
    stored = json.dumps(list(changeset.steps.values("before", "after", "call")), default=str)
    assert SECRET_SETTING not in stored

    # again: each tenant's vault is updated, not duplicated
    call_command(
        "vault",
        "template",
        "--tenant",
        "Beta Labs",
        "--file",
        path,
        "--description",
        "shared",
        stdout=StringIO(),
    )
    assert len([v for v in server_vaults(sandbox, others[0]) if v["scope"] == "group"]) == 1


def test_the_template_form_sets_the_vault_on_the_named_tenants(sandbox, acme, admin_client):
    answer = admin_client.post(
        reverse("vaults:template"),
        {
            "tenants": "acme research\n",
            "description": "shared",
            "format": "json",
            "document": '{"sdk": {"development": {"default_output_uri": "s3://bucket"}}}',
        },
        follow=True,
    )
    assert "Saved on 1 tenant(s)" in text(answer)
    assert [v["description"] for v in server_vaults(sandbox, acme) if v["scope"] == "group"] == [
        "shared"
    ]
    refused = admin_client.post(
        reverse("vaults:template"),
        {
            "tenants": "Acme Research",
            "description": "x",
            "format": "json",
            "document": '{"agent": {"debug": true}}',
        },
        follow=True,
    )
    assert "agent.debug" in text(refused)
