"""The JSON API under /api/v1/: token auth (401, 403, 429 with Retry-After), every endpoint, the
plan's JSON as `plan --json` prints it, errors that name the field, and no secret in an answer
that should not carry one."""

import io
import itertools
import json
import textwrap

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from changes.models import Changeset
from changes.tokens import token_create
from console.accounts.models import ApiToken
from console.audit import audit_record
from console.audit.models import AuditEntry
from sso.models import LoginDomain, WhitelistEntry
from sso.multitenant.models import TenantSSOConfig
from sso.providers.models import IdentityProvider
from tenants.groups.models import CrossTenantGroup
from tenants.models import IssuedCredential, Tenant, TenantAdmin
from tests.test_tenants_provisioning import changing_calls

V1 = "/api/v1"
SPEC = """
version: 1
tenants:
  - name: Acme Research
    admins:
      - {name: Alice Admin, email: alice@acme.io}
    login:
      domains: [acme.io]
      whitelist:
        users: [bob@gmail.com]
  - name: Beta Labs
    admins:
      - {name: Ben, email: ben@beta.io}
"""
LITERAL = "s3cret-literal-value-1234"
_names = itertools.count(1)


def make_token(role: str = "admin", **options) -> str:
    created = token_create(
        name=options.get("name") or f"{role}-{next(_names)}",
        role=role,
        expires_days=options.get("expires_days"),
        actor="test",
        face="command",
    )
    return created.value


def call(method: str, path: str, token: str | None = None, *, client=None, **extra):
    client = client or Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return getattr(client, method)(V1 + path, **headers, **extra)


def post_spec(token: str, text: str = SPEC, query: str = "", content_type="application/yaml"):
    return call(
        "post", "/plans" + query, token, data=textwrap.dedent(text), content_type=content_type
    )


def error_fields(response) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


# --- authentication --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_openapi_document_is_served_and_lists_every_endpoint():
    response = Client().get(V1 + "/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/v1/tenants",
        "/api/v1/tenants/{tenant_id}/routing",
        "/api/v1/groups",
        "/api/v1/identity-providers",
        "/api/v1/audit",
        "/api/v1/plans",
        "/api/v1/changes/{changeset_id}",
        "/api/v1/changes/{changeset_id}/approve",
        "/api/v1/changes/{changeset_id}/reject",
        "/api/v1/changes/{changeset_id}/apply",
        "/api/v1/snippets/{source}",
    } <= set(paths)
    assert response.json()["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header, reason",
    [
        (None, "Send an API token"),
        ("Basic YWRtaW46eA==", "must be `Bearer <token>`"),
        ("Bearer ", "must be `Bearer <token>`"),
        ("Bearer ctc_not-a-real-token", "unknown token"),
        ("Bearer hunter2", "not a console API token"),
    ],
)
def test_a_request_without_a_good_token_is_401_in_json(header, reason):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().get(V1 + "/tenants", **extra)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["WWW-Authenticate"] == 'Bearer realm="console"'
    assert reason in response.json()["detail"]


@pytest.mark.django_db
def test_expired_and_revoked_tokens_are_refused():
    expired, revoked = make_token("viewer"), make_token("viewer", name="gone")
    ApiToken.objects.filter(token_hash__isnull=False).exclude(name="gone").update(
        expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    call_command("api_token", "revoke", "gone", stdout=io.StringIO())
    assert "expired" in call("get", "/tenants", expired).json()["detail"]
    response = call("get", "/tenants", revoked)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


@pytest.mark.django_db
def test_too_many_failed_tokens_from_one_address_are_429_with_retry_after(settings):
    settings.API_TOKEN_MAX_FAILURES = 3
    good = make_token("viewer")
    for _ in range(3):
        assert call("get", "/tenants", "ctc_wrong").status_code == 401
    response = call("get", "/tenants", good)  # even a good token, while the address waits
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 300
    assert "try again in" in response.json()["detail"]
    other = Client(REMOTE_ADDR="10.9.8.7")
    assert call("get", "/tenants", good, client=other).status_code == 200


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_a_minute():
    value = make_token("viewer")
    assert ApiToken.objects.get().last_used_at is None
    call("get", "/groups", value)
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    call("get", "/groups", value)
    assert ApiToken.objects.get().last_used_at == first
    ApiToken.objects.update(last_used_at=first - timezone.timedelta(minutes=2))
    call("get", "/groups", value)
    assert ApiToken.objects.get().last_used_at > first


@pytest.mark.django_db
def test_the_api_needs_no_session_and_no_csrf_token():
    client = Client(enforce_csrf_checks=True)
    response = call(
        "post", "/plans", make_token("viewer"), client=client, data="x", content_type="text/plain"
    )
    assert response.status_code == 403  # the role, not the CSRF check or the sign-in wall
    assert "operator role" in response.json()["detail"]


@pytest.mark.django_db
def test_a_signed_in_session_is_not_an_api_token(admin_client):
    assert admin_client.get(V1 + "/tenants").status_code == 401


@pytest.mark.django_db
def test_an_unknown_api_path_is_a_json_404():
    response = Client().get("/api/v2/nothing")
    assert response.status_code == 404
    assert "openapi.json" in response.json()["detail"]


# --- reads -----------------------------------------------------------------------------------


@pytest.fixture
def acme(db):
    tenant = Tenant.objects.create(name="Acme Research", company_id="c-acme", status="active")
    TenantAdmin.objects.create(tenant=tenant, name="Alice", email="alice@acme.io")
    LoginDomain.objects.create(tenant=tenant, domain="acme.io")
    WhitelistEntry.objects.create(tenant=tenant, email="carol@partner.com", is_admin=True)
    WhitelistEntry.objects.create(tenant=tenant, email="bob@gmail.com", is_admin=False)
    return tenant


def test_tenants_lists_the_console_tenants_with_their_admins(acme):
    response = call("get", "/tenants", make_token("viewer"))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["page"] == 1
    assert body["tenants"][0] == {
        "id": acme.pk,
        "name": "Acme Research",
        "company_id": "c-acme",
        "status": "active",
        "origin": "console",
        "on_server": None,
        "platform": False,
        "admins": ["alice@acme.io"],
    }
    assert call("get", "/tenants?q=nothing", make_token("viewer")).json()["count"] == 0


def test_a_tenants_routing(acme):
    body = call("get", f"/tenants/{acme.pk}/routing", make_token("viewer")).json()
    assert body == {
        "tenant": {"id": acme.pk, "name": "Acme Research"},
        "domains": ["acme.io"],
        "whitelist": {"admins": ["carol@partner.com"], "users": ["bob@gmail.com"]},
    }
    missing = call("get", "/tenants/999999/routing", make_token("viewer"))
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]


@pytest.mark.django_db
def test_groups_builtin_groups_and_organization():
    CrossTenantGroup.objects.create(name="data_scientists", features=["experiments"])
    body = call("get", "/groups", make_token("viewer")).json()
    assert body["groups"][0]["name"] == "data_scientists"
    assert body["groups"][0]["features"] == ["experiments"]
    assert body["builtin_groups"] == {"users": None, "admins": None, "queue_admins": None}
    assert body["organization"]["features"] == []


def test_identity_providers_show_secret_states_never_values(acme):
    IdentityProvider.objects.create(
        provider="keycloak",
        settings={"base_url": "https://sso.example.com/realms/acme", "client_id": "clearml"},
        secrets={"client_secret": LITERAL},
    )
    IdentityProvider.objects.create(
        provider="okta",
        settings={"base_url": "https://acme.okta.com"},
        secrets={"client_id": "env:OKTA_ID", "client_secret": "env:OKTA_SECRET"},
    )
    TenantSSOConfig.objects.create(
        tenant=acme,
        external_tenant="acme-ext",
        provider="keycloak",
        configuration={"client_id": "x"},
        client_secret=LITERAL + "-tenant",
    )
    response = call("get", "/identity-providers", make_token("admin"))
    assert response.status_code == 200
    assert LITERAL not in response.content.decode()
    body = response.json()
    by_key = {p["provider"]: p for p in body["identity_providers"]}
    assert by_key["keycloak"]["secrets"]["client_secret"] == "set"
    assert by_key["okta"]["secrets"]["client_secret"] == "env:OKTA_SECRET"
    assert body["tenant_sso"][0]["client_secret"] == "set"
    assert body["multi_tenant_login"] == {
        "enabled": False,
        "allow_settings_providers": False,
        "only_password_login": True,
    }


def _entry(actor: str, action: str, **fields):
    return audit_record(actor=actor, action=action, target_type="tenant", **fields)


@pytest.mark.django_db
def test_the_audit_log_filters_like_the_page_and_pages_with_a_cursor():
    for i in range(5):
        _entry("alice", "tenant.update", target_id=str(i), after={"n": i})
    _entry("bob", "group.create", target_id="g", after={"password": LITERAL})
    token = make_token("viewer")
    body = call("get", "/audit?actor=alice&limit=2", token).json()
    assert [e["target_id"] for e in body["entries"]] == ["4", "3"]
    assert body["newer"] is None and body["older"] is not None
    older = call("get", f"/audit?actor=alice&limit=2&before={body['older']}", token).json()
    assert [e["target_id"] for e in older["entries"]] == ["2", "1"]
    assert [e["actor"] for e in call("get", "/audit?action=group.*", token).json()["entries"]] == [
        "bob"
    ]
    assert call("get", "/audit?q=alice&outcome=failure", token).json()["entries"] == []
    everything = call("get", "/audit?limit=200", token)
    assert LITERAL not in everything.content.decode()  # masked when it was written


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, field",
    [
        ("since=yesterday", "since"),
        ("since=2025-02-01&until=2025-01-01", "until"),
        ("outcome=maybe", "outcome"),
        ("limit=0", "limit"),
        ("actor=" + "x" * 151, "actor"),
        ("q=a%00b", "q"),
    ],
)
def test_bad_audit_filters_are_400_naming_the_field(query, field):
    response = call("get", f"/audit?{query}", make_token("viewer"))
    assert response.status_code == 400
    assert field in error_fields(response), response.json()


# --- plans and changes -----------------------------------------------------------------------


def _without_ids(plan: dict) -> dict:
    return {k: v for k, v in plan.items() if k != "id"}


@pytest.mark.django_db(transaction=True)
def test_a_plan_is_what_plan_json_prints(tmp_path, sandbox, sandbox_settings, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(SPEC))
    call_command("plan", str(path), "--json")
    printed = json.loads(capsys.readouterr().out)
    response = post_spec(make_token("operator", name="ci"))
    assert response.status_code == 201
    body = response.json()
    assert list(body) == ["id", "hash", "steps"] == list(printed)
    assert _without_ids(body) == _without_ids(printed)
    changeset = Changeset.objects.get(pk=body["id"])
    assert changeset.face == "api" and changeset.requested_by == "token:ci"
    assert changeset.status == "planned"
    assert changing_calls(sandbox) == []
    as_json = post_spec(
        make_token("operator"),
        json.dumps({"version": 1, "tenants": __import__("yaml").safe_load(SPEC)["tenants"]}),
        content_type="application/json",
    )
    assert as_json.status_code == 201 and as_json.json()["hash"] == body["hash"]


@pytest.mark.django_db
def test_a_bad_spec_is_400_with_every_field_path():
    text = """
    version: 1
    tenants:
      - name: Acme
        admins: [{name: A, email: not-an-email}]
        login: {domains: ["bad domain"]}
      - name: acme
    """
    response = post_spec(make_token("operator"), text)
    assert response.status_code == 400
    fields = error_fields(response)
    assert "tenants[0].admins[0].email" in fields
    assert "tenants[0].login.domains[0]" in fields
    assert "tenants[1].name" in fields
    assert "tenants[0].admins[0].email" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, content_type, status, field",
    [
        ("version: 1", "text/plain", 415, "Content-Type"),
        ("version: 2", "application/yaml", 400, "version"),
        ("{", "application/json", 400, ""),
        ('{"version": 1, "version": 1}', "application/json", 400, ""),
        ("[1, 2]", "application/json", 400, ""),
        ("tenants: {}", "application/yaml", 400, "tenants"),
    ],
)
def test_plan_input_errors(body, content_type, status, field):
    response = post_spec(make_token("operator"), body, content_type=content_type)
    assert response.status_code == status, response.json()
    assert field in error_fields(response)


@pytest.mark.django_db
def test_a_spec_over_10_mib_is_413(settings):
    response = post_spec(make_token("operator"), "#" * (10 * 1024 * 1024 + 1))
    assert response.status_code == 413 and "body" in error_fields(response)


@pytest.mark.django_db
def test_a_spec_over_5_mib_is_read_whole():
    text = "version: 2\n" + "#" * (6 * 1024 * 1024) + "\n"  # above Django's 5 MiB body limit
    response = post_spec(make_token("operator"), text)
    assert response.status_code == 400 and error_fields(response) == ["version"]


@pytest.mark.django_db
def test_viewers_may_not_plan():
    response = post_spec(make_token("viewer"))
    assert response.status_code == 403
    assert response.json()["detail"].startswith("This needs the operator role")


@pytest.mark.django_db(transaction=True)
def test_a_changeset_reads_with_its_status_and_people(sandbox, sandbox_settings):
    plan = post_spec(make_token("operator", name="ci")).json()
    response = call("get", f"/changes/{plan['id']}", make_token("viewer"))
    body = response.json()
    assert body["status"] == "planned" and body["requested_by"] == "token:ci"
    assert body["approved_by"] is None and body["hash"] == plan["hash"]
    assert [s["kind"] for s in body["steps"]] == [s["kind"] for s in plan["steps"]]
    assert call("get", "/changes/999999", make_token("viewer")).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_apply_returns_new_credentials_once_and_keeps_none(sandbox, sandbox_settings):
    plan = post_spec(make_token("operator")).json()
    response = call("post", f"/changes/{plan['id']}/apply", make_token("operator", name="cd"))
    assert response.status_code == 200, response.json()
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["changeset"]["status"] == "applied" and body["failures"] == []
    assert body["changeset"]["id"] == plan["id"]
    assert {c["email"] for c in body["credentials"]} == {"alice@acme.io", "ben@beta.io"}
    assert set(Tenant.objects.values_list("name", flat=True)) == {"Acme Research", "Beta Labs"}
    stored = {c.access_key for c in IssuedCredential.objects.all()}
    for pair in body["credentials"]:
        assert pair["access_key"] in stored
        secret = pair["secret_key"]
        assert not AuditEntry.objects.filter(search_text__contains=secret.lower()).exists()
        for row in Changeset.objects.values("desired", "notes", "error"):
            assert secret not in json.dumps(row)
    assert AuditEntry.objects.filter(actor="token:cd", changeset=str(plan["id"])).exists()
    again = call("post", f"/changes/{plan['id']}/apply", make_token("operator"))
    assert again.status_code == 409 and "applied" in again.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_apply_refuses_a_plan_that_changed_since(tmp_path, sandbox, sandbox_settings):
    plan = post_spec(make_token("operator")).json()
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(SPEC))
    call_command("apply", str(path), "--yes", stdout=io.StringIO())  # someone else applied it
    sent = len(changing_calls(sandbox))
    response = call("post", f"/changes/{plan['id']}/apply", make_token("operator"))
    assert response.status_code == 409
    assert "has changed since it was made" in response.json()["detail"]
    assert len(changing_calls(sandbox)) == sent
    assert Changeset.objects.get(pk=plan["id"]).status == "planned"


@pytest.mark.django_db(transaction=True)
def test_a_risky_plan_is_applied_by_an_admin_not_an_operator(sandbox, sandbox_settings):
    group = {"version": 1, "groups": [{"name": "team_a", "features": ["experiments"]}]}
    created = post_spec(make_token("operator"), json.dumps(group), content_type="application/json")
    call("post", f"/changes/{created.json()['id']}/apply", make_token("admin"))
    removal = post_spec(
        make_token("operator"), '{"version": 1, "groups": []}', "?prune=true", "application/json"
    ).json()
    assert any(s["risky"] for s in removal["steps"])
    refused = call("post", f"/changes/{removal['id']}/apply", make_token("operator"))
    assert refused.status_code == 403 and "risky" in refused.json()["detail"]
    applied = call("post", f"/changes/{removal['id']}/apply", make_token("admin"))
    assert applied.status_code == 200, applied.json()
    assert not CrossTenantGroup.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_spec_with_a_literal_secret_is_planned_but_not_applied_over_the_api(
    sandbox, sandbox_settings
):
    spec = {
        "version": 1,
        "identity_providers": [
            {
                "provider": "google",
                "client_id": "clearml-client",
                "client_secret": LITERAL,
            }
        ],
    }
    plan = post_spec(make_token("operator"), json.dumps(spec), content_type="application/json")
    assert plan.status_code == 201, plan.json()
    changeset = Changeset.objects.get(pk=plan.json()["id"])
    assert LITERAL not in json.dumps(changeset.desired)
    response = call("post", f"/changes/{changeset.pk}/apply", make_token("admin"))
    assert response.status_code == 409
    assert "identity_providers[0].client_secret" in response.json()["detail"]


def test_approve_and_reject_need_an_admin(db):
    changeset = Changeset.objects.create(kind="spec", summary="x", requested_by="token:ci")
    response = call(
        "post",
        f"/changes/{changeset.pk}/approve",
        make_token("operator"),
        data={"hash": "abc"},
        content_type="application/json",
    )
    assert response.status_code == 403 and "admin role" in response.json()["detail"]
    missing = call(
        "post",
        f"/changes/{changeset.pk}/reject",
        make_token("admin"),
        data={},
        content_type="application/json",
    )
    assert missing.status_code == 400 and error_fields(missing) == ["hash"]


@pytest.mark.django_db(transaction=True)
def test_approve_checks_the_hash_and_refuses_the_requester(sandbox, sandbox_settings, settings):
    settings.CONSOLE_APPROVALS = True
    admin_a = make_token("admin", name="alice")
    CrossTenantGroup.objects.create(name="team_a")
    plan = post_spec(
        admin_a, '{"version": 1, "groups": []}', "?prune=true", "application/json"
    ).json()
    changeset_id = plan["id"]
    held = call("post", f"/changes/{changeset_id}/apply", admin_a)
    assert held.status_code == 409 and "approval" in held.json()["detail"]

    def decide(token, what, digest):
        return call(
            "post",
            f"/changes/{changeset_id}/{what}",
            token,
            data={"hash": digest},
            content_type="application/json",
        )

    assert decide(admin_a, "approve", plan["hash"]).status_code == 403  # the requester
    admin_b = make_token("admin", name="bob")
    assert decide(admin_b, "approve", "0" * 64).status_code == 409
    approved = decide(admin_b, "approve", plan["hash"])
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "approved"
    assert approved.json()["approved_by"] == "token:bob"
    applied = call("post", f"/changes/{changeset_id}/apply", make_token("operator"))
    assert applied.status_code == 200, applied.json()
    assert applied.json()["changeset"]["status"] == "applied"


# --- snippets --------------------------------------------------------------------------------


@pytest.fixture
def keycloak(db):
    return IdentityProvider.objects.create(
        provider="keycloak",
        settings={
            "base_url": "https://sso.example.com/realms/acme",
            "authorize_url": "https://sso.example.com/realms/acme/auth",
            "access_token_url": "https://sso.example.com/realms/acme/token",
            "client_id": "clearml",
        },
        secrets={"client_secret": LITERAL},
    )


def test_snippets_give_secrets_to_operators_only(keycloak):
    viewer = make_token("viewer")
    refused = call("get", "/snippets/identity-providers?format=env", viewer)
    assert refused.status_code == 403 and "secret-ref" in refused.json()["detail"]
    ref = call("get", "/snippets/identity-providers?format=helm&secrets=secret-ref", viewer)
    assert ref.status_code == 200
    assert LITERAL not in ref.content.decode()
    assert "secretKeyRef" in ref.json()["content"] and ref.json()["secret_keys"]
    shown = call("get", "/snippets/identity-providers?format=env", make_token("operator", name="o"))
    assert shown.status_code == 200 and shown["Cache-Control"] == "no-store"
    assert LITERAL in shown.json()["content"]
    export = AuditEntry.objects.filter(action="idp.export").first()
    assert export is not None and export.actor == "token:o"


@pytest.mark.django_db
def test_snippets_without_secrets_in_each_format():
    CrossTenantGroup.objects.create(name="team_a", features=["experiments"])
    token = make_token("viewer")
    for fmt in ("helm", "compose", "env", "shell"):
        body = call("get", f"/snippets/groups?format={fmt}", token).json()
        assert "CLEARML__" in body["content"] and body["has_secrets"] is False
        assert body["filename"].startswith("clearml-groups")
    bad = call("get", "/snippets/groups?format=env&secrets=secret-ref", token)
    assert bad.status_code == 400 and error_fields(bad) == ["secrets"]
    wrong = call("get", "/snippets/groups?format=toml", token)
    assert wrong.status_code == 400 and error_fields(wrong) == ["format"]
    assert call("get", "/snippets/no-such-source", token).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_pruning_plan_applied_over_the_api_finishes_applied(sandbox, sandbox_settings):
    first = post_spec(make_token("operator")).json()
    call("post", f"/changes/{first['id']}/apply", make_token("operator"))
    moved = SPEC.replace("domains: [acme.io]", "domains: [acme.org]")
    plan = post_spec(make_token("operator"), moved, "?prune=true").json()
    kinds = {s["kind"] for s in plan["steps"]}
    assert "routing.domain.remove" in kinds
    response = call("post", f"/changes/{plan['id']}/apply", make_token("admin"))
    assert response.status_code == 200, response.json()
    changeset = response.json()["changeset"]
    assert changeset["status"] == "applied", changeset
    assert sandbox.login_settings(Tenant.objects.get(name="Acme Research").company_id)[
        "domains"
    ] == ["acme.org"]
