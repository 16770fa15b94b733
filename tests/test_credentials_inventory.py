"""The credentials inventory: read by the refresh from the real sandbox over HTTP, listed from the
snapshot (page, CSV, `manage.py credentials`), and changed only through changesets (revoke,
relabel, rotate), each audited."""

import csv
import io
import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from changes import credentials as key_changes
from changes.models import Changeset
from changes.refresh import refresh_server_state
from console.audit.models import AuditEntry
from console.snapshot import credentials as inventory
from tenants.models import IssuedCredential, Tenant, TenantAdmin

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def live_tenant(sandbox, name: str, users: int = 2, *, label: str | None = None) -> Tenant:
    """A console tenant on the sandbox: an admin and `users - 1` more users, one key each."""
    company = sandbox.seed_company(name)
    slug = re.sub(r"\W+", "", name.lower())
    tenant = Tenant.objects.create(name=name, company_id=company, status="active")
    for number in range(users):
        email = f"u{number}@{slug}.io"
        user = sandbox.seed_user(company, email, role="admin" if number == 0 else "user")
        sandbox.seed_credentials(user, label=label if number == 0 else f"laptop {number}")
        if number == 0:
            TenantAdmin.objects.create(tenant=tenant, name="Admin", email=email, user_id=user)
    return tenant


def used(sandbox, access_key: str, *, days_ago: int, address: str = "10.0.0.7") -> None:
    """Arrange a key's last use on the sandbox (what its server would have recorded)."""
    when = (timezone.now() - timedelta(days=days_ago)).isoformat()
    with sandbox.app.lock:
        record = sandbox.app.state.credentials[access_key]
        record["last_used"], record["last_used_from"] = when, address


@pytest.fixture
def acme(sandbox, sandbox_settings):
    return live_tenant(sandbox, "Acme Research", 3, label="appgw production")


@pytest.fixture
def beta(sandbox, sandbox_settings):
    return live_tenant(sandbox, "Beta Labs", 2)


def keys_of(sandbox, tenant: Tenant) -> dict[str, dict]:
    found = {}
    for user in sandbox.users(tenant.company_id):
        for item in sandbox.credentials(user["id"]):
            found[item["access_key"]] = {**item, "email": user["email"]}
    return found


# -- the refresh -------------------------------------------------------------------------------
def test_the_refresh_reads_every_users_keys_impersonating_them(sandbox, acme, beta):
    result = refresh_server_state()

    assert result.ok, result.error
    assert (result.credentials, result.keys) == (2, 5)
    reads = [r for r in sandbox.requests if r["endpoint"] == "auth.get_credentials"]
    users = {u["id"] for t in (acme, beta) for u in sandbox.users(t.company_id)}
    assert {r["impersonate_as"] for r in reads} == users
    rows = inventory.inventory().rows
    assert {r.access_key for r in rows} == set(keys_of(sandbox, acme)) | set(keys_of(sandbox, beta))
    first = next(r for r in rows if r.tenant == "Acme Research" and r.email == "u0@acmeresearch.io")
    assert first.label == "appgw production" and first.marked == inventory.GATEWAY
    stored = json.dumps([o.data for o in inventory.ServerSnapshot.objects.all()])
    assert "secret" not in stored.replace("secret_key", "")  # no secret field at all
    assert all(s not in stored for s in (sandbox.secret,))


def test_a_server_without_the_call_is_shown_for_that_tenant_and_the_rest_works(
    sandbox, acme, beta, admin_client
):
    sandbox.fail_next("auth.get_credentials", status=404, message="endpoint not found")
    result = refresh_server_state(concurrency=1)

    assert result.reached
    notes = inventory.inventory().notes
    assert [n.tenant for n in notes] == ["Acme Research"]
    assert "no such call" in notes[0].message
    assert {r.tenant for r in inventory.inventory().rows} == {"Beta Labs"}
    page = text(admin_client.get(reverse("credentials:list")))
    assert "Acme Research" in page and "no such call" in page


@pytest.mark.parametrize(
    ("label", "marked"),
    [
        ("appgw production", "App Gateway"),
        ("App-Gateway eu", "App Gateway"),
        ("clearml-agent k8s", "agent"),
        ("k8s_glue", "agent"),
        ("laptop", ""),
        ("", ""),
    ],
)
def test_labels_of_gateways_and_agents_are_marked(label, marked):
    assert inventory.marked_as(label) == marked


# -- filters, paging, CSV ----------------------------------------------------------------------
def test_filters_never_used_stale_and_created_before(sandbox, acme, beta):
    keys = keys_of(sandbox, acme)
    old, recent = sorted(keys)[:2]
    used(sandbox, old, days_ago=40)
    used(sandbox, recent, days_ago=1)
    refresh_server_state()
    rows = inventory.inventory().rows

    never = inventory.select(rows, usage="never")
    assert old not in {r.access_key for r in never} and len(never) == 3
    stale = {r.access_key for r in inventory.select(rows, usage="stale", days=30)}
    assert old in stale and recent not in stale and len(stale) == 4
    # the sandbox gives no creation time: only the keys the console issued have one
    assert inventory.select(rows, created_before=timezone.now().date() + timedelta(days=1)) == []


def test_the_page_pages_sorts_and_exports_csv_that_reads_back(
    sandbox, sandbox_settings, admin_client
):
    for number in range(3):
        live_tenant(sandbox, f"Tenant {number:02}", 25)
    refresh_server_state()

    first = admin_client.get(reverse("credentials:list"), {"sort": "user"})
    assert first.status_code == 200
    page = text(first)
    assert "75 keys" in page and "page 1 of 2" in page.lower()
    second = text(admin_client.get(reverse("credentials:list"), {"sort": "user", "page": 2}))
    assert "page 2 of 2" in second.lower()

    exported = admin_client.get(reverse("credentials:list"), {"format": "csv", "tenant": "01"})
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert len(rows) == 25 and {r["tenant"] for r in rows} == {"Tenant 01"}
    listed = {r.access_key: r for r in inventory.inventory(tenant="Tenant 01").rows}
    for row in rows:
        item = listed[row["access_key"]]
        assert (row["email"], row["label"], row["user_id"]) == (
            item.email,
            item.label,
            item.user_id,
        )


def test_bad_filter_values_are_named_not_a_500(admin_client, sandbox_settings):
    page = admin_client.get(reverse("credentials:list"), {"days": "soon", "created_before": "x"})
    assert page.status_code == 200
    body = text(page)
    assert "days" in body and "soon" in body and "created before" in body.lower()


# -- the command ---------------------------------------------------------------------------------
def test_the_command_prints_the_contract_json(sandbox, acme, beta):
    used(sandbox, sorted(keys_of(sandbox, beta))[0], days_ago=2)
    refresh_server_state()
    out = StringIO()
    call_command("credentials", "--json", "--tenant", "Beta Labs", stdout=out)
    listed = json.loads(out.getvalue())
    assert len(listed) == 2
    assert all(
        set(item)
        == {"tenant", "user", "email", "access_key", "label", "last_used", "last_used_from"}
        for item in listed
    )
    assert {i["tenant"] for i in listed} == {"Beta Labs"}

    out = StringIO()
    call_command("credentials", "--json", "--stale-days", "1", stdout=out)
    stale = json.loads(out.getvalue())
    assert len(stale) == 5  # the key used 2 days ago is stale after 1 day; never-used included
    out = StringIO()
    call_command("credentials", "--json", "--stale-days", "3", stdout=out)
    assert len(json.loads(out.getvalue())) == 4

    with pytest.raises(CommandError) as bad:
        call_command("credentials", "--tenant", "Nobody")
    assert bad.value.returncode == 2 and "Nobody" in str(bad.value)


# -- changes -------------------------------------------------------------------------------------
def test_revoke_is_a_changeset_with_audit_entries(sandbox, acme):
    refresh_server_state()
    key = next(r.access_key for r in inventory.inventory().rows if not r.marked)

    change = key_changes.credential_revoke(access_key=key, actor="ops@example.com")

    assert change.error == "" and change.changeset.status == Changeset.Status.APPLIED
    assert key not in keys_of(sandbox, acme)
    call = next(r for r in sandbox.requests if r["endpoint"] == "auth.revoke_credentials")
    assert call["body"] == {"access_key": key} and call["impersonate_as"]
    step = change.changeset.steps.get()
    assert (step.kind, step.risky, step.status) == ("credentials.revoke", True, "done")
    entries = AuditEntry.objects.filter(changeset=str(change.changeset.pk)).order_by("seq")
    assert [e.outcome for e in entries] == ["pending", "success"]
    assert entries[1].outcome_of == entries[0].seq
    assert key not in {r.access_key for r in inventory.inventory().rows}


def test_a_gateway_key_needs_the_access_key_typed_again(sandbox, acme):
    refresh_server_state()
    key = next(r.access_key for r in inventory.inventory().rows if r.marked)

    with pytest.raises(key_changes.CredentialRefused, match="type the access key again"):
        key_changes.credential_revoke(access_key=key, actor="ops", confirm="yes")
    assert key in keys_of(sandbox, acme) and not Changeset.objects.exists()

    change = key_changes.credential_revoke(access_key=key, actor="ops", confirm=key)
    assert change.error == "" and key not in keys_of(sandbox, acme)


def test_relabel_is_a_changeset(sandbox, acme):
    refresh_server_state()
    key = next(r.access_key for r in inventory.inventory().rows if r.label == "laptop 1")

    change = key_changes.credential_relabel(access_key=key, label="ci runner", actor="ops")

    assert change.error == "" and keys_of(sandbox, acme)[key]["label"] == "ci runner"
    step = change.changeset.steps.get()
    assert step.before == {"label": "laptop 1"} and step.after == {"label": "ci runner"}
    assert not step.risky
    assert inventory.find_key(key).label == "ci runner"


def test_rotate_creates_then_revokes_after_confirmation(sandbox, acme):
    refresh_server_state()
    old = next(r for r in inventory.inventory().rows if r.email == "u0@acmeresearch.io")

    change = key_changes.credential_rotate(access_key=old.access_key, actor="ops")

    assert change.error == "" and change.secret_key and change.access_key != old.access_key
    held = keys_of(sandbox, acme)
    assert {old.access_key, change.access_key} <= set(held)
    assert held[change.access_key]["label"] == old.label
    assert change.secret_key not in json.dumps(
        list(AuditEntry.objects.values("before", "after", "calls"))
    )
    assert IssuedCredential.objects.filter(access_key=change.access_key).exists()  # an admin's
    revocation = change.revocation
    assert revocation.status == Changeset.Status.PLANNED and old.access_key in keys_of(
        sandbox, acme
    )

    with pytest.raises(key_changes.CredentialRefused):  # an App Gateway key: typed confirmation
        key_changes.rotation_finish(changeset=revocation, actor="ops")
    done = key_changes.rotation_finish(changeset=revocation, actor="ops", confirm=old.access_key)
    assert done.error == "" and old.access_key not in keys_of(sandbox, acme)
    revocation.refresh_from_db()
    assert revocation.status == Changeset.Status.APPLIED


def test_the_revoke_command_goes_through_the_pipeline(sandbox, acme):
    refresh_server_state()
    key = next(r.access_key for r in inventory.inventory().rows if not r.marked)
    out = StringIO()
    call_command("credentials", "revoke", key, "--yes", stdout=out)
    assert key not in keys_of(sandbox, acme)
    assert Changeset.objects.get().kind == "credentials.revoke"
    assert "Revoked" in out.getvalue()
    with pytest.raises(CommandError) as unknown:
        call_command("credentials", "revoke", "NOSUCHKEY", "--yes")
    assert unknown.value.returncode == 2


# -- scale -------------------------------------------------------------------------------------
def test_a_thousand_tenants_are_read_and_paged(sandbox, sandbox_settings, admin_client):
    """1,000 tenants x 3 users: one refresh reads every key; the page shows 50 at a time."""
    tenants = []
    with sandbox.app.lock:  # a fast seed: straight into the sandbox's state
        state = sandbox.app.state
        for number in range(1000):
            company = {
                "id": f"c{number:04}",
                "name": f"Tenant {number:04}",
                "created": "",
                "defaults": {},
            }
            state.add_company(company)
            for user_number in range(3):
                user = {
                    "id": f"u{number:04}{user_number}",
                    "name": f"User {user_number}",
                    "company": company["id"],
                    "email": f"u{user_number}@t{number:04}.io",
                    "role": "admin" if user_number == 0 else "user",
                    "internal": True,
                    "given_name": "",
                    "family_name": "",
                    "avatar": "",
                    "created": "",
                }
                state.add_user(user)
                state.add_credentials(user["id"], label=f"key {user_number}")
            tenants.append(Tenant(name=company["name"], company_id=company["id"], status="active"))
    Tenant.objects.bulk_create(tenants)
    admins = [
        TenantAdmin(
            tenant=t,
            name="Admin",
            email=f"u0@t{t.company_id[1:]}.io",
            user_id=f"u{t.company_id[1:]}0",
        )
        for t in Tenant.objects.all()
    ]
    TenantAdmin.objects.bulk_create(admins)

    result = refresh_server_state(concurrency=8)

    assert result.ok, result.error
    assert (result.credentials, result.keys, result.vaults) == (1000, 3000, 1000)
    first = admin_client.get(reverse("credentials:list"), {"sort": "access_key"})
    body = text(first)
    assert "3000 keys of 1000 tenants" in body and "page 1 of 60" in body
    last = text(admin_client.get(reverse("credentials:list"), {"sort": "access_key", "page": 60}))
    assert "page 60 of 60" in last
    out = StringIO()
    call_command("credentials", "--json", "--tenant", "Tenant 0999", stdout=out)
    assert len(json.loads(out.getvalue())) == 3


def test_a_tenant_of_more_users_than_a_page_is_read_page_by_page(sandbox, acme):
    with sandbox.app.lock:
        for number in range(520):
            sandbox.app.state.add_user(
                {
                    "id": f"many{number:04}",
                    "name": "x",
                    "company": acme.company_id,
                    "email": f"m{number}@acme.io",
                    "role": "user",
                    "internal": True,
                    "given_name": "",
                    "family_name": "",
                    "avatar": "",
                    "created": "",
                }
            )
    result = refresh_server_state()
    assert result.ok
    pages = [r["body"] for r in sandbox.requests if r["endpoint"] == "users.get_all"]
    assert [p.get("page") for p in pages] == [0, 1]
    rows = inventory.inventory().rows
    assert len(rows) == 3  # the 520 new users hold no key; the three seeded keys are all there
    reads = [r for r in sandbox.requests if r["endpoint"] == "auth.get_credentials"]
    assert len(reads) == 523
