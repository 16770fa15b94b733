"""A tenant's domains and whitelist keep the order the admin gave them; a new order is a change."""

import importlib
import re

import pytest
from django.apps import apps
from django.urls import reverse

from console.audit.models import AuditEntry
from sso.models import LoginDomain, WhitelistEntry
from sso.routing.push import routing_push_calls
from sso.routing.queries import routing_counts, tenant_routing
from sso.routing.services import routing_add, routing_remove, routing_save
from sso.routing.validation import RoutingSet
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return Tenant.objects.create(name="Acme Research")


def routing(*, domains=(), admins=(), users=()) -> RoutingSet:
    return RoutingSet("Acme Research", list(domains), list(admins), list(users), path="login")


def save(tenant, **lists):
    return routing_save(tenant=tenant, routing=routing(**lists), actor="admin")


def test_the_lists_are_stored_in_the_order_given(acme):
    save(acme, domains=["b.io", "a.io", "c.io"], admins=["z@a.io", "y@a.io"], users=["q@b.io"])
    stored = tenant_routing(acme)
    assert stored.domains == ["b.io", "a.io", "c.io"]
    assert stored.admins == ["z@a.io", "y@a.io"] and stored.users == ["q@b.io"]


def test_saving_the_same_order_again_changes_nothing(acme):
    save(acme, domains=["b.io", "a.io"])
    entries = AuditEntry.objects.count()
    assert save(acme, domains=["b.io", "a.io"]).empty
    assert AuditEntry.objects.count() == entries


def test_a_new_order_alone_is_a_change_that_is_stored_and_audited(acme):
    save(acme, domains=["b.io", "a.io", "c.io"], users=["q@b.io", "p@b.io"])
    change = save(acme, domains=["c.io", "b.io", "a.io"], users=["q@b.io", "p@b.io"])
    assert not change.empty
    assert change.reordered == {"domains": (["b.io", "a.io", "c.io"], ["c.io", "b.io", "a.io"])}
    assert change.summary() == "new order of domains"
    assert tenant_routing(acme).domains == ["c.io", "b.io", "a.io"]
    entry = AuditEntry.objects.filter(action="login.routing.update").latest("pk")
    assert entry.before["order"] == {"domains": ["b.io", "a.io", "c.io"]}
    assert entry.after["order"] == {"domains": ["c.io", "b.io", "a.io"]}


def test_an_entry_added_between_others_takes_its_place(acme):
    save(acme, domains=["b.io", "a.io"])
    change = save(acme, domains=["b.io", "new.io", "a.io"])
    assert change.domains_added == ["new.io"]
    assert tenant_routing(acme).domains == ["b.io", "new.io", "a.io"]


def test_entries_added_from_the_page_go_at_the_end(acme):
    save(acme, domains=["b.io", "a.io"], users=["q@b.io", "p@b.io"])
    routing_add(tenant=acme, kind="domain", values=["d.io", "c.io"], actor="admin")
    routing_add(tenant=acme, kind="user", values=["a@b.io"], actor="admin")
    stored = tenant_routing(acme)
    assert stored.domains == ["b.io", "a.io", "d.io", "c.io"]
    assert stored.users == ["q@b.io", "p@b.io", "a@b.io"]


def test_a_removal_keeps_the_order_of_the_rest_and_a_later_add_goes_last(acme):
    save(acme, domains=["c.io", "b.io", "a.io"])
    routing_remove(tenant=acme, kind="domain", key="c.io", actor="admin")
    routing_add(tenant=acme, kind="domain", values=["c.io"], actor="admin")
    assert tenant_routing(acme).domains == ["b.io", "a.io", "c.io"]


def test_an_email_whose_role_changes_goes_to_the_end_of_its_new_list(acme):
    save(acme, admins=["z@a.io", "y@a.io"], users=["q@b.io", "p@b.io"])
    change = save(acme, admins=["z@a.io", "y@a.io", "q@b.io"], users=["p@b.io"])
    assert change.role_changed == {"q@b.io": True} and not change.reordered
    stored = tenant_routing(acme)
    assert stored.admins == ["z@a.io", "y@a.io", "q@b.io"] and stored.users == ["p@b.io"]


def test_the_push_sends_the_domains_in_the_stored_order_and_a_reorder_sends_nothing(acme):
    save(acme, domains=["b.io", "a.io"])
    [call] = routing_push_calls(tenant=acme, server_state={}, act_as="u1")
    assert call.endpoint == "login.set_domains" and call.body == {"domains": ["b.io", "a.io"]}
    server = {"domains": ["a.io", "b.io"], "whitelist": []}
    assert routing_push_calls(tenant=acme, server_state=server, act_as="u1") == []


def test_the_pages_show_the_stored_order(admin_client, acme):
    save(acme, domains=["b.io", "a.io", "c.io"])
    page = admin_client.get(reverse("sso:tenant_routing", args=[acme.pk])).content.decode()
    shown = re.findall(r"<code>([a-z]\.io)</code>", page)
    assert shown == ["b.io", "a.io", "c.io"]
    first = Tenant.objects.annotate(**routing_counts()).get(pk=acme.pk).first_domain
    assert first == "b.io"


def test_the_migration_numbers_existing_rows_in_the_order_they_were_shown(acme):
    """Rows saved before positions existed (all at 0) get them in sorted order, per list."""
    migration = importlib.import_module("sso.migrations.0006_routing_position")
    for domain in ("c.io", "a.io", "b.io"):
        LoginDomain.objects.create(tenant=acme, domain=domain)
    for email, is_admin in (("z@a.io", False), ("y@a.io", True), ("x@a.io", False)):
        WhitelistEntry.objects.create(tenant=acme, email=email, is_admin=is_admin)
    migration.number_existing_rows(apps, None)
    stored = tenant_routing(acme)
    assert stored.domains == ["a.io", "b.io", "c.io"]
    assert stored.users == ["x@a.io", "z@a.io"] and stored.admins == ["y@a.io"]
    assert sorted(LoginDomain.objects.values_list("position", flat=True)) == [0, 1, 2]
