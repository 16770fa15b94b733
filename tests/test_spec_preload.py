"""Checking a whole SPEC reads the database's routing owners once, with the same results.

`validate_spec` wraps its tenants' checks in `sso.routing.validation.preload_owners`: the owners of
every domain and email of the SPEC are read in a few indexed queries, and the whitelist is scanned
once for other tenants' emails at the SPEC's domains (instead of once per tenant).
"""

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext

from changes.spec.validate import validate_spec
from console.spec import parse_spec_text
from console.validation import InvalidInput
from sso.models import LoginDomain, WhitelistEntry
from sso.routing.validation import preload_owners, routing_validate
from tenants.models import Tenant, TenantAdmin

pytestmark = pytest.mark.django_db


@pytest.fixture
def beta():
    tenant = Tenant.objects.create(name="Beta Labs")
    LoginDomain.objects.create(tenant=tenant, domain="beta.io")
    WhitelistEntry.objects.create(tenant=tenant, email="bob@gmail.com", is_admin=False)
    return tenant


@pytest.fixture
def acme():
    tenant = Tenant.objects.create(name="Acme")
    TenantAdmin.objects.create(tenant=tenant, name="A", email="a@acme.io", user_id="u1")
    LoginDomain.objects.create(tenant=tenant, domain="acme.io")
    WhitelistEntry.objects.create(tenant=tenant, email="carol@gmail.com", is_admin=True)
    return tenant


def spec(*tenants) -> dict:
    return parse_spec_text(yaml.safe_dump({"version": 1, "tenants": list(tenants)}))


def tenant(name, email, **login):
    return {"name": name, "admins": [{"name": "A", "email": email}], "login": login}


def messages(exc) -> dict[str, str]:
    return {e.path: e.message for e in exc.value.errors}


def test_conflicts_with_other_tenants_are_the_same_as_one_tenants_check(beta, acme):
    raw = spec(
        tenant("Acme", "a@acme.io", domains=["acme.io"], whitelist={"admins": ["carol@gmail.com"]}),
        tenant("Gamma", "g@gamma.io", domains=["beta.io"], whitelist={"users": ["BOB@gmail.com"]}),
    )
    with pytest.raises(InvalidInput) as whole:
        validate_spec(raw)
    with pytest.raises(InvalidInput) as alone:
        routing_validate(
            tenant_name="Gamma",
            domains=["beta.io"],
            admins=[],
            users=["BOB@gmail.com"],
            path="tenants[1].login",
        )
    # Acme's own keys are not conflicts (it is the same tenant); Gamma's are, naming Beta Labs.
    assert messages(whole) == messages(alone)
    assert set(messages(whole)) == {
        "tenants[1].login.domains[0]",
        "tenants[1].login.whitelist.users[0]",
    }
    assert "'Beta Labs'" in messages(whole)["tenants[1].login.domains[0]"]


def test_warnings_are_the_same_as_one_tenants_check(beta, acme):
    login = {
        "domains": ["gmail.com"],
        "whitelist": {"users": ["eve@beta.io"]},
        "allow_public_mail_domains": ["gmail.com"],  # a public mail domain, confirmed
    }
    model = validate_spec(spec(tenant("Delta", "d@delta.io", **login)))
    alone = routing_validate(
        tenant_name="Delta",
        domains=["gmail.com"],
        admins=[],
        users=["eve@beta.io"],
        path="tenants[0].login",
        allow_public=["gmail.com"],
    )
    assert [(w.path, w.message) for w in model.warnings] == [
        (w.path, w.message) for w in alone.warnings
    ]
    text = " ".join(w.message for w in model.warnings)
    # eve@beta.io's domain routes to Beta Labs; Beta Labs and Acme whitelist emails at gmail.com.
    assert "routes to tenant 'Beta Labs'" in text
    assert "bob@gmail.com" in text or "carol@gmail.com" in text
    assert "and 1 more" in text


def test_a_tenants_own_whitelist_at_its_domain_is_no_warning(acme):
    login = {
        "domains": ["acme.io", "gmail.com"],
        "whitelist": {"admins": ["carol@gmail.com"]},
        "allow_public_mail_domains": ["gmail.com"],
    }
    model = validate_spec(spec(tenant("Acme", "a@acme.io", **login)))
    assert model.warnings == []


def test_keys_outside_the_preloaded_batch_are_still_looked_up(beta):
    with preload_owners(domains=["other.io"], emails=[]):
        with pytest.raises(InvalidInput) as exc:
            routing_validate(
                tenant_name="Gamma", domains=["beta.io"], admins=[], users=[], path="login"
            )
    assert "'Beta Labs'" in messages(exc)["login.domains[0]"]


def queries_for(count: int) -> list[str]:
    raw = spec(
        *(
            tenant(
                f"T{i}",
                f"admin{i}@t{i}.example",
                domains=[f"t{i}.example"],
                whitelist={"users": [f"guest{i}@partner.example"]},
            )
            for i in range(count)
        )
    )
    with CaptureQueriesContext(connection) as captured:
        validate_spec(raw)
    return [q["sql"] for q in captured.captured_queries]


def test_the_whitelist_is_scanned_once_and_routing_owners_read_in_constant_queries(beta):
    small, large = queries_for(5), queries_for(25)
    # Per tenant only its admins' emails are looked up (tenants.validation); routing adds none.
    assert len(large) - len(small) <= 20
    assert len(small) <= 5 + 6
    # No per-tenant LIKE scan of the whitelist: nobody else whitelists emails at the domains.
    assert not [q for q in large if "LIKE" in q.upper()]
