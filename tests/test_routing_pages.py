"""The routing pages in the browser's way: inline edits (htmx), live view, push, import, map."""

import re

import pytest
from django.urls import reverse

from changes.refresh import refresh_server_state
from console.apiserver import client_from_settings
from sso.models import LoginDomain, RoutingImport, RoutingPushJob, WhitelistEntry
from tenants.models import Tenant, TenantAdmin

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def acme():
    return Tenant.objects.create(name="Acme Research")


@pytest.fixture
def beta():
    tenant = Tenant.objects.create(name="Beta Labs")
    LoginDomain.objects.create(tenant=tenant, domain="beta.io")
    WhitelistEntry.objects.create(tenant=tenant, email="bob@gmail.com")
    return tenant


@pytest.fixture
def live_acme(sandbox_settings):
    """Acme with a company and an admin user on the sandbox."""
    client = client_from_settings()
    company = client.call("system.create_company", {"name": "Acme Research"})["id"]
    user = client.call(
        "auth.create_user",
        {"name": "Alice", "company": company, "email": "alice@acme.io", "role": "admin"},
    )["id"]
    tenant = Tenant.objects.create(name="Acme Research", company_id=company, status="active")
    TenantAdmin.objects.create(tenant=tenant, name="Alice", email="alice@acme.io", user_id=user)
    return tenant


@pytest.fixture
def refresh(sandbox_settings):
    """Read the sandbox into the snapshot the live view shows (pages never call the server)."""

    def run():
        result = refresh_server_state()
        assert result.reached, result.error
        return result

    return run


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_routing_map_is_the_navigation_entry(admin_client, acme, beta):
    response = admin_client.get(reverse("dashboard"))
    assert reverse("sso:routing_map") in text(response)
    response = admin_client.get(reverse("sso:routing_map"))
    assert response.status_code == 200
    page = text(response)
    assert "Acme Research" in page and "Beta Labs" in page
    assert "beta.io" in page and "bob@gmail.com" in page


def test_the_routing_map_searches_and_answers_a_fragment_to_htmx(admin_client, acme, beta):
    LoginDomain.objects.create(tenant=acme, domain="xn--bcher-kva.example")
    response = admin_client.get(reverse("sso:routing_map"), {"q": "BÜCHER"}, headers=HTMX)
    page = text(response)
    assert "<html" not in page  # a fragment
    assert "xn--bcher-kva.example" in page and "bücher.example" in page
    assert "beta.io" not in page
    response = admin_client.get(reverse("sso:routing_map"), {"q": "beta labs"})
    assert "bob@gmail.com" in text(response) and "beta.io" in text(response)
    response = admin_client.get(reverse("sso:routing_map"), {"kind": "user"})
    assert "bob@gmail.com" in text(response) and "beta.io</code>" not in text(response)


def test_the_routing_map_pages_through_many_emails(admin_client, acme):
    WhitelistEntry.objects.bulk_create(
        WhitelistEntry(tenant=acme, email=f"u{i:04d}@acme.io") for i in range(250)
    )
    response = admin_client.get(reverse("sso:routing_map"), {"page": 5})
    page = text(response)
    assert "u0200@acme.io" in page and "u0199@acme.io" not in page
    assert "Page 5 of 5" in page


def test_the_routing_map_query_count_does_not_grow_with_tenants(
    admin_client, django_assert_max_num_queries
):
    for i in range(30):
        tenant = Tenant.objects.create(name=f"T{i}")
        LoginDomain.objects.create(tenant=tenant, domain=f"t{i}.example")
        WhitelistEntry.objects.create(tenant=tenant, email=f"a@t{i}.example", is_admin=True)
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("sso:routing_map"))
    assert response.status_code == 200 and "T29" in text(response)


def test_the_tenant_page_shows_lists_rules_and_the_docs_note(admin_client, acme, beta):
    WhitelistEntry.objects.create(tenant=acme, email="carol@partner.com", is_admin=True)
    WhitelistEntry.objects.create(tenant=acme, email="dora@beta.io")
    response = admin_client.get(reverse("sso:tenant_routing", args=[acme.pk]))
    page = text(response)
    assert response.status_code == 200
    assert "carol@partner.com" in page
    assert (
        '<code>dora@beta.io</code><br><span class="badge badge-warn">its domain routes to Beta Labs'
        in page
    )
    assert "does not affect a user who has already signed in" in page
    assert "whitelisted email first, then the email's domain" in page
    # No admin yet: the page explains why a push is impossible.
    assert "an admin must exist first" in page


def test_the_tenant_page_query_count_does_not_grow_with_the_whitelist(
    admin_client, acme, django_assert_max_num_queries
):
    WhitelistEntry.objects.bulk_create(
        WhitelistEntry(tenant=acme, email=f"u{i:05d}@acme.io", is_admin=i % 3 == 0)
        for i in range(3000)
    )
    with django_assert_max_num_queries(14):
        response = admin_client.get(reverse("sso:tenant_routing", args=[acme.pk]))
    page = text(response)
    assert "1–100 of 1000" in page and "1–100 of 2000" in page


def test_a_deleted_tenant_has_no_routing_page(admin_client, acme):
    from django.utils import timezone

    acme.deleted_at = timezone.now()
    acme.save()
    assert admin_client.get(reverse("sso:tenant_routing", args=[acme.pk])).status_code == 404


def test_inline_add_answers_the_list_fragment(admin_client, acme):
    url = reverse("sso:routing_add", args=[acme.pk, "domain"])
    response = admin_client.post(url, {"value": " Acme.IO, acme.com"}, headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "routing-changed"
    page = text(response)
    assert 'id="list-domain"' in page and "<html" not in page
    assert "acme.io" in page and "Added 2" in page
    assert set(acme.login_domains.values_list("domain", flat=True)) == {"acme.io", "acme.com"}


def test_inline_add_keeps_the_input_and_shows_the_reason(admin_client, acme, beta):
    url = reverse("sso:routing_add", args=[acme.pk, "domain"])
    response = admin_client.post(url, {"value": "beta.io nope"}, headers=HTMX)
    page = text(response)
    assert 'value="beta.io nope"' in page and 'aria-invalid="true"' in page
    assert "already a sign-in domain of tenant &#x27;Beta Labs&#x27;" in page
    assert "needs at least two labels" in page
    assert not acme.login_domains.exists()


def test_inline_add_refuses_an_email_with_the_other_role(admin_client, acme):
    WhitelistEntry.objects.create(tenant=acme, email="carol@partner.com", is_admin=True)
    url = reverse("sso:routing_add", args=[acme.pk, "user"])
    response = admin_client.post(url, {"value": "Carol@partner.com"}, headers=HTMX)
    assert "one role" in text(response)
    assert WhitelistEntry.objects.get(email="carol@partner.com").is_admin


def test_inline_add_shows_a_cross_routing_warning(admin_client, acme, beta):
    url = reverse("sso:routing_add", args=[acme.pk, "admin"])
    response = admin_client.post(url, {"value": "eve@beta.io"}, headers=HTMX)
    page = text(response)
    assert "Warning:" in page and "Beta Labs" in page
    assert WhitelistEntry.objects.get(email="eve@beta.io").tenant == acme


def test_inline_edits_work_without_javascript(admin_client, acme):
    url = reverse("sso:routing_add", args=[acme.pk, "user"])
    response = admin_client.post(url, {"value": "bob@gmail.com"})
    assert response.status_code == 302
    page = text(admin_client.get(response["Location"]))
    assert "bob@gmail.com" in page and "Added 1" in page
    url = reverse("sso:routing_remove", args=[acme.pk, "user"])
    response = admin_client.post(url, {"key": "bob@gmail.com"}, follow=True)
    assert "keeps their account" in text(response)
    assert not acme.whitelist.exists()


def test_an_unknown_list_kind_is_not_found(admin_client, acme):
    url = reverse("sso:routing_add", args=[acme.pk, "owners"])
    assert admin_client.post(url, {"value": "x@y.io"}).status_code == 404


def test_the_list_filter_pages_and_filters(admin_client, acme):
    WhitelistEntry.objects.bulk_create(
        WhitelistEntry(tenant=acme, email=f"u{i:03d}@acme.io") for i in range(150)
    )
    url = reverse("sso:routing_list", args=[acme.pk, "user"])
    page = text(admin_client.get(url, {"q": "u14"}, headers=HTMX))
    assert "u149@acme.io" in page and "u001@acme.io" not in page
    page = text(admin_client.get(url, {"page": 2}, headers=HTMX))
    assert "u100@acme.io" in page and "101–150 of 150" in page


def test_the_live_view_shows_drift_and_pushes_or_pulls(admin_client, live_acme, sandbox, refresh):
    acme = live_acme
    LoginDomain.objects.create(tenant=acme, domain="acme.io")
    WhitelistEntry.objects.create(tenant=acme, email="carol@partner.com", is_admin=True)
    sandbox.seed_login(acme.company_id, domains=["old.io"], whitelist={"carol@partner.com": 0})
    refresh()
    page = text(admin_client.get(reverse("sso:routing_live", args=[acme.pk]), headers=HTMX))
    assert "differs from the console" in page and "3 differences" in page
    assert "old.io" in page and "acme.io" in page
    assert "Take the server's version" in page and "Push the console's version" in page

    response = admin_client.post(reverse("sso:routing_push", args=[acme.pk]))
    job = RoutingPushJob.objects.get(tenant=acme)
    assert response["Location"] == reverse("sso:routing_push_job", args=[acme.pk, job.pk])
    step = reverse("sso:routing_push_step", args=[acme.pk, job.pk])
    page = text(admin_client.post(step, headers=HTMX))
    assert "Done" in page and "hx-post" not in page
    refresh()
    page = text(admin_client.get(reverse("sso:routing_live", args=[acme.pk]), headers=HTMX))
    assert "The server matches the console" in page

    sandbox.seed_login(acme.company_id, domains=["server.io"], whitelist={})
    response = admin_client.post(reverse("sso:routing_pull", args=[acme.pk]), follow=True)
    assert "Took the server" in text(response)
    assert list(acme.login_domains.values_list("domain", flat=True)) == ["server.io"]
    assert not acme.whitelist.exists()


def test_the_live_view_explains_a_missing_admin_and_a_failing_server(
    admin_client, live_acme, sandbox, refresh
):
    lonely = Tenant.objects.create(name="Lonely")
    page = text(admin_client.get(reverse("sso:routing_live", args=[lonely.pk]), headers=HTMX))
    assert "an admin must exist first" in page
    sandbox.fail_next("login.get_settings", status=503, times=10)
    refresh()
    page = text(admin_client.get(reverse("sso:routing_live", args=[live_acme.pk])))
    assert "Cannot read the server" in page and "HTTP 503" in page


def test_pushing_a_tenant_without_admin_explains_it(admin_client, acme, sandbox_settings):
    response = admin_client.post(reverse("sso:routing_push", args=[acme.pk]), follow=True)
    assert "an admin must exist first" in text(response)
    assert not RoutingPushJob.objects.exists()


def test_push_progress_polls_until_done_and_offers_resume_after_a_failure(
    admin_client, live_acme, sandbox, settings
):
    acme = live_acme
    settings.ROUTING_PUSH_BATCH_SIZE = 2
    WhitelistEntry.objects.bulk_create(
        WhitelistEntry(tenant=acme, email=f"u{i}@acme.io") for i in range(6)
    )
    admin_client.post(reverse("sso:routing_push", args=[acme.pk]))
    job = RoutingPushJob.objects.get(tenant=acme)
    page = text(admin_client.get(reverse("sso:routing_push_job", args=[acme.pk, job.pk])))
    assert "hx-post" in page and "0 of 3 calls applied" in page
    sandbox.fail_next("login.add_whitelist_entries", status=500)
    step = reverse("sso:routing_push_step", args=[acme.pk, job.pk])
    page = text(admin_client.post(step, headers=HTMX))
    assert "Stopped part-way" in page and "Resume" in page and "HTTP 500" in page
    assert "hx-post" not in page  # polling stops
    response = admin_client.post(reverse("sso:routing_push", args=[acme.pk]))
    assert response["Location"].endswith(f"/push/{job.pk}/")
    for _ in range(5):
        page = text(admin_client.post(step, headers=HTMX))
        if "hx-post" not in page:
            break
    assert "Done" in page and "Resumed 1 time" in page
    assert len(sandbox.login_settings(acme.company_id)["whitelist"]) == 6


def test_bulk_import_shows_bad_lines_and_saves_nothing(admin_client, acme, beta):
    url = reverse("sso:routing_import", args=[acme.pk])
    body = "email,is_admin\nok@acme.io,true\nbroken,false\nbob@gmail.com,false\n"
    response = admin_client.post(url, {"text": body, "role_mode": "column"})
    assert response.status_code == 400
    page = text(response)
    assert "2 bad lines" in page and "nothing was saved" in page
    assert '<td class="num">3</td>' in page and '<td class="num">4</td>' in page
    assert "Beta Labs" in page
    assert not acme.whitelist.exists() and not RoutingImport.objects.exists()


def test_bulk_import_upload_preview_save_and_push(admin_client, live_acme, sandbox):
    from django.core.files.uploadedfile import SimpleUploadedFile

    acme = live_acme
    upload = SimpleUploadedFile("hr.csv", b"a@acme.io\nb@acme.io\n", content_type="text/csv")
    url = reverse("sso:routing_import", args=[acme.pk])
    response = admin_client.post(url, {"file": upload, "role_mode": "users"})
    draft = RoutingImport.objects.get()
    assert response["Location"] == reverse("sso:routing_import_preview", args=[acme.pk, draft.pk])
    page = text(admin_client.get(response["Location"]))
    assert "Every line is valid" in page and "hr.csv" in page
    assert not acme.whitelist.exists()
    save = reverse("sso:routing_import_save", args=[acme.pk, draft.pk])
    response = admin_client.post(save, {"push": "1"})
    job = RoutingPushJob.objects.get(tenant=acme)
    assert response["Location"] == reverse("sso:routing_push_job", args=[acme.pk, job.pk])
    assert set(acme.whitelist.values_list("email", flat=True)) == {"a@acme.io", "b@acme.io"}
    admin_client.post(reverse("sso:routing_push_step", args=[acme.pk, job.pk]))
    whitelist = sandbox.login_settings(acme.company_id)["whitelist"]
    assert {e["email"] for e in whitelist} == {"a@acme.io", "b@acme.io"}


def test_bulk_import_file_level_problem_is_shown(admin_client, acme):
    url = reverse("sso:routing_import", args=[acme.pk])
    response = admin_client.post(url, {"text": "a@acme.io\n", "role_mode": "column"})
    assert response.status_code == 400 and "no is_admin column" in text(response)


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("Carol@Partner.com", ["Acme Research", "1 · whitelist", "admin", "routes to &#x27;Beta"]),
        ("dan@beta.io", ["Beta Labs", "2 · domain", "beta.io"]),
        ("eve@sub.beta.io", ["no tenant", "3 · none", "assumed to match exactly"]),
        ("zed@nowhere.example", ["no tenant", "default_company"]),
        ("not-an-email", ["Not an email address", "exactly one @"]),
    ],
)
def test_the_simulator_routes_whitelist_first_then_domain(
    admin_client, acme, beta, email, expected
):
    WhitelistEntry.objects.create(tenant=acme, email="carol@partner.com", is_admin=True)
    LoginDomain.objects.create(tenant=beta, domain="partner.com")
    response = admin_client.get(reverse("sso:simulator"), {"email": email}, headers=HTMX)
    page = text(response)
    assert "<html" not in page
    for part in expected:
        assert part in page
    full = text(admin_client.get(reverse("sso:simulator"), {"email": email}))
    assert "The rules, in order" in full


def test_the_sign_in_index_links_every_section(admin_client):
    page = admin_client.get("/sso/")
    assert page.status_code == 200
    text = page.content.decode()
    for name in ("sso:routing_map", "sso:providers", "sso:multitenant"):
        assert f'href="{reverse(name)}"' in text


@pytest.mark.parametrize("debug", [True, False])
def test_a_missing_page_answers_with_the_consoles_404_page(admin_client, settings, debug):
    settings.DEBUG = debug
    response = admin_client.get("/sso/no-such-page/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "Page not found" in text and "Back to the dashboard" in text
    assert "Django tried these URL patterns" not in text


def test_a_missing_object_answers_with_the_consoles_404_page_in_debug_too(admin_client, settings):
    settings.DEBUG = True
    response = admin_client.get(reverse("tenants:detail", args=[999999]))
    assert response.status_code == 404 and "Back to the dashboard" in response.content.decode()
