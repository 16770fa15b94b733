"""routing_save_locked (the SPEC apply's routing save for tenants the console has) writes exactly
what one routing_save per tenant, in the same order, would: the same rows and positions, the
same running pushes stopped, the same audit entries in the same order, nothing for an unchanged
tenant, and the same refusal (nothing saved) when another tenant holds a key."""

import pytest
from django.db import transaction

from console.audit.bulk import bulk_append
from console.audit.models import AuditEntry
from console.validation import InvalidInput
from sso.models import LoginDomain, RoutingPushJob, WhitelistEntry
from sso.routing.queries import tenants_routing
from sso.routing.services import routing_save, routing_save_locked
from sso.routing.validation import RoutingSet
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

# name -> (stored rows: (key, is_admin or None for a domain, position)), wanted lists
CASES = {
    "Unchanged": (
        [("u.io", None, 0), ("u2.io", None, 4), ("a@u.io", True, 2), ("b@u.io", False, 9)],
        {"domains": ["u.io", "u2.io"], "admins": ["a@u.io"], "users": ["b@u.io"]},
    ),
    "Added": (
        # Gaps in the stored positions: new keys go after the list's last position.
        [("d.io", None, 3), ("e.io", None, 7), ("a@d.io", True, 5), ("b@d.io", False, 1)],
        {
            "domains": ["d.io", "e.io", "f.io", "g.io"],
            "admins": ["a@d.io", "n@d.io"],
            "users": ["b@d.io", "c@d.io", "m@d.io"],
        },
    ),
    "Removed": (
        [
            ("r.io", None, 0),
            ("s.io", None, 1),
            ("t.io", None, 2),
            ("a@r.io", True, 0),
            ("b@r.io", False, 0),
            ("c@r.io", False, 1),
        ],
        {"domains": ["r.io", "t.io"], "admins": [], "users": ["c@r.io"]},
    ),
    "Reordered": (
        [
            ("x.io", None, 0),
            ("y.io", None, 5),
            ("z.io", None, 6),
            ("a@x.io", True, 0),
            ("b@x.io", True, 1),
            ("c@x.io", False, 0),
            ("d@x.io", False, 1),
        ],
        {
            # A new order with an addition in the middle, a role change, a removal.
            "domains": ["z.io", "w.io", "x.io", "y.io"],
            "admins": ["c@x.io", "b@x.io"],
            "users": ["d@x.io", "e@x.io"],
        },
    ),
    "Empty": ([], {"domains": ["new.io"], "admins": [], "users": ["q@new.io"]}),
    "Cleared": ([("gone.io", None, 2), ("g@gone.io", False, 0)], {}),
}


def make_tenants() -> list[Tenant]:
    tenants = []
    for name, (rows, _) in CASES.items():
        tenant = Tenant.objects.create(name=name)
        for key, is_admin, position in rows:
            if is_admin is None:
                LoginDomain.objects.create(tenant=tenant, domain=key, position=position)
            else:
                WhitelistEntry.objects.create(
                    tenant=tenant, email=key, is_admin=is_admin, position=position
                )
        tenants.append(tenant)
    # A running push for a tenant that changes and for one that does not.
    for name in ("Added", "Unchanged"):
        RoutingPushJob.objects.create(tenant=tenants[list(CASES).index(name)], actor="x")
    return tenants


def wanted(tenant: Tenant) -> RoutingSet:
    lists = CASES[tenant.name][1]
    return RoutingSet(
        tenant.name,
        list(lists.get("domains", [])),
        list(lists.get("admins", [])),
        list(lists.get("users", [])),
        path="login",
    )


def state(since: int) -> dict:
    """Every routing row, every push's status, and the audit entries after `since`."""
    return {
        "domains": sorted(
            LoginDomain.objects.values_list("tenant__name", "domain", "position", "id")
        ),
        "emails": sorted(
            WhitelistEntry.objects.values_list(
                "tenant__name", "email", "is_admin", "position", "id"
            )
        ),
        "pushes": sorted(RoutingPushJob.objects.values_list("tenant__name", "status", "error")),
        "audit": list(
            AuditEntry.objects.filter(seq__gt=since)
            .order_by("seq")
            .values_list("seq", "actor", "action", "target_id", "target_repr", "before", "after")
        ),
    }


class Rollback(Exception):
    pass


def run_then_roll_back(save) -> tuple[dict, Exception | None]:
    """What `save()` leaves in the database (or the error it raises), then undo it."""
    since = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    found: dict = {}
    error = None
    try:
        with transaction.atomic():
            try:
                save()
            except InvalidInput as exc:
                error = exc
            found = state(since)
            raise Rollback
    except Rollback:
        pass
    return found, error


def per_tenant(tenants: list[Tenant], routings: dict[int, RoutingSet]):
    def save():
        current = tenants_routing(tenants)
        for tenant in tenants:
            routing_save(
                tenant=tenant,
                routing=routings[tenant.pk],
                actor="spec-admin",
                source="spec",
                locked=current[tenant.pk],
            )

    return save


def in_bulk(tenants: list[Tenant], routings: dict[int, RoutingSet]):
    def save():
        current = tenants_routing(tenants)
        rows = routing_save_locked(
            [(t, routings[t.pk], current[t.pk]) for t in tenants], actor="spec-admin", source="spec"
        )
        if rows:
            bulk_append(rows)

    return save


def comparable(found: dict, kept: dict[str, set[int]]) -> dict:
    """New rows get new ids: compare them without, and which of the rows there before stay."""
    return {
        **found,
        "domains": sorted((n, d, p) for n, d, p, _ in found["domains"]),
        "emails": sorted((n, e, a, p) for n, e, a, p, _ in found["emails"]),
        "kept": {
            table: sorted({row[-1] for row in found[table]} & ids) for table, ids in kept.items()
        },
    }


def routing_rows(found: dict) -> dict:
    return {key: found[key] for key in ("domains", "emails", "pushes")}


def test_a_bulk_save_writes_what_one_save_per_tenant_writes():
    tenants = make_tenants()
    kept = {table: {row[-1] for row in rows} for table, rows in state(0).items()}
    kept.pop("pushes"), kept.pop("audit")
    routings = {t.pk: wanted(t) for t in tenants}
    before = state(0)

    one_by_one, error = run_then_roll_back(per_tenant(tenants, routings))
    assert error is None
    assert state(0) == before
    bulk, error = run_then_roll_back(in_bulk(tenants, routings))
    assert error is None

    assert comparable(bulk, kept) == comparable(one_by_one, kept)
    # The comparison compares something: each kind of change is there.
    changed = [entry[4] for entry in bulk["audit"]]
    assert changed == ["Added", "Removed", "Reordered", "Empty", "Cleared"]
    reordered = bulk["audit"][2]
    assert reordered[5]["order"]["domains"] == ["x.io", "y.io", "z.io"]
    assert reordered[6]["order"]["domains"] == ["z.io", "w.io", "x.io", "y.io"]
    assert reordered[6]["source"] == "spec"
    assert ("Added", "f.io", 8) in comparable(bulk, kept)["domains"]
    assert ("Reordered", "c@x.io", True, 0) in comparable(bulk, kept)["emails"]
    assert sorted(bulk["pushes"])[0][:2] == ("Added", RoutingPushJob.Status.FAILED)
    assert sorted(bulk["pushes"])[1][:2] == ("Unchanged", RoutingPushJob.Status.RUNNING)
    # Each list reads back as wanted.
    after = state(0)
    assert after == before  # both were rolled back
    with transaction.atomic():
        in_bulk(tenants, routings)()
        for tenant, routing in tenants_routing(tenants).items():
            assert routing.lists() == routings[tenant].lists()
        # Saving the same routing again writes nothing.
        since = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
        current = tenants_routing(tenants)
        assert (
            routing_save_locked(
                [(t, routings[t.pk], current[t.pk]) for t in tenants], actor="spec-admin"
            )
            == []
        )
        assert not AuditEntry.objects.filter(seq__gt=since).exists()


def test_a_key_another_tenant_has_is_refused_as_routing_save_refuses_it_and_nothing_is_saved():
    tenants = make_tenants()
    other = Tenant.objects.create(name="Other")
    LoginDomain.objects.create(tenant=other, domain="taken.io", position=0)
    WhitelistEntry.objects.create(tenant=other, email="t@taken.io", position=0)
    routings = {t.pk: wanted(t) for t in tenants}
    # "Reordered" (after "Added", which saves fine on its own) wants keys "Other" has.
    reordered = next(t for t in tenants if t.name == "Reordered")
    routings[reordered.pk].domains.append("taken.io")
    routings[reordered.pk].users.append("t@taken.io")
    before = state(0)

    one_by_one, expected = run_then_roll_back(per_tenant(tenants, routings))
    bulk, error = run_then_roll_back(in_bulk(tenants, routings))

    assert isinstance(error, InvalidInput) and isinstance(expected, InvalidInput)
    assert error.errors == expected.errors
    assert [e.path for e in error.errors] == ["login.whitelist.users[2]", "login.domains[4]"]
    assert all("tenant 'Other'" in e.message for e in error.errors)
    # Nothing saved, not even the tenants before it, and no audit entry.
    assert routing_rows(bulk) == routing_rows(before)
    assert bulk["audit"] == []
    assert routing_rows(bulk) == routing_rows(before)


def test_a_key_two_tenants_of_the_same_save_add_is_refused_naming_the_first():
    tenants = make_tenants()
    routings = {t.pk: wanted(t) for t in tenants}
    before = state(0)
    for name in ("Added", "Empty"):
        routings[next(t.pk for t in tenants if t.name == name)].domains.append("both.io")

    _, expected = run_then_roll_back(per_tenant(tenants, routings))
    bulk, error = run_then_roll_back(in_bulk(tenants, routings))

    assert isinstance(error, InvalidInput)
    assert error.errors == expected.errors
    assert len(error.errors) == 1 and "tenant 'Added'" in error.errors[0].message
    assert bulk["audit"] == []
    assert routing_rows(bulk) == routing_rows(before)
