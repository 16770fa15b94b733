"""Partial SPECs, removals and `--prune`, and the export_spec → plan round trip.

Against the sandbox apiserver over HTTP and the real database: a section the SPEC leaves out is
left as it is; an item a present section no longer lists is a removal, shown by `plan` and made
by `apply` only with `--prune` (without it, apply keeps it and says so).
"""

import io
import textwrap

import pytest
import yaml
from django.core.management import call_command

from changes.management.commands._spec_command import make_plan, read_spec
from changes.spec.plan import Removal
from changes.spec.server_config import snippet_diff, store_server_sections
from sso.models import LoginDomain, WhitelistEntry
from sso.multitenant.services import mtl_update
from sso.providers.models import IdentityProvider
from tenants.groups.models import CrossTenantGroup
from tenants.groups.services import group_create, organization_update
from tenants.models import Tenant
from tests.test_tenants_provisioning import changing_calls

pytestmark = pytest.mark.django_db(transaction=True)

KEYCLOAK = """
  - provider: keycloak
    base_url: https://sso.example.com/realms/acme
    authorize_url: https://sso.example.com/realms/acme/protocol/openid-connect/auth
    access_token_url: https://sso.example.com/realms/acme/protocol/openid-connect/token
    client_id: clearml
    client_secret: env:KEYCLOAK_CLIENT_SECRET
    default_company: tenant:Acme Research
"""
AUTH0 = """
  - provider: auth0
    base_url: https://acme.eu.auth0.com/
    authorize_url: https://acme.eu.auth0.com/authorize
    access_token_url: https://acme.eu.auth0.com/oauth/token
    client_id: clearml
    client_secret: env:AUTH0_CLIENT_SECRET
"""
ACME = """
version: 1
tenants:
  - name: Acme Research
    admins: [{name: Alice, email: alice@acme.io}]
    login:
      domains: [acme.io, acme-research.com]
      whitelist:
        admins: [carol@partner.com]
        users: [bob@gmail.com, dan@gmail.com]
"""
FULL = (
    ACME
    + """
groups:
  - name: data_scientists
    display_name: Data Scientists
    features: [applications, experiments]
  - name: reviewers
    features: [experiments]
    assignable: true
identity_providers:
"""
    + KEYCLOAK
    + AUTH0
)


def write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def secrets(monkeypatch):
    monkeypatch.setenv("KEYCLOAK_CLIENT_SECRET", "kc-secret-value-123")
    monkeypatch.setenv("AUTH0_CLIENT_SECRET", "a0-secret-value-456")


@pytest.fixture
def full(tmp_path, sandbox, sandbox_settings, secrets):
    """The console and the sandbox after `apply` of FULL: one tenant with routing, two groups,
    two identity providers."""
    run("apply", write(tmp_path, FULL, "full.yaml"), "--yes")
    assert CrossTenantGroup.objects.count() == 2 and IdentityProvider.objects.count() == 2
    return Tenant.objects.get(name="Acme Research")


def plan_of(tmp_path, text, *, prune=False, name="spec.yaml"):
    return make_plan(
        read_spec(write(tmp_path, text, name)), concurrency=4, resolve_secrets=False, prune=prune
    )


def console_domains(tenant) -> list[str]:
    return sorted(LoginDomain.objects.filter(tenant=tenant).values_list("domain", flat=True))


def console_whitelist(tenant) -> dict[str, bool]:
    return dict(WhitelistEntry.objects.filter(tenant=tenant).values_list("email", "is_admin"))


def server_routing(sandbox, tenant) -> tuple[list[str], dict[str, bool]]:
    data = sandbox.login_settings(tenant.company_id)
    return sorted(data["domains"]), {w["email"]: w["is_admin"] for w in data["whitelist"]}


# --- sections left out are left alone -------------------------------------------------------------


def test_a_spec_without_groups_or_providers_keeps_them(tmp_path, full, sandbox):
    text = """
    version: 1
    tenants:
      - name: Acme Research
        admins: [{name: Alice, email: alice@acme.io}]
    builtin_groups:
      users: [experiments]
    """
    plan = plan_of(tmp_path, text)
    assert plan.removals == []
    assert plan.call_count == 0
    assert plan.snippets.removed == [] and plan.snippets.kept == []
    before = len(changing_calls(sandbox))
    out = run("apply", write(tmp_path, text), "--yes", "--prune")
    assert "Kept (not in the SPEC" not in out
    assert sorted(CrossTenantGroup.objects.values_list("name", flat=True)) == [
        "data_scientists",
        "reviewers",
    ]
    assert sorted(IdentityProvider.objects.values_list("provider", flat=True)) == [
        "auth0",
        "keycloak",
    ]
    # The tenant gives no `login`: its routing stays, in the console and on the server.
    assert console_domains(full) == ["acme-research.com", "acme.io"]
    assert server_routing(sandbox, full)[0] == ["acme-research.com", "acme.io"]
    assert len(changing_calls(sandbox)) == before


def test_built_in_groups_a_spec_does_not_name_are_not_removals(tmp_path, sandbox, sandbox_settings):
    run("apply", write(tmp_path, "version: 1\nbuiltin_groups:\n  admins: [experiments]\n"), "--yes")
    plan = plan_of(tmp_path, "version: 1\nbuiltin_groups:\n  users: [experiments]\n")
    assert plan.snippets.removed == []
    assert plan.snippets.added == ["CLEARML__services__auth__default_groups__users__features"]


# --- groups ---------------------------------------------------------------------------------------


def test_a_group_the_spec_lacks_is_kept_without_prune_and_deleted_with_it(tmp_path, full, sandbox):
    text = FULL.replace(
        "  - name: reviewers\n    features: [experiments]\n    assignable: true\n", ""
    )
    spec = write(tmp_path, text, "fewer.yaml")
    [group_id] = CrossTenantGroup.objects.filter(name="reviewers").values_list(
        "group_id", flat=True
    )

    plan = plan_of(tmp_path, text)
    assert plan.removals == [Removal("group.delete", "group:reviewers", str(group_id), False)]
    assert plan.snippets.removed == []
    assert "CLEARML__services__auth__default_groups__reviewers__features" in plan.snippets.kept
    text_plan = run("plan", spec)
    assert (
        f"kept: cross-tenant group reviewers (id {group_id}) (not in the SPEC; --prune removes it)"
        in text_plan
    )
    assert "kept (use --prune to remove)" in text_plan
    assert "- CLEARML__services__auth__default_groups__reviewers" not in text_plan

    pruned = run("plan", spec, "--prune")
    assert f"- remove cross-tenant group reviewers (id {group_id}) (with --prune)" in pruned
    assert "  - CLEARML__services__auth__default_groups__reviewers__features" in pruned

    out = run("apply", spec, "--yes")
    assert "Kept (not in the SPEC; apply with --prune to remove):" in out
    assert "reviewers" in out.split("Kept (not in the SPEC")[1]
    assert CrossTenantGroup.objects.filter(name="reviewers").exists()

    out = run("apply", spec, "--yes", "--prune")
    assert not CrossTenantGroup.objects.filter(name="reviewers").exists()
    assert CrossTenantGroup.objects.filter(name="data_scientists").exists()
    assert "Kept (not in the SPEC" not in out
    assert plan_of(tmp_path, text, name="again.yaml").removals == []


def test_store_server_sections_reports_what_it_kept_and_what_it_removed(tmp_path, full):
    model = read_spec(write(tmp_path, "version: 1\ngroups: []\n"))
    kept = store_server_sections(model, actor="test")
    assert [r.target for r in kept.kept] == ["group:data_scientists", "group:reviewers"]
    assert kept.removed == [] and "2 kept (not in the SPEC)" in kept[0]
    assert CrossTenantGroup.objects.count() == 2
    diff = snippet_diff(model)
    assert diff.removed == [] and len(diff.kept) == 10
    assert len(snippet_diff(model, prune=True).removed) == 10

    pruned = store_server_sections(model, actor="test", prune=True)
    assert [r.target for r in pruned.removed] == ["group:data_scientists", "group:reviewers"]
    assert all(r.applied for r in pruned.removed) and pruned.kept == []
    assert "2 removed" in pruned[0]
    assert CrossTenantGroup.objects.count() == 0


# --- identity providers ---------------------------------------------------------------------------


def test_a_provider_the_spec_lacks_is_kept_without_prune_and_deleted_with_it(
    tmp_path, full, sandbox
):
    text = FULL.replace(AUTH0, "\n")
    assert "auth0" not in text
    spec = write(tmp_path, text, "no-auth0.yaml")
    plan = plan_of(tmp_path, text)
    assert plan.removals == [Removal("idp.delete", "idp:auth0", "Auth0", False)]
    assert plan.snippets.removed == []
    assert any("auth0" in name.lower() for name in plan.snippets.kept)
    shown = run("plan", spec)
    assert "kept: identity provider auth0 (Auth0) (not in the SPEC; --prune removes it)" in shown
    assert "a0-secret-value-456" not in shown
    assert "- remove identity provider auth0 (Auth0) (with --prune)" in run("plan", spec, "--prune")

    out = run("apply", spec, "--yes")
    assert "auth0" in out.split("Kept (not in the SPEC; apply with --prune to remove):")[1]
    assert IdentityProvider.objects.filter(provider="auth0").exists()

    run("apply", spec, "--yes", "--prune")
    assert list(IdentityProvider.objects.values_list("provider", flat=True)) == ["keycloak"]
    assert plan_of(tmp_path, text, name="again.yaml").removals == []


# --- a tenant's login -----------------------------------------------------------------------------


LESS_LOGIN = ACME.replace("[acme.io, acme-research.com]", "[acme.io]").replace(
    "[bob@gmail.com, dan@gmail.com]", "[bob@gmail.com]"
)


def test_a_login_domain_the_spec_lacks_is_kept_without_prune_and_removed_with_it(
    tmp_path, full, sandbox
):
    spec = write(tmp_path, LESS_LOGIN, "less.yaml")
    plan = plan_of(tmp_path, LESS_LOGIN)
    target = "tenant:Acme Research"
    assert plan.removals == [
        Removal("routing.domain.remove", target, "acme-research.com", False),
        Removal("routing.whitelist.remove", target, "dan@gmail.com", False),
    ]
    assert plan.call_count == 0
    shown = run("plan", spec)
    assert "kept: login domain acme-research.com (not in the SPEC; --prune removes it)" in shown
    assert "kept: whitelisted email dan@gmail.com (not in the SPEC; --prune removes it)" in shown
    assert "0 changing call(s)" in shown
    pruned = run("plan", spec, "--prune")
    assert "- remove login domain acme-research.com (with --prune)" in pruned
    assert "- remove whitelisted email dan@gmail.com (with --prune)" in pruned
    assert "login.set_domains" in pruned and "login.remove_whitelist_entries" in pruned

    before = len(changing_calls(sandbox))
    out = run("apply", spec, "--yes")
    kept = out.split("Kept (not in the SPEC; apply with --prune to remove):")[1]
    assert "acme-research.com" in kept and "dan@gmail.com" in kept
    assert len(changing_calls(sandbox)) == before
    assert console_domains(full) == ["acme-research.com", "acme.io"]
    assert console_whitelist(full)["dan@gmail.com"] is False
    domains, whitelist = server_routing(sandbox, full)
    assert domains == ["acme-research.com", "acme.io"] and "dan@gmail.com" in whitelist

    run("apply", spec, "--yes", "--prune")
    assert changing_calls(sandbox)[before:] == [
        "login.set_domains",
        "login.remove_whitelist_entries",
    ]
    assert console_domains(full) == ["acme.io"]
    assert "dan@gmail.com" not in console_whitelist(full)
    assert server_routing(sandbox, full) == (
        ["acme.io"],
        {"carol@partner.com": True, "bob@gmail.com": False},
    )
    assert plan_of(tmp_path, LESS_LOGIN, name="again.yaml").removals == []


def test_without_prune_added_entries_go_out_and_kept_ones_stay(tmp_path, full, sandbox):
    """The effective routing is the SPEC's plus the kept entries: set_domains keeps the kept
    domain, and nothing is removed from the whitelist."""
    text = LESS_LOGIN.replace("[acme.io]", "[acme.io, acme.dev]").replace(
        "users: [bob@gmail.com]", "users: [bob@gmail.com, erin@gmail.com]"
    )
    before = len(changing_calls(sandbox))
    run("apply", write(tmp_path, text), "--yes")
    sent = [r for r in sandbox.requests if r["endpoint"].startswith("login.")][-2:]
    assert [r["endpoint"] for r in sent] == ["login.set_domains", "login.add_whitelist_entries"]
    assert sorted(sent[0]["body"]["domains"]) == ["acme-research.com", "acme.dev", "acme.io"]
    assert sent[1]["body"] == {"emails": ["erin@gmail.com"], "is_admin": False}
    assert "login.remove_whitelist_entries" not in changing_calls(sandbox)[before:]
    assert console_domains(full) == ["acme-research.com", "acme.dev", "acme.io"]
    assert set(console_whitelist(full)) == {
        "carol@partner.com",
        "bob@gmail.com",
        "dan@gmail.com",
        "erin@gmail.com",
    }


def test_entries_only_the_server_holds_are_kept_and_recorded(tmp_path, full, sandbox):
    sandbox.seed_login(
        full.company_id,
        domains=["acme.io", "acme-research.com", "legacy.acme.io"],
        whitelist={
            "carol@partner.com": True,
            "bob@gmail.com": False,
            "dan@gmail.com": False,
            "old@gmail.com": True,
        },
    )
    plan = plan_of(tmp_path, ACME)
    assert [(r.kind, r.detail) for r in plan.removals] == [
        ("routing.domain.remove", "legacy.acme.io"),
        ("routing.whitelist.remove", "old@gmail.com"),
    ]
    assert plan.call_count == 0
    before = len(changing_calls(sandbox))
    run("apply", write(tmp_path, ACME), "--yes")
    assert len(changing_calls(sandbox)) == before
    assert "legacy.acme.io" in console_domains(full)
    assert console_whitelist(full)["old@gmail.com"] is True
    assert plan_of(tmp_path, ACME, name="again.yaml").tenants[0].action == "unchanged"

    run("apply", write(tmp_path, ACME), "--yes", "--prune")
    assert server_routing(sandbox, full)[0] == ["acme-research.com", "acme.io"]
    assert "old@gmail.com" not in console_whitelist(full)


def test_an_entry_another_tenant_holds_is_kept_on_the_server_only(tmp_path, full, sandbox):
    run(
        "apply",
        write(
            tmp_path,
            """
            version: 1
            tenants:
              - name: Beta Labs
                admins: [{name: Ben, email: ben@beta.io}]
                login: {domains: [beta.io]}
            """,
            "beta.yaml",
        ),
        "--yes",
    )
    domains, whitelist = server_routing(sandbox, full)
    sandbox.seed_login(full.company_id, domains=[*domains, "beta.io"], whitelist=whitelist)
    plan = plan_of(tmp_path, ACME)
    [tp] = plan.tenants
    assert [r.detail for r in plan.removals] == ["beta.io"]
    assert any("beta.io" in note and "Beta Labs" in note for note in tp.notes)
    before = len(changing_calls(sandbox))
    run("apply", write(tmp_path, ACME), "--yes")
    assert len(changing_calls(sandbox)) == before
    assert "beta.io" in server_routing(sandbox, full)[0]
    assert "beta.io" not in console_domains(full)
    assert plan_of(tmp_path, ACME, name="again.yaml").tenants[0].action == "unchanged"


# --- export_spec → plan ---------------------------------------------------------------------------


def test_export_spec_then_plan_shows_no_change(tmp_path, sandbox, sandbox_settings, secrets):
    spec = (
        """
    version: 1
    tenants:
      - name: Acme Research
        allowed_users: 10
        features: [experiments]
        admins:
          - {name: Alice, email: alice@acme.io}
          - {name: Olga, email: olga@outside.io, internal: false}
        login:
          domains: [acme.io]
          whitelist:
            admins: [carol@partner.com]
      - name: Beta Labs
        admins: [{name: Ben, email: ben@beta.io}]
        login:
          whitelist:
            users: [bob@gmail.com]
      - name: Gamma
        admins: [{name: Gus, email: gus@gamma.io}]
        sso:
          tenant: gamma-external
          group_mapping: {"IdP Group": "ClearML Group"}
    groups:
      - name: data_scientists
        display_name: Data Scientists
        features: [applications, experiments]
    builtin_groups:
      users: []
      admins: [experiments]
    organization:
      features: [user_management_advanced]
    identity_providers:
    """
        + textwrap.indent(textwrap.dedent(KEYCLOAK), "    ")
        + """
    multi_tenant_login:
      enabled: true
    """
    )
    run("apply", write(tmp_path, spec, "source.yaml"), "--yes")
    # More console state through the services the pages use.
    group_create(data={"name": "reviewers", "features": ["experiments"]}, actor="test")
    organization_update(
        data={"features": ["user_management_advanced"], "unique_company_names": True},
        version=None,
        actor="test",
    )
    mtl_update(actor="test", enabled=True, allow_settings_providers=True, only_password_login=False)

    exported = run("export_spec")
    assert "kc-secret-value-123" not in exported
    data = yaml.safe_load(exported)
    acme, beta, gamma = data["tenants"]
    # No key the source did not have: internal true, assignable false, empty lists, switches off.
    assert acme["admins"] == [
        {"name": "Alice", "email": "alice@acme.io"},
        {"name": "Olga", "email": "olga@outside.io", "internal": False},
    ]
    assert acme["login"] == {"domains": ["acme.io"], "whitelist": {"admins": ["carol@partner.com"]}}
    assert beta["login"] == {"whitelist": {"users": ["bob@gmail.com"]}}
    assert "login" not in gamma
    assert gamma["sso"]["tenant"] == "gamma-external"
    # Neither group was given an id: the ids the console derived from the names are left out
    # (plan below shows they are kept all the same).
    assert [sorted(g) for g in data["groups"]] == [
        ["display_name", "features", "name"],
        ["features", "name"],
    ]
    assert data["builtin_groups"] == {"users": [], "admins": ["experiments"]}
    assert data["organization"] == {
        "features": ["user_management_advanced"],
        "unique_company_names": True,
    }
    [keycloak] = data["identity_providers"]
    assert keycloak["client_secret"] == "env:KEYCLOAK_CLIENT_SECRET"
    assert keycloak["default_company"] == "tenant:Acme Research"
    assert data["multi_tenant_login"] == {"enabled": True, "allow_settings_providers": True}

    path = write(tmp_path, exported, "exported.yaml")
    before = list(sandbox.calls)
    plan = make_plan(read_spec(path), concurrency=4, resolve_secrets=False)
    assert plan.call_count == 0
    assert [(tp.name, tp.action, tp.console_changes, tp.notes) for tp in plan.tenants] == [
        (name, "unchanged", [], []) for name in ("Acme Research", "Beta Labs", "Gamma")
    ]
    assert plan.snippets.empty and plan.snippets.kept == []
    assert plan.removals == []
    assert [c for c in sandbox.calls[len(before) :] if c in CHANGING_OR_NOT_READ] == []
    shown = run("plan", path)
    assert "0 changing call(s)" in shown and "No snippet change." in shown
    assert "kept" not in shown and "remove" not in shown
    assert run("apply", path, "--yes").startswith("Nothing to do")


CHANGING_OR_NOT_READ = {
    "system.create_company",
    "system.update_company_settings",
    "auth.create_user",
    "auth.create_credentials",
    "login.set_domains",
    "login.add_whitelist_entries",
    "login.remove_whitelist_entries",
}
