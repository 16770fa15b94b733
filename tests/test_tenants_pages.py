"""The tenant pages in the browser's way: create form, plan, apply/resume, credentials, edit,
list/import and deletion by runbook, against the sandbox apiserver."""

import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from changes.refresh import refresh_server_state
from changes.tenants import tenant_apply as tenant_provision
from tenants.models import Tenant, TenantAdmin
from tests.test_tenants_provisioning import create

pytestmark = pytest.mark.django_db


@pytest.fixture
def refresh(sandbox_settings):
    """Read the sandbox into the snapshot the Tenants page shows (pages never call the server)."""

    def run():
        result = refresh_server_state()
        assert result.reached, result.error
        return result

    return run


def form_data(**extra) -> dict:
    data = {
        "name": "Acme Research",
        "allowed_users": "10",
        "feature__experiments": "add",
        "feature__app_management": "exclude",
        "admin_rows": "1",
        "admin-0-name": "Alice Admin",
        "admin-0-email": "alice@acme.io",
        "admin-0-internal": "on",
        "domains": "acme.io",
        "whitelist_admins": "",
        "whitelist_users": "bob@gmail.com",
    }
    data.update(extra)
    return data


def test_the_create_form_saves_a_plan_and_sends_nothing(admin_client, sandbox, sandbox_settings):
    response = admin_client.post(reverse("tenants:create"), form_data())
    tenant = Tenant.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tenants:plan", args=[tenant.pk])
    assert sandbox.calls == []
    page = admin_client.get(response["Location"]).content.decode()
    for endpoint in [
        "system.create_company",
        "auth.create_user",
        "auth.create_credentials",
        "login.set_domains",
        "login.add_whitelist_entries",
    ]:
        assert endpoint in page
    assert "$APISERVER_SECRET" in page
    assert "&lt;COMPANY_ID&gt;" in page
    assert "X-Clearml-Impersonate-As: &lt;USER_ID of alice@acme.io&gt;" in page
    assert sandbox.calls == []


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("name", "", "is required"),
        ("name", "x" * 101, "is 101 characters long; shorten it to at most 100."),
        ("allowed_users", "-3", "must be at least 1"),
        ("allowed_users", "99999999999", "must be at most 1,000,000"),
        ("allowed_users", "ten", "must be a whole number"),
        ("admin-0-email", "alice@", "alice@"),
        ("admin-0-email", "", "is required"),
        ("domains", "not a domain!", "not a domain!"),
        ("whitelist_users", "bob@", "bob@"),
    ],
)
def test_bad_input_is_shown_next_to_the_field_and_kept(
    admin_client, sandbox, sandbox_settings, field, value, message
):
    response = admin_client.post(reverse("tenants:create"), form_data(**{field: value}))
    assert response.status_code == 400
    page = response.content.decode()
    assert message.replace("'", "&#x27;") in page or message in page
    assert 'aria-invalid="true"' in page
    assert "Alice Admin" in page  # what the admin typed is kept
    assert Tenant.objects.count() == 0
    assert sandbox.calls == []


def test_a_name_differing_only_by_case_is_refused(admin_client, sandbox, sandbox_settings):
    create()
    response = admin_client.post(
        reverse("tenants:create"),
        form_data(name="ACME research", **{"admin-0-email": "x@acme2.io", "domains": ""}),
    )
    assert response.status_code == 400
    assert "already exists (names are compared ignoring case)" in response.content.decode()


def test_a_domain_of_another_tenant_is_refused_naming_it(admin_client, sandbox, sandbox_settings):
    create()
    response = admin_client.post(
        reverse("tenants:create"),
        form_data(name="Beta", **{"admin-0-email": "b@beta.io", "whitelist_users": ""}),
    )
    assert response.status_code == 400
    assert "Acme Research" in response.content.decode()


def test_add_admin_row_keeps_the_input(admin_client):
    response = admin_client.post(reverse("tenants:create"), form_data(add_admin="1"))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="admin-1-email"' in page and 'value="alice@acme.io"' in page
    assert Tenant.objects.count() == 0


def test_applying_shows_the_credentials_once_and_never_again(
    admin_client, sandbox, sandbox_settings
):
    admin_client.post(reverse("tenants:create"), form_data())
    tenant = Tenant.objects.get()
    response = admin_client.post(reverse("tenants:apply", args=[tenant.pk]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    user = sandbox.user_by_email("alice@acme.io")
    [cred] = sandbox.credentials(user["id"])
    secret = re.search(r'id="cred1-secret">([^<]+)<', page).group(1)
    assert cred["access_key"] in page
    assert sandbox.state["credentials"][0]["secret"].startswith("sha256:")
    from sandbox import fingerprint

    assert fingerprint(secret) == sandbox.state["credentials"][0]["secret"]
    assert "api_server: " + sandbox.url in page
    assert "agentk8sglueSecret" in page
    assert 'data-copy-target="cred1-secret"' in page
    for url in [
        reverse("tenants:detail", args=[tenant.pk]),
        reverse("tenants:plan", args=[tenant.pk]),
        reverse("tenants:list"),
        reverse("audit:list"),
    ]:
        assert secret not in admin_client.get(url).content.decode()
    assert secret not in str(dict(admin_client.session))


def test_a_failure_shows_done_and_failed_steps_and_resume_finishes(
    admin_client, sandbox, sandbox_settings
):
    admin_client.post(reverse("tenants:create"), form_data())
    tenant = Tenant.objects.get()
    sandbox.fail_next("auth.create_user", status=400, message="email domain blocked")
    response = admin_client.post(reverse("tenants:apply", args=[tenant.pk]))
    assert "Stopped at a failed step" in response.content.decode()
    detail = admin_client.get(reverse("tenants:detail", args=[tenant.pk])).content.decode()
    assert "1 of 5 steps done" in detail
    assert "email domain blocked" in detail
    assert "Resume" in detail
    response = admin_client.post(reverse("tenants:apply", args=[tenant.pk]))
    assert "All 4 steps done" in response.content.decode()
    assert len(sandbox.users(Tenant.objects.get().company_id)) == 1


def test_new_credentials_for_an_admin(admin_client, sandbox, sandbox_settings):
    tenant = create()
    tenant_provision(tenant=tenant, actor="admin")
    admin = TenantAdmin.objects.get()
    response = admin_client.post(
        reverse("tenants:credentials", args=[tenant.pk]), {"admin": admin.pk}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    keys = [c["access_key"] for c in sandbox.credentials(admin.user_id)]
    assert len(keys) == 2
    assert keys[1] in response.content.decode()
    assert sandbox.requests[-1]["impersonate_as"] == admin.user_id


def test_editing_features_sends_update_company_settings(admin_client, sandbox, sandbox_settings):
    tenant = create()
    tenant_provision(tenant=tenant, actor="admin")
    tenant.refresh_from_db()
    page = admin_client.get(reverse("tenants:edit", args=[tenant.pk])).content.decode()
    assert "must be defined for the tenant or for the entire server" in page
    response = admin_client.post(
        reverse("tenants:edit", args=[tenant.pk]),
        {
            "version": tenant.version,
            "allowed_users": "",
            "feature__pipelines": "add",
            "feature__reports": "add",
            "feature__app_management": "exclude",
        },
    )
    assert response.status_code == 302
    assert sandbox.company(tenant.company_id)["defaults"] == {
        "features": ["pipelines", "reports"],
        "exclude_features": ["app_management"],
    }
    request = sandbox.requests[-1]
    assert request["endpoint"] == "system.update_company_settings"
    assert request["body"] == {
        "company": tenant.company_id,
        "features": ["pipelines", "reports"],
        "allowed_users": None,
    }


def test_two_admins_editing_cannot_overwrite_each_other(admin_client, sandbox, sandbox_settings):
    tenant = create()
    tenant_provision(tenant=tenant, actor="admin")
    tenant.refresh_from_db()
    opened = tenant.version
    first = admin_client.post(
        reverse("tenants:edit", args=[tenant.pk]),
        {"version": opened, "allowed_users": "20"},
    )
    assert first.status_code == 302
    second = admin_client.post(
        reverse("tenants:edit", args=[tenant.pk]),
        {"version": opened, "allowed_users": "30", "feature__reports": "add"},
    )
    assert second.status_code == 409
    page = second.content.decode()
    assert "changed by someone else since you opened it; review and retry" in page
    assert 'value="30"' in page  # the second admin's input is kept
    assert sandbox.company(tenant.company_id)["defaults"]["allowed_users"] == 20
    assert Tenant.objects.get().allowed_users == 20


def test_the_list_merges_server_companies_and_imports_one(
    admin_client, sandbox, sandbox_settings, refresh
):
    tenant = create()
    tenant_provision(tenant=tenant, actor="admin")
    outside = sandbox.seed_company("Zeta Labs", allowed_users=5)
    sandbox.seed_user(outside, "zed@zeta.io", name="Zed")
    refresh()
    page = admin_client.get(reverse("tenants:list")).content.decode()
    assert "Acme Research" in page and "Zeta Labs" in page
    assert "Created outside the console" in page
    response = admin_client.post(reverse("tenants:import"), {"company_id": outside})
    imported = Tenant.objects.get(company_id=outside)
    assert response["Location"] == reverse("tenants:detail", args=[imported.pk])
    assert imported.origin == "imported" and imported.allowed_users == 5
    assert imported.admins.get().email == "zed@zeta.io"
    assert "Imported “Zeta Labs”" in admin_client.get(response["Location"]).content.decode()
    page = admin_client.get(reverse("tenants:list") + "?show=outside").content.decode()
    assert "Zeta Labs" not in page


def _seed_tenants(n: int) -> None:
    Tenant.objects.bulk_create(
        [Tenant(name=f"Tenant {i:05d}", company_id=f"c{i:05d}", status="active") for i in range(n)]
    )
    TenantAdmin.objects.bulk_create(
        [
            TenantAdmin(tenant_id=t, name="A", email=f"a{t}@t.io")
            for t in Tenant.objects.values_list("pk", flat=True)
        ]
    )


@pytest.mark.parametrize("query", ["", "Tenant 0", "@t.io"])
def test_the_list_makes_the_same_number_of_queries_for_10_or_1000_tenants(
    admin_client, sandbox, sandbox_settings, refresh, query
):
    counts = []
    for n in (10, 1000):
        Tenant.objects.all().delete()
        _seed_tenants(n)
        for i in range(n):
            sandbox.seed_company(f"Outside {n}-{i}") if i < 20 else None
        refresh()
        admin_client.get(reverse("tenants:list"))  # warm the session
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(reverse("tenants:list"), {"q": query, "page": 2})
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    assert counts[1] <= 6


def test_the_list_stays_fast_with_10000_server_companies(
    admin_client, sandbox, sandbox_settings, refresh
):
    import time

    for i in range(10_000):
        sandbox.seed_company(f"Company {i:05d}")
    refresh()
    calls = len(sandbox.calls)
    started = time.monotonic()
    response = admin_client.get(reverse("tenants:list"), {"page": 150})
    first = time.monotonic() - started
    page = response.content.decode()
    assert "Company 07450" in page and "page 150 of 201" in page
    response = admin_client.get(reverse("tenants:list"), {"q": "Company 0999", "page": 1})
    assert "Company 09990" in response.content.decode()
    assert len(sandbox.calls) == calls  # the pages read the snapshot: no call at all
    assert first < 5


def test_delete_by_runbook(admin_client, sandbox, sandbox_settings):
    tenant = create()
    tenant_provision(tenant=tenant, actor="admin")
    tenant.refresh_from_db()
    url = reverse("tenants:delete", args=[tenant.pk])
    page = admin_client.get(url).content.decode()
    assert "delete_company_data_from_mongo" not in page  # behind the typed name
    wrong = admin_client.post(url, {"step": "confirm", "confirm_name": "acme research"})
    assert wrong.status_code == 400
    shown = admin_client.post(
        url, {"step": "confirm", "confirm_name": "Acme Research", "version": tenant.version}
    )
    page = shown.content.decode()
    assert f"tenant_to_delete={tenant.company_id}" in page
    assert "company_name_to_delete=&#x27;Acme Research&#x27;" in page
    assert "kubectl -n" in page and f"/mnt/fileserver/{tenant.company_id}" in page
    assert Tenant.objects.get().status == "active"
    not_ticked = admin_client.post(
        url, {"step": "mark", "confirm_name": "Acme Research", "version": tenant.version}
    )
    assert not_ticked.status_code == 400
    done = admin_client.post(
        url,
        {"step": "mark", "confirm_name": "Acme Research", "version": tenant.version, "ran": "yes"},
    )
    assert done.status_code == 302
    tenant.refresh_from_db()
    assert tenant.status == "deleted" and tenant.deleted_at is not None
    assert tenant.admins.get().released
    # The name and the admin's email may be used again.
    again = create()
    assert again.pk != tenant.pk


def test_an_edit_the_server_refuses_can_be_resumed(admin_client, sandbox, sandbox_settings):
    tenant = create()
    tenant_provision(tenant=tenant, actor="admin")
    tenant.refresh_from_db()
    sandbox.fail_next("system.update_company_settings", status=400, message="not today")
    response = admin_client.post(
        reverse("tenants:edit", args=[tenant.pk]),
        {"version": tenant.version, "allowed_users": "12"},
        follow=True,
    )
    page = response.content.decode()
    assert "not today" in page and "Resume" in page
    assert Tenant.objects.get().status == "failed"
    assert sandbox.company(tenant.company_id)["defaults"]["allowed_users"] == 10
    admin_client.post(reverse("tenants:apply", args=[tenant.pk]))
    assert sandbox.company(tenant.company_id)["defaults"]["allowed_users"] == 12
    assert Tenant.objects.get().status == "active"


def test_new_credentials_whose_answer_was_lost_leave_exactly_one_new_key(
    admin_client, sandbox, sandbox_settings
):
    tenant = create()
    tenant_provision(tenant=tenant, actor="admin")
    admin = TenantAdmin.objects.get()
    own_key, _ = sandbox.seed_credentials(admin.user_id, label="made in the web app")
    sandbox.fail_next("auth.create_credentials", drop_answer=True)
    response = admin_client.post(
        reverse("tenants:credentials", args=[tenant.pk]), {"admin": admin.pk}
    )
    assert "Stopped at a failed step" in response.content.decode()
    assert len(sandbox.credentials(admin.user_id)) == 3  # first, own, and the unseen one
    response = admin_client.post(reverse("tenants:apply", args=[tenant.pk]))
    page = response.content.decode()
    keys = {c["access_key"] for c in sandbox.credentials(admin.user_id)}
    shown = set(admin.credentials.values_list("access_key", flat=True))
    # The unseen key was revoked; the admin's own key and every key shown once are kept.
    assert keys == shown | {own_key}
    assert len(keys) == 3
    assert re.search(r'id="cred1-secret">[^<]+<', page)


def test_a_plan_that_never_reached_the_server_can_be_discarded(
    admin_client, sandbox, sandbox_settings
):
    admin_client.post(reverse("tenants:create"), form_data())
    tenant = Tenant.objects.get()
    response = admin_client.post(reverse("tenants:discard", args=[tenant.pk]))
    assert response.status_code == 302
    assert not Tenant.objects.exists() and not TenantAdmin.objects.exists()
    assert sandbox.calls == []


def test_a_tenant_whose_company_answer_was_lost_cannot_be_discarded(
    admin_client, sandbox, sandbox_settings
):
    admin_client.post(reverse("tenants:create"), form_data())
    tenant = Tenant.objects.get()
    sandbox.fail_next("system.create_company", drop_answer=True)
    admin_client.post(reverse("tenants:apply", args=[tenant.pk]))
    admin_client.post(reverse("tenants:discard", args=[tenant.pk]))
    assert Tenant.objects.filter(pk=tenant.pk).exists()


def test_pages_say_plainly_when_the_apiserver_is_not_configured(admin_client, settings):
    settings.CLEARML_API_URL = ""
    create()
    page = admin_client.get(reverse("tenants:list")).content.decode()
    assert "not configured" in page and "Acme Research" in page
    tenant = Tenant.objects.get()
    response = admin_client.post(reverse("tenants:apply", args=[tenant.pk]))
    assert "CLEARML_API_URL is not set" in response.content.decode()


def test_the_platform_company_is_shown_as_such_and_cannot_be_imported(
    admin_client, sandbox, sandbox_settings
):
    from django.core.management import call_command

    from console.snapshot.queries import platform_company_id

    call_command("refresh_server_state", stdout=io.StringIO())
    platform = platform_company_id()
    assert platform  # read with users.get_current_user
    page = admin_client.get(reverse("tenants:list")).content.decode()
    assert "Platform company" in page
    assert f'name="company_id" value="{platform}"' not in page  # no Import button for it
    response = admin_client.post(reverse("tenants:import"), {"company_id": platform}, follow=True)
    assert "is the platform company" in response.content.decode()
    assert not Tenant.objects.filter(company_id=platform).exists()
