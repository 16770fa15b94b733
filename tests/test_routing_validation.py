"""Sign-in routing validation: one checker for forms, imports and SPEC files."""

import pytest

from console.validation import InvalidInput
from sso.models import LoginDomain, WhitelistEntry
from sso.routing.services import (
    routing_add,
    routing_remove,
    routing_save,
    routing_validate,
    spec_login_validate,
)
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return Tenant.objects.create(name="Acme Research")


@pytest.fixture
def beta():
    tenant = Tenant.objects.create(name="Beta Labs")
    LoginDomain.objects.create(tenant=tenant, domain="beta.io")
    WhitelistEntry.objects.create(tenant=tenant, email="bob@gmail.com", is_admin=False)
    return tenant


def validate(**kwargs):
    args = {"tenant_name": "Acme Research", "domains": [], "admins": [], "users": []}
    args.update(kwargs)
    args.setdefault("path", "tenants[0].login")
    return routing_validate(**args)


def errors_of(excinfo) -> dict[str, str]:
    return {e.path: e.message for e in excinfo.value.errors}


def test_it_normalises_case_spaces_and_idna():
    routing = validate(
        domains=[" Acme.IO ", "Bücher.example"],
        admins=["  Carol@Partner.COM"],
        users=["dora@BÜCHER.example"],
    )
    assert routing.domains == ["acme.io", "xn--bcher-kva.example"]
    assert routing.admins == ["carol@partner.com"]
    assert routing.users == ["dora@xn--bcher-kva.example"]
    assert routing.whitelist == {"carol@partner.com": True, "dora@xn--bcher-kva.example": False}


@pytest.mark.parametrize(
    ("field", "value", "path", "reason"),
    [
        ("domains", "acme", "tenants[0].login.domains[0]", "needs at least two labels"),
        ("domains", "bob@acme.io", "tenants[0].login.domains[0]", "is an email address"),
        ("domains", "acme .io", "tenants[0].login.domains[0]", "contains a space"),
        (
            "domains",
            "-acme.io",
            "tenants[0].login.domains[0]",
            "must not start or end with a hyphen",
        ),
        ("domains", "acme_x.io", "tenants[0].login.domains[0]", "not a valid domain"),
        ("domains", "10.0.0.1", "tenants[0].login.domains[0]", "looks like an IP address"),
        ("domains", "", "tenants[0].login.domains[0]", "A domain is required"),
        ("domains", 42, "tenants[0].login.domains[0]", "must be a text value"),
        ("admins", "carol", "tenants[0].login.whitelist.admins[0]", "needs exactly one @"),
        ("admins", "@acme.io", "tenants[0].login.whitelist.admins[0]", "nothing before the @"),
        ("users", "bo b@acme.io", "tenants[0].login.whitelist.users[0]", "not allowed"),
        ("users", "bob@acme", "tenants[0].login.whitelist.users[0]", "two labels"),
    ],
)
def test_it_refuses_an_invalid_item_with_path_and_reason(field, value, path, reason):
    with pytest.raises(InvalidInput) as excinfo:
        validate(**{field: [value]})
    errors = errors_of(excinfo)
    assert list(errors) == [path]
    assert reason in errors[path]


def test_it_refuses_a_domain_listed_twice_after_normalising():
    with pytest.raises(InvalidInput) as excinfo:
        validate(domains=["acme.io", "ACME.io "])
    errors = errors_of(excinfo)
    assert "listed twice" in errors["tenants[0].login.domains[1]"]
    assert "tenants[0].login.domains[0]" in errors["tenants[0].login.domains[1]"]


def test_it_refuses_an_email_in_both_the_admin_and_user_lists():
    with pytest.raises(InvalidInput) as excinfo:
        validate(admins=["carol@partner.com"], users=["Carol@Partner.com"])
    errors = errors_of(excinfo)
    message = errors["tenants[0].login.whitelist.users[0]"]
    assert "one role" in message
    assert "tenants[0].login.whitelist.admins[0]" in message


def test_it_refuses_a_domain_of_another_tenant_naming_both(beta):
    with pytest.raises(InvalidInput) as excinfo:
        validate(domains=["Beta.IO"])
    message = errors_of(excinfo)["tenants[0].login.domains[0]"]
    assert "'Beta Labs'" in message and "'Acme Research'" in message


def test_it_refuses_an_email_of_another_tenant_naming_it(beta):
    with pytest.raises(InvalidInput) as excinfo:
        validate(admins=["BOB@gmail.com"])
    message = errors_of(excinfo)["tenants[0].login.whitelist.admins[0]"]
    assert "already whitelisted for tenant 'Beta Labs'" in message


def test_it_ignores_the_tenants_own_keys_when_given_its_id(beta):
    routing = validate(tenant_name="Beta Labs", tenant_id=beta.pk, domains=["beta.io"])
    assert routing.domains == ["beta.io"]


def test_it_refuses_keys_of_other_tenants_of_the_same_spec():
    with pytest.raises(InvalidInput) as excinfo:
        validate(domains=["acme.io"], users=["x@y.io"], others={"acme.io": "Gamma", "x@y.io": "G"})
    errors = errors_of(excinfo)
    assert "'Gamma'" in errors["tenants[0].login.domains[0]"]
    assert "'G'" in errors["tenants[0].login.whitelist.users[0]"]


def test_it_reports_every_problem_at_once(beta):
    with pytest.raises(InvalidInput) as excinfo:
        validate(domains=["beta.io", "nope"], admins=["a@x.io", "a@x.io"], users=["bad"])
    assert set(errors_of(excinfo)) == {
        "tenants[0].login.domains[0]",
        "tenants[0].login.domains[1]",
        "tenants[0].login.whitelist.admins[1]",
        "tenants[0].login.whitelist.users[0]",
    }


def test_an_email_whose_domain_routes_elsewhere_is_a_warning_not_an_error(beta):
    routing = validate(users=["eve@beta.io"])
    assert routing.users == ["eve@beta.io"]
    [warning] = routing.warnings
    assert warning.path == "tenants[0].login.whitelist.users[0]"
    assert "beta.io" in warning.message and "'Beta Labs'" in warning.message


def test_a_domain_whose_emails_other_tenants_whitelist_is_a_warning(beta):
    routing = validate(domains=["gmail.com"], allow_public=["gmail.com"])
    [warning] = routing.warnings
    assert "bob@gmail.com" in warning.message and "'Beta Labs'" in warning.message


def test_too_many_domains_are_refused():
    with pytest.raises(InvalidInput) as excinfo:
        validate(domains=[f"d{i}.example" for i in range(501)])
    assert "at most 500 domains" in errors_of(excinfo)["tenants[0].login.domains"]


@pytest.mark.parametrize(
    ("login", "path", "reason"),
    [
        ("acme.io", "tenants[0].login", "must be a mapping"),
        ({"domain": ["acme.io"]}, "tenants[0].login.domain", "unknown key"),
        ({"whitelist": ["a@b.io"]}, "tenants[0].login.whitelist", "must be a mapping"),
        ({"whitelist": {"admin": []}}, "tenants[0].login.whitelist.admin", "unknown key"),
        ({"domains": "acme.io"}, "tenants[0].login.domains", "must be a list"),
    ],
)
def test_the_spec_login_section_is_checked(login, path, reason):
    with pytest.raises(InvalidInput) as excinfo:
        spec_login_validate(login, tenant_name="Acme", path="tenants[0].login")
    assert reason in errors_of(excinfo)[path]


def test_the_spec_login_section_gives_a_routing_set():
    routing = spec_login_validate(
        {"domains": ["Acme.io"], "whitelist": {"admins": ["c@p.com"], "users": ["b@g.com"]}},
        tenant_name="Acme",
        path="tenants[0].login",
    )
    assert routing.as_spec() == {
        "domains": ["acme.io"],
        "whitelist": {"admins": ["c@p.com"], "users": ["b@g.com"]},
    }
    assert routing.others() == {"acme.io": "Acme", "c@p.com": "Acme", "b@g.com": "Acme"}


def test_save_replaces_the_routing_and_writes_an_audit_entry(acme):
    from console.audit import AuditEntry

    LoginDomain.objects.create(tenant=acme, domain="old.io")
    WhitelistEntry.objects.create(tenant=acme, email="x@old.io", is_admin=False)
    routing = validate(
        domains=["acme.io"], admins=["x@old.io"], users=["y@acme.io"], tenant_id=acme.pk
    )
    change = routing_save(tenant=acme, routing=routing, actor="admin")
    assert list(acme.login_domains.values_list("domain", flat=True)) == ["acme.io"]
    assert dict(acme.whitelist.values_list("email", "is_admin")) == {
        "x@old.io": True,
        "y@acme.io": False,
    }
    assert change.domains_removed == ["old.io"]
    assert change.role_changed == {"x@old.io": True}
    entry = AuditEntry.objects.get(action="login.routing.update")
    assert entry.target_id == str(acme.pk)
    assert entry.before["domains"] == ["old.io"]
    assert entry.after["admins"] == ["x@old.io"] and entry.after["users"] == ["y@acme.io"]
    assert entry.before["users"] == ["x@old.io"]  # its role before the change


def test_saving_the_same_routing_twice_changes_nothing(acme):
    from console.audit import AuditEntry

    routing = validate(domains=["acme.io"])
    routing_save(tenant=acme, routing=routing, actor="admin")
    assert routing_save(tenant=acme, routing=routing, actor="admin").empty
    assert AuditEntry.objects.filter(action="login.routing.update").count() == 1


def test_save_turns_a_lost_race_into_a_message_naming_the_winner(acme, beta):
    # Validation passed before another tenant took the domain: the database refuses the save.
    routing = validate(domains=["acme.io"], users=["new@acme.io"])
    LoginDomain.objects.create(tenant=beta, domain="acme.io")
    with pytest.raises(InvalidInput) as excinfo:
        routing_save(tenant=acme, routing=routing, actor="admin")
    message = errors_of(excinfo)["tenants[0].login.domains[0]"]
    assert "'Beta Labs'" in message
    assert not acme.whitelist.exists()


def test_the_database_refuses_a_key_that_is_not_normalised(acme):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        LoginDomain.objects.create(tenant=acme, domain="Acme.io")
    with pytest.raises(IntegrityError), transaction.atomic():
        WhitelistEntry.objects.create(tenant=acme, email=" bob@acme.io")


def test_inline_add_refuses_the_other_role_and_repeats(acme):
    routing_add(tenant=acme, kind="admin", values=["Carol@Partner.com"], actor="admin")
    with pytest.raises(InvalidInput) as excinfo:
        routing_add(tenant=acme, kind="user", values=["carol@partner.com"], actor="admin")
    assert "one role" in excinfo.value.errors[0].message
    with pytest.raises(InvalidInput) as excinfo:
        routing_add(tenant=acme, kind="admin", values=["carol@partner.com"], actor="admin")
    assert "already listed" in excinfo.value.errors[0].message


def test_inline_add_and_remove(acme, beta):
    change = routing_add(tenant=acme, kind="domain", values=["acme.io", "acme.com"], actor="a")
    assert change.domains_added == ["acme.io", "acme.com"]  # in the order typed
    with pytest.raises(InvalidInput) as excinfo:
        routing_add(tenant=acme, kind="domain", values=["beta.io"], actor="a")
    assert "'Beta Labs'" in excinfo.value.errors[0].message
    routing_remove(tenant=acme, kind="domain", key="acme.com", actor="a")
    assert list(acme.login_domains.values_list("domain", flat=True)) == ["acme.io"]
