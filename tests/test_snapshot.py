"""Reads never wait on the apiserver: a refresh fills the snapshot from the real sandbox over
HTTP, and every page shows the snapshot (and how old it is) even when the server is gone."""

import re
import socket
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from changes.management.commands.refresh_server_state import Command as RefreshCommand
from changes.refresh import refresh_server_state
from console.snapshot import queries, store
from console.snapshot.models import ServerRead, ServerSnapshot
from sso.models import LoginDomain, WhitelistEntry
from tenants.models import Tenant, TenantAdmin

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
READS = {
    "server.info",
    "system.get_companies",
    "users.get_current_user",
    "login.get_settings",
    "users.get_all",
    # the credentials inventory and the admin vaults (changes/fleet_reads.py)
    "auth.get_credentials",
    "auth.login",
    "users.get_vaults",
}


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def closed_port_url() -> str:
    """An address where nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def live_tenant(sandbox, name: str, email: str, *, domains=(), whitelist=None) -> Tenant:
    """A console tenant with its company and admin user on the sandbox, and routing there."""
    company = sandbox.seed_company(name)
    user = sandbox.seed_user(company, email, name="Admin")
    sandbox.seed_login(company, domains=domains, whitelist=whitelist or {})
    tenant = Tenant.objects.create(name=name, company_id=company, status="active")
    TenantAdmin.objects.create(tenant=tenant, name="Admin", email=email, user_id=user)
    return tenant


@pytest.fixture
def acme(sandbox, sandbox_settings):
    return live_tenant(
        sandbox, "Acme Research", "alice@acme.io", domains=["acme.io"], whitelist={"c@x.io": True}
    )


@pytest.fixture
def beta(sandbox, sandbox_settings):
    return live_tenant(sandbox, "Beta Labs", "bob@beta.io", domains=["beta.io"])


# -- refresh ----------------------------------------------------------------------------------
def test_refresh_fills_the_snapshot_from_the_sandbox(sandbox, acme, beta):
    outside = sandbox.seed_company("Zeta Labs")
    sandbox.seed_user(outside, "zed@zeta.io")
    lonely = sandbox.seed_company("Lonely")
    Tenant.objects.create(name="Lonely", company_id=lonely, status="active")  # no admin user
    Tenant.objects.create(name="Planned")  # no company yet: nothing to read

    result = refresh_server_state()

    assert result.ok and result.reached, result.error
    assert result.companies == len(sandbox.companies(include_system=True)) == 5
    assert (result.tenants, result.routing, result.users) == (3, 2, 3)
    assert any("Lonely" in line and "admin" in line for line in result.skipped)
    assert set(sandbox.calls) <= READS
    assert sandbox.calls.count("system.get_companies") == 1
    # login.get_settings acts as each tenant's first admin
    acting = {r["act_as"] for r in sandbox.requests if r["endpoint"] == "login.get_settings"}
    assert acting == {acme.first_admin().user_id, beta.first_admin().user_id}

    listed = queries.companies()
    assert {c["name"] for c in listed.companies} >= {"Acme Research", "Beta Labs", "Zeta Labs"}
    assert listed.fetched_at is not None
    routing = queries.routing_of(acme.company_id)
    assert routing.data == sandbox.login_settings(acme.company_id)
    assert routing.data["domains"] == ["acme.io"] and not routing.error
    users = queries.users_of(acme.company_id)
    assert [u["email"] for u in users.data["users"]] == ["alice@acme.io"]
    assert queries.users_of(lonely).data == {"users": []}
    assert queries.routing_of(lonely) is None
    read = queries.last_read()
    assert read.ok and read.error == "" and read.calls == len(sandbox.calls)
    assert read.last_success_at == read.finished_at and read.started_at <= read.finished_at
    assert queries.server_info().data["sandbox"] is True


def test_a_failed_tenant_read_keeps_its_old_row_and_saves_the_others(sandbox, acme, beta):
    assert refresh_server_state().ok
    before = queries.routing_of(acme.company_id)
    first = queries.last_read()
    sandbox.seed_login(acme.company_id, domains=["new-acme.io"])
    sandbox.seed_login(beta.company_id, domains=["new-beta.io"])
    # tenants are read by name one at a time here: Acme's read fails every retry, Beta's succeeds
    sandbox.fail_next("login.get_settings", status=503, times=4)

    result = refresh_server_state(concurrency=1)

    assert result.reached and not result.ok
    assert len(result.failures) == 1 and result.failures[0].startswith("Acme Research: ")
    assert "login.get_settings" in result.error and "HTTP 503" in result.error
    kept = queries.routing_of(acme.company_id)
    assert kept.data == before.data and kept.fetched_at == before.fetched_at
    assert "HTTP 503" in kept.error
    assert queries.routing_of(beta.company_id).data["domains"] == ["new-beta.io"]
    assert queries.users_of(acme.company_id).fetched_at > before.fetched_at
    read = queries.last_read()
    assert not read.ok and "Acme Research" in read.error and "login.get_settings" in read.error
    assert read.last_success_at == first.last_success_at


def test_an_unreachable_server_fails_the_read_and_keeps_the_snapshot(acme, sandbox_settings):
    assert refresh_server_state().ok
    rows = {(r.kind, r.key): (r.data, r.fetched_at) for r in ServerSnapshot.objects.all()}
    first = queries.last_read()
    sandbox_settings.CLEARML_API_URL = closed_port_url()

    result = refresh_server_state()

    assert not result.reached and not result.ok
    assert result.error.startswith("server.info: cannot connect")
    assert "connection refused" in result.error
    assert {(r.kind, r.key): (r.data, r.fetched_at) for r in ServerSnapshot.objects.all()} == rows
    read = queries.last_read()
    assert not read.ok and read.error == result.error
    assert read.last_success_at == first.last_success_at and read.finished_at > first.finished_at


def test_the_command_prints_what_it_read(sandbox, acme):
    out = StringIO()
    call_command("refresh_server_state", stdout=out, stderr=StringIO())
    printed = out.getvalue()
    assert f"Read the apiserver at {sandbox.url}" in printed
    assert "companies: 2" in printed and "routing read (login.get_settings): 1" in printed
    assert re.search(r"calls: \d+ in \d+ ms", printed)


def test_the_command_exits_1_naming_the_endpoint_when_the_server_is_unreachable(
    acme, sandbox_settings, monkeypatch
):
    url = closed_port_url()
    sandbox_settings.CLEARML_API_URL = url
    with pytest.raises(CommandError) as caught:
        call_command("refresh_server_state", stdout=StringIO(), stderr=StringIO())
    assert caught.value.returncode == 1
    assert f"cannot read the apiserver at {url}: server.info: cannot connect" in str(caught.value)

    # As `manage.py refresh_server_state` runs it: exit status 1, one line, no traceback.
    monkeypatch.setattr("django.db.connections.close_all", lambda: None)
    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as exited:
        RefreshCommand(stdout=out, stderr=err).run_from_argv(["manage.py", "refresh_server_state"])
    assert exited.value.code == 1
    assert "CommandError: cannot read the apiserver" in err.getvalue()
    assert "connection refused" in err.getvalue() and "Traceback" not in err.getvalue()


def test_the_command_exits_1_when_a_tenant_read_fails(sandbox, acme):
    sandbox.fail_next("users.get_all", status=403, times=1)
    err = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("refresh_server_state", stdout=StringIO(), stderr=err)
    assert caught.value.returncode == 1
    assert "failed: Acme Research: users.get_all: forbidden, HTTP 403" in err.getvalue()
    assert queries.routing_of(acme.company_id).read  # the other reads were saved


def test_companies_upsert_amends_only_a_snapshot_that_exists(sandbox, acme):
    assert store.companies_upsert({"id": "new", "name": "New"}) is False
    assert not ServerSnapshot.objects.exists()
    refresh_server_state()
    at = queries.companies().fetched_at
    assert store.companies_upsert({"id": "new", "name": "New"}) is True
    assert store.companies_upsert({"id": acme.company_id, "name": "Acme Renamed"}) is True
    listed = queries.companies()
    names = {c["name"] for c in listed.companies}
    assert {"Acme Renamed", "New"} <= names and "Acme Research" not in names
    assert len(names) == len(sandbox.companies(include_system=True)) + 1
    assert listed.fetched_at == at


# -- pages ------------------------------------------------------------------------------------
def test_the_tenant_list_makes_no_apiserver_call(admin_client, sandbox, acme):
    outside = sandbox.seed_company("Zeta Labs")
    page = text(admin_client.get(reverse("tenants:list")))
    assert "Zeta Labs" not in page and "never read from the apiserver" in page
    refresh_server_state()
    seen = len(sandbox.requests)
    for params in ({}, {"show": "outside"}, {"q": "zeta"}, {"show": "attention"}):
        page = text(admin_client.get(reverse("tenants:list"), params))
        assert "The server's companies as of" in page
        if params.get("show") != "attention":
            assert "Zeta Labs" in page and outside in page
    assert len(sandbox.requests) == seen


def test_a_tenant_created_after_the_snapshot_is_not_called_missing(admin_client, acme):
    refresh_server_state()
    Tenant.objects.create(name="Gamma", company_id="made-after-the-read", status="active")
    page = text(admin_client.get(reverse("tenants:list")))
    assert "Gamma" in page and "Missing on the server" not in page
    # created before the read and still not listed: the server has lost it
    earlier = queries.companies().fetched_at - timedelta(seconds=1)
    Tenant.objects.filter(name="Gamma").update(created_at=earlier)
    assert "Missing on the server" in text(admin_client.get(reverse("tenants:list")))


def test_every_page_answers_from_the_database_when_the_server_is_gone(
    admin_client, sandbox, sandbox_settings, acme
):
    LoginDomain.objects.create(tenant=acme, domain="acme.io")
    WhitelistEntry.objects.create(tenant=acme, email="c@x.io", is_admin=True)
    outside = sandbox.seed_company("Zeta Labs")
    assert refresh_server_state().ok
    sandbox_settings.CLEARML_API_URL = closed_port_url()
    assert not refresh_server_state().reached  # the server is gone, and the console knows it
    seen = len(sandbox.requests)

    live = reverse("sso:routing_live", args=[acme.pk])
    pages = {
        "dashboard": (reverse("dashboard"), {}),
        "connection panel": (reverse("connection_panel"), HTMX),
        "tenant list": (reverse("tenants:list"), {}),
        "import list": (reverse("tenants:list") + "?show=outside", {}),
        "tenant detail": (reverse("tenants:detail", args=[acme.pk]), {}),
        "routing page": (reverse("sso:tenant_routing", args=[acme.pk]), {}),
        "routing live view": (live, {}),
        "routing live fragment": (live, HTMX),
    }
    for name, (url, headers) in pages.items():
        started = time.monotonic()
        response = admin_client.get(url, headers=headers)
        elapsed = time.monotonic() - started
        assert response.status_code == 200, name
        assert elapsed < 0.5, f"{name} took {elapsed:.2f}s"
        page = text(response)
        if name == "routing page":  # the server's side is the live fragment, loaded into it
            assert f'hx-get="{live}"' in page
        else:
            assert " as of " in page, name
            assert 'action="/refresh/"' in page, name
    assert len(sandbox.requests) == seen  # and not one call to the (old) server either

    page = text(admin_client.get(reverse("tenants:list") + "?show=outside"))
    assert "Zeta Labs" in page and outside in page and "Import" in page
    page = text(admin_client.get(live, headers=HTMX))
    assert "The server matches the console" in page and "The server's routing as of" in page
    page = text(admin_client.get(reverse("tenants:detail", args=[acme.pk])))
    assert 'badge-ok">listed</span>' in page
    assert "<dt>Users</dt><dd>1 (<code>users.get_all</code>, as of" in page


def test_the_dashboard_says_how_the_last_refresh_went(
    admin_client, sandbox, sandbox_settings, acme
):
    def panel() -> str:
        return text(admin_client.get(reverse("dashboard")))

    page = panel()
    assert 'class="card connection never"' in page
    assert '<span class="badge badge-never" id="conn-state">never refreshed</span>' in page
    assert "badge badge-ok" not in page

    good = sandbox.url
    sandbox_settings.CLEARML_API_URL = closed_port_url()
    refresh_server_state()
    page = panel()
    assert 'class="card connection bad"' in page and "never reached" in page
    assert "has never been read successfully" in page and "Nothing answers" in page

    sandbox_settings.CLEARML_API_URL = good
    refresh_server_state()
    page = panel()
    assert 'class="card connection ok"' in page
    assert '<span class="badge badge-ok" id="conn-state">reached</span>' in page
    assert "sandbox apiserver" in page and "Server data as of" in page

    sandbox_settings.CLEARML_API_URL = closed_port_url()
    refresh_server_state()
    page = panel()
    assert 'class="card connection ok"' not in page and "badge badge-ok" not in page
    assert 'class="card connection warn"' in page
    assert '<span class="badge badge-warn" id="conn-state">last refresh failed</span>' in page
    assert "The last refresh failed (server.info: cannot connect" in page
    assert "Server data as of" in page  # what the pages show is that older read


def test_the_refresh_button_reads_the_server_and_comes_back(admin_client, sandbox, acme):
    url = reverse("tenants:detail", args=[acme.pk])
    response = admin_client.post(reverse("refresh"), {"next": url})
    assert response.status_code == 302 and response["Location"] == url
    assert queries.last_read().ok
    page = text(admin_client.get(url))
    assert "Read the apiserver: 2 companies" in page

    response = admin_client.post(reverse("refresh"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("dashboard")

    response = admin_client.post(reverse("refresh"), {"next": url}, headers=HTMX)
    assert response.status_code == 204 and response["HX-Redirect"] == url


def test_the_refresh_button_of_a_tenant_reads_only_that_tenant(admin_client, sandbox, acme, beta):
    seen = len(sandbox.requests)
    admin_client.post(reverse("refresh"), {"tenant": beta.pk, "next": "/"})
    asked = [r for r in sandbox.requests[seen:] if r["endpoint"] == "login.get_settings"]
    assert [r["act_as"] for r in asked] == [beta.first_admin().user_id]
    assert queries.routing_of(acme.company_id) is None
    assert queries.routing_of(beta.company_id).read


def test_a_failed_refresh_says_so_and_the_pages_keep_the_older_read(
    admin_client, sandbox_settings, acme
):
    admin_client.post(reverse("refresh"), {"next": "/"})
    sandbox_settings.CLEARML_API_URL = closed_port_url()
    response = admin_client.post(reverse("refresh"), {"next": "/"}, follow=True)
    page = text(response)
    assert "Could not read the apiserver: server.info: cannot connect" in page
    assert "The pages show what was read before" in page
    assert ServerRead.objects.get().last_success_at is not None


def test_the_live_view_shows_the_last_failure_next_to_the_older_read(admin_client, sandbox, acme):
    refresh_server_state()
    sandbox.fail_next("login.get_settings", status=400, message="no such user to act as")
    refresh_server_state()
    page = text(admin_client.get(reverse("sso:routing_live", args=[acme.pk]), headers=HTMX))
    assert "The last refresh could not read the server's routing" in page
    assert "no such user to act as" in page and "The server's routing as of" in page


def test_rows_reads_each_asked_row_of_several_kinds_in_one_query(django_assert_num_queries):
    for kind, key in [("routing", "c1"), ("routing", "c2"), ("routing", "c3"), ("companies", "")]:
        ServerSnapshot.objects.create(
            kind=kind, key=key, data={"k": key}, fetched_at=timezone.now()
        )
    with django_assert_num_queries(1):
        found = queries.rows(
            ("routing", "c1"), ("routing", "c3"), ("routing", "gone"), ("companies", None)
        )
    assert sorted(found) == [("companies", ""), ("routing", "c1"), ("routing", "c3")]
    assert found[("routing", "c3")].data == {"k": "c3"}
    with django_assert_num_queries(0):  # nothing asked: nothing read
        assert queries.rows() == {}
