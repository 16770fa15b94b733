"""Tenants as code: `manage.py plan/apply/export_spec` against the sandbox apiserver."""

import io
import textwrap

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from console.audit import audit_for_target
from tenants.models import IssuedCredential, Tenant, TenantAdmin
from tests.test_tenants_provisioning import CHANGING, changing_calls

pytestmark = pytest.mark.django_db(transaction=True)

SPEC = """
version: 1
tenants:
  - name: Acme Research
    allowed_users: 10
    features: [experiments]
    exclude_features: [app_management, applications, user_management]
    admins:
      - name: Alice Admin
        email: Alice@Acme.io
    login:
      domains: [acme.io]
      whitelist:
        admins: [carol@partner.com]
        users: [bob@gmail.com]
  - name: Beta Labs
    admins:
      - {name: Ben, email: ben@beta.io, internal: false}
    login:
      domains: [beta.io]
"""


def write(tmp_path, text=SPEC, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_plan_lists_every_call_in_order_and_makes_only_read_calls(
    tmp_path, sandbox, sandbox_settings
):
    text = run("plan", write(tmp_path))
    assert sandbox.calls == ["system.get_companies"]
    order = [
        "system.create_company",
        "auth.create_user",
        "auth.create_credentials",
        "login.set_domains",
        "login.add_whitelist_entries",
    ]
    positions = [text.index(f". {e}") for e in order]
    assert positions == sorted(positions)
    assert "X-Clearml-Impersonate-As: <USER_ID of alice@acme.io>" in text
    assert '"is_admin": true' in text and "carol@partner.com" in text
    assert "10 changing call(s): 2 tenant(s) to create" in text
    assert Tenant.objects.count() == 0


def test_apply_creates_everything_and_a_second_apply_changes_nothing(
    tmp_path, sandbox, sandbox_settings
):
    spec = write(tmp_path)
    out = run("apply", spec, "--yes")
    assert "New credentials" in out
    acme = Tenant.objects.get(name="Acme Research")
    beta = Tenant.objects.get(name="Beta Labs")
    assert acme.status == beta.status == "active"
    assert sandbox.company(acme.company_id)["defaults"]["allowed_users"] == 10
    alice = sandbox.user_by_email("alice@acme.io")
    assert alice["company"] == acme.company_id and alice["internal"] is True
    assert sandbox.user_by_email("ben@beta.io")["internal"] is False
    assert sandbox.login_settings(acme.company_id) == {
        "domains": ["acme.io"],
        "whitelist": [
            {"email": "carol@partner.com", "is_admin": True},
            {"email": "bob@gmail.com", "is_admin": False},
        ],
    }
    [cred] = sandbox.credentials(alice["id"])
    assert f"access_key={cred['access_key']} secret_key=" in out
    assert len(changing_calls(sandbox)) == 10

    before = len(changing_calls(sandbox))
    again = run("apply", spec, "--yes")
    assert "Nothing to do" in again
    assert len(changing_calls(sandbox)) == before
    assert "secret_key" not in again


def test_apply_without_yes_and_without_a_terminal_refuses(tmp_path, sandbox, sandbox_settings):
    with pytest.raises(CommandError) as exc:
        run("apply", write(tmp_path))
    assert exc.value.returncode == 2
    assert "--yes" in str(exc.value)
    assert changing_calls(sandbox) == []


@pytest.mark.parametrize(
    "endpoint",
    [
        "system.create_company",
        "auth.create_user",
        "auth.create_credentials",
        "login.set_domains",
        "login.add_whitelist_entries",
    ],
)
@pytest.mark.parametrize("drop_answer", [False, True])
def test_apply_after_a_failure_part_way_finishes_without_doubles(
    tmp_path, sandbox, sandbox_settings, endpoint, drop_answer
):
    spec = write(tmp_path)
    sandbox.fail_next(endpoint, status=500, drop_answer=drop_answer, message="boom")
    with pytest.raises(CommandError) as exc:
        run("apply", spec, "--yes")
    assert exc.value.returncode == 1
    message = str(exc.value)
    assert endpoint in message
    assert "boom" in message or drop_answer
    assert "run `manage.py apply" in message

    out = run("apply", spec, "--yes")
    assert "Done" in out
    companies = sandbox.companies()
    assert sorted(c["name"] for c in companies) == ["Acme Research", "Beta Labs"]
    for email in ("alice@acme.io", "ben@beta.io"):
        user = sandbox.user_by_email(email)
        keys = [c["access_key"] for c in sandbox.credentials(user["id"])]
        # Exactly one key per admin: a key whose answer was lost has been revoked.
        assert len(keys) == 1
        assert IssuedCredential.objects.get(admin__email=email).access_key == keys[0]
    assert len(sandbox.users()) == 3  # the platform's own user and the two admins
    acme = Tenant.objects.get(name="Acme Research")
    assert sandbox.login_settings(acme.company_id)["domains"] == ["acme.io"]
    assert run("apply", spec, "--yes").startswith("Nothing to do")


def test_apply_runs_tenants_concurrently_but_each_tenants_steps_in_order(
    tmp_path, sandbox, sandbox_settings
):
    tenants = "\n".join(
        f"  - name: T{i}\n    admins: [{{name: A{i}, email: a{i}@t{i}.io}}]\n"
        f"    login: {{domains: [t{i}.io]}}"
        for i in range(12)
    )
    sandbox.latency_ms = 30
    spec = write(tmp_path, f"version: 1\ntenants:\n{tenants}\n")
    run("apply", spec, "--yes", "--concurrency", "8")
    requests = sandbox.requests
    for i in range(12):
        company = sandbox.company_by_name(f"T{i}")["id"]
        user = sandbox.user_by_email(f"a{i}@t{i}.io")["id"]
        mine = [
            r["endpoint"]
            for r in requests
            if (r["body"] or {}).get("name") == f"T{i}"
            or (r["body"] or {}).get("company") == company
            or user in (r["act_as"], r["impersonate_as"])
        ]
        assert mine == [
            "system.create_company",
            "auth.create_user",
            "auth.create_credentials",
            "login.set_domains",
        ]
    # Calls overlap, but never more than 8 tenants at a time (one call in flight per tenant).
    assert 2 <= max_in_flight(requests) <= 8


def max_in_flight(requests) -> int:
    from datetime import datetime

    events = []
    for r in requests:
        start = datetime.fromisoformat(r["time"]).timestamp() * 1000
        events += [(start, 1), (start + r["duration_ms"], -1)]
    level = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        level += delta
        peak = max(peak, level)
    return peak


def test_apply_adopts_a_company_created_outside_and_changes_only_what_differs(
    tmp_path, sandbox, sandbox_settings
):
    company = sandbox.seed_company("Acme Research", allowed_users=10, features=["experiments"])
    user = sandbox.seed_user(company, "alice@acme.io")
    spec = write(
        tmp_path,
        """
        version: 1
        tenants:
          - name: acme research
            allowed_users: 25
            admins: [{name: Alice, email: alice@acme.io}]
        """,
    )
    text = run("plan", spec)
    assert "adopt the existing company" in text
    assert "system.create_company" not in text and "auth.create_user" not in text
    run("apply", spec, "--yes")
    assert changing_calls(sandbox) == ["system.update_company_settings"]
    assert sandbox.company(company)["defaults"] == {
        "allowed_users": 25,
        "features": ["experiments"],
    }
    tenant = Tenant.objects.get()
    assert tenant.company_id == company and tenant.origin == "imported"
    assert TenantAdmin.objects.get().user_id == user
    assert audit_for_target("tenant", str(tenant.pk))
    assert run("apply", spec, "--yes").startswith("Nothing to do")


def test_export_spec_round_trips(tmp_path, sandbox, sandbox_settings):
    spec = write(tmp_path)
    run("apply", spec, "--yes")
    exported = run("export_spec")
    assert "secret" not in exported.split("\n", 2)[2]
    again = write(tmp_path, exported, "exported.yaml")
    assert run("plan", again).count("changing call(s)") == 1
    assert "0 changing call(s)" in run("plan", again)
    before = [c for c in sandbox.calls if c in CHANGING]
    assert run("apply", again, "--yes").startswith("Nothing to do")
    assert [c for c in sandbox.calls if c in CHANGING] == before


SERVER_SPEC = """
version: 1
tenants:
  - name: Acme Research
    admins: [{name: Alice, email: alice@acme.io}]
groups:
  - name: data_scientists
    display_name: Data Scientists
    features: [applications, experiments, pipelines]
builtin_groups:
  users: []
organization:
  features: [user_management_advanced]
identity_providers:
  - provider: keycloak
    base_url: https://sso.example.com/realms/acme
    authorize_url: https://sso.example.com/realms/acme/protocol/openid-connect/auth
    access_token_url: https://sso.example.com/realms/acme/protocol/openid-connect/token
    client_id: clearml
    client_secret: env:KEYCLOAK_CLIENT_SECRET
    default_company: tenant:Acme Research
multi_tenant_login:
  enabled: false
"""


def test_plan_lists_snippet_changes_and_apply_keeps_them_in_the_console(
    tmp_path, sandbox, sandbox_settings, monkeypatch
):
    monkeypatch.setenv("KEYCLOAK_CLIENT_SECRET", "kc-secret-value-123")
    spec = write(tmp_path, SERVER_SPEC)
    text = run("plan", spec)
    assert "+ CLEARML__services__auth__default_groups__data_scientists__features" in text
    assert "+ CLEARML__services__organization__features__user_management_advanced" in text
    assert "client_secret (secret; value not shown)" in text
    assert "kc-secret-value-123" not in text
    out = run("apply", spec, "--yes")
    assert "Kept in the console" in out and "manage.py snippets" in out
    assert "kc-secret-value-123" not in out
    from tenants.groups.models import CrossTenantGroup

    assert CrossTenantGroup.objects.get().name == "data_scientists"
    again = run("plan", spec)
    assert "No snippet change." in again
    assert "0 changing call(s)" in again


def test_a_tenants_sso_section_is_pushed_once(tmp_path, sandbox, sandbox_settings):
    spec = write(
        tmp_path,
        """
        version: 1
        tenants:
          - name: Acme Research
            admins: [{name: Alice, email: alice@acme.io}]
            sso:
              tenant: acme-external-id
              group_mapping: {"IdP Group": "ClearML Group"}
              admin_groups: ["IdP Admins"]
        """,
    )
    text = run("plan", spec)
    assert "system.update_company_sso_config" in text and '"company": "<COMPANY_ID>"' in text
    run("apply", spec, "--yes")
    tenant = Tenant.objects.get()
    assert sandbox.sso_config(tenant.company_id) == {
        "tenant": "acme-external-id",
        "group_mapping": {"IdP Group": "ClearML Group"},
        "admin_groups": ["IdP Admins"],
    }
    before = len(changing_calls(sandbox))
    assert run("apply", spec, "--yes").startswith("Nothing to do")
    assert len(changing_calls(sandbox)) == before
