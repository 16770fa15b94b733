"""console/prepared.py: a queryset compiled once per shape and run again with new values answers
what Django answers for the same queryset built with those values, in one query, and refuses
what it cannot answer (None values, objects Django fills in after the query)."""

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import models
from django.db.models import Count, F
from django.utils import timezone

import console.prepared
from changes.models import Changeset, ChangeStep
from console.audit import AuditEntry, audit_record
from console.prepared import Param, Prepared
from tenants.models import Tenant, TenantAdmin

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _check_off(monkeypatch):
    """The suite turns CHECK on (tests/conftest.py); here each test compares the prepared answer
    with Django's itself, and the CHECK tests turn it on again."""
    monkeypatch.setattr(console.prepared, "CHECK", False)


def record(actor: str, action: str, **fields) -> AuditEntry:
    return audit_record(actor=actor, action=action, target_type="tenant", **fields)


@pytest.fixture
def entries() -> list[AuditEntry]:
    return [
        record("alice", "tenant.create", target_id="1", after={"name": "Acme"}),
        record("bob", "tenant.update", target_id="2", before={"n": 1}, after={"n": 2}),
        record("alice", "tenant.delete", target_id="3", before={"tags": ["a", "b"]}),
        record("carol", "group.create", target_id="4"),
        record("alice", "group.update", target_id="5", error="boom", outcome="failure"),
    ]


def changeset(summary: str, requested_by: str = "alice") -> Changeset:
    return Changeset.objects.create(
        kind="routing.add", summary=summary, requested_by=requested_by, content_hash="x"
    )


def step(made: Changeset, position: int, **fields) -> ChangeStep:
    return ChangeStep.objects.create(
        changeset=made, position=position, kind="k", target=f"t{position}", **fields
    )


def comparable(objects: list) -> list:
    """Model instances as their class and loaded attributes (Django's `==` compares only pks)."""
    return [(type(o), {k: v for k, v in vars(o).items() if k != "_state"}) for o in objects]


def actions_of(actor):
    return AuditEntry.objects.filter(actor=actor).order_by("-seq").values_list("seq", "action")


def test_values_list_rows_for_each_value_from_one_plan(entries):
    prepared = Prepared(actions_of)
    for actor in ("alice", "bob", "nobody", "alice"):
        assert prepared.fetch(actor=actor) == list(actions_of(actor))
    assert len(prepared._plans) == 1
    assert [seq for seq, _ in prepared.fetch(actor="alice")] == [
        e.seq for e in reversed(entries) if e.actor == "alice"
    ]


def test_flat_values_list_gives_the_values():
    def targets_of(actor):
        return (
            AuditEntry.objects.filter(actor=actor)
            .order_by("seq")
            .values_list("target_id", flat=True)
        )

    record("alice", "a", target_id="x")
    record("alice", "b", target_id="y")
    got = Prepared(targets_of).fetch(actor="alice")
    assert got == list(targets_of("alice")) == ["x", "y"]


def test_values_gives_dicts_with_the_asked_names(entries):
    def rows_of(actor):
        return AuditEntry.objects.filter(actor=actor).order_by("seq").values("seq", "after")

    got = Prepared(rows_of).fetch(actor="alice")
    assert got == list(rows_of("alice"))
    assert got[0] == {"seq": entries[0].seq, "after": {"name": "Acme"}}


def test_values_with_an_annotation_named_first_keeps_djangos_names(entries):
    def counts_of(actor):
        return (
            AuditEntry.objects.filter(actor=actor)
            .values("action")
            .annotate(n=Count("pk"))
            .values("n", "action")
            .order_by("action")
        )

    assert Prepared(counts_of).fetch(actor="alice") == list(counts_of("alice"))


def test_values_list_with_an_annotation_named_first_keeps_djangos_order(entries):
    def doubled_of(actor):
        return (
            AuditEntry.objects.filter(actor=actor)
            .annotate(double=F("seq") * 2)
            .order_by("seq")
            .values_list("double", "action")
        )

    assert Prepared(doubled_of).fetch(actor="alice") == list(doubled_of("alice"))


def test_only_gives_instances_whose_deferred_fields_load_on_access(
    entries, django_assert_num_queries
):
    def briefly(actor):
        return AuditEntry.objects.filter(actor=actor).only("seq", "action").order_by("seq")

    got = Prepared(briefly).fetch(actor="alice")
    expected = list(briefly("alice"))
    assert comparable(got) == comparable(expected)
    assert [o.pk for o in got] == [e.pk for e in entries if e.actor == "alice"]
    first = got[0]
    assert first.get_deferred_fields() == expected[0].get_deferred_fields()
    assert "target_id" in first.get_deferred_fields()
    assert first._state.db == "default"
    assert first._state.adding is False
    with django_assert_num_queries(1):
        assert first.target_id == "1"


def test_annotate_gives_instances_with_the_annotation():
    def with_counts(requested_by):
        return (
            Changeset.objects.filter(requested_by=requested_by)
            .annotate(step_count=Count("steps"))
            .order_by("pk")
        )

    three, none = changeset("three"), changeset("none")
    changeset("bob's", requested_by="bob")
    for position in range(3):
        step(three, position)
    got = Prepared(with_counts).fetch(requested_by="alice")
    assert comparable(got) == comparable(list(with_counts("alice")))
    assert [(c.pk, c.step_count) for c in got] == [(three.pk, 3), (none.pk, 0)]


def targets_by_pk(ids):
    return AuditEntry.objects.filter(pk__in=ids).order_by("seq").values_list("target_id", flat=True)


def test_a_list_value_gives_one_plan_per_length(entries):
    prepared = Prepared(targets_by_pk)
    for ids in ([entries[0].pk], [entries[1].pk, entries[3].pk], [entries[2].pk, entries[4].pk]):
        assert prepared.fetch(ids=ids) == list(targets_by_pk(ids))
    assert len(prepared._plans) == 2
    assert prepared.fetch(ids=(entries[3].pk, entries[1].pk, 0)) == ["2", "4"]


def test_a_list_longer_than_max_items_goes_through_django_and_keeps_no_plan(
    entries, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(console.prepared, "MAX_ITEMS", 2)
    prepared = Prepared(targets_by_pk)
    ids = [e.pk for e in entries[:3]]
    with django_assert_num_queries(1):
        got = prepared.fetch(ids=ids)
    assert got == list(targets_by_pk(ids)) == ["1", "2", "3"]
    assert prepared._plans == {}


def test_an_empty_list_gives_no_rows_without_a_query(entries, django_assert_num_queries):
    prepared = Prepared(targets_by_pk)
    with django_assert_num_queries(0):
        assert prepared.fetch(ids=[]) == []
    assert list(targets_by_pk([])) == []


def test_json_datetime_and_boolean_columns_come_back_as_django_converts_them():
    def columns(changeset_id):
        return (
            ChangeStep.objects.filter(changeset_id=changeset_id)
            .order_by("position")
            .values_list("before", "after", "call", "ref", "risky", "finished_at")
        )

    made = changeset("converted")
    finished = timezone.now().replace(microsecond=123456)
    step(made, 0, before={"a": [1, 2]}, after=["x", {"y": None}], risky=True, finished_at=finished)
    step(made, 1, ref={"tenant": 3, "position": 2})
    got = Prepared(columns).fetch(changeset_id=made.pk)
    assert got == list(columns(made.pk))
    assert got[0] == ({"a": [1, 2]}, ["x", {"y": None}], None, {}, True, finished)
    assert got[1] == (None, None, None, {"tenant": 3, "position": 2}, False, None)
    assert got[0][5].tzinfo is not None
    assert type(got[1][4]) is bool


def test_model_instances_get_converted_fields():
    def admins_of(tenant_id):
        return TenantAdmin.objects.filter(tenant_id=tenant_id).order_by("pk")

    tenant = Tenant.objects.create(name="Acme", features=["a"], status="active")
    TenantAdmin.objects.create(tenant=tenant, name="Alice", email="alice@acme.io")
    TenantAdmin.objects.create(tenant=tenant, name="Eve", email="eve@x.io", internal=False)
    got = Prepared(admins_of).fetch(tenant_id=tenant.pk)
    assert comparable(got) == comparable(list(admins_of(tenant.pk)))
    assert [a.internal for a in got] == [True, False]
    assert all(a.created_at.tzinfo is not None for a in got)


def test_each_shape_compiles_once_and_inputs_are_not_part_of_the_key(entries):
    built = []

    def latest(size, order, actor):
        built.append((size, order))
        return AuditEntry.objects.filter(actor=actor).order_by(order).values_list("seq")[:size]

    prepared = Prepared(latest)
    calls = [(1, "alice"), (2, "alice"), (1, "bob"), (2, "carol"), (3, "alice")]
    for size, actor in calls:
        order = F("seq").desc()  # a new object on each call: equal, not the same
        got = prepared.fetch({"size": size}, {"order": order}, actor=actor)
        assert got == list(
            AuditEntry.objects.filter(actor=actor).order_by("-seq").values_list("seq")[:size]
        )
    assert len(prepared._plans) == 3
    assert [size for size, _ in built] == [1, 2, 3]


@pytest.mark.parametrize("value", [None, [1, None], (None,)])
def test_none_is_refused_naming_the_argument(value):
    prepared = Prepared(lambda ids: AuditEntry.objects.filter(pk__in=ids))
    with pytest.raises(ValueError, match="ids is None"):
        prepared.fetch(ids=value)
    assert prepared._plans == {}


def test_none_as_a_scalar_is_refused_naming_the_argument():
    with pytest.raises(ValueError, match="actor is None"):
        Prepared(actions_of).fetch(actor=None)


def test_select_related_is_refused():
    prepared = Prepared(
        lambda kind: ChangeStep.objects.select_related("changeset").filter(kind=kind)
    )
    with pytest.raises(TypeError, match="select_related"):
        prepared.fetch(kind="k")


def test_prefetch_related_is_refused():
    prepared = Prepared(
        lambda who: Changeset.objects.prefetch_related("steps").filter(requested_by=who)
    )
    with pytest.raises(TypeError, match="fills in after the query"):
        prepared.fetch(who="alice")


def test_a_related_managers_queryset_is_refused():
    made = changeset("with steps")
    step(made, 0)
    prepared = Prepared(lambda kind: made.steps.filter(kind=kind))
    with pytest.raises(TypeError, match="fills in after the query"):
        prepared.fetch(kind="k")
    prepared = Prepared(lambda: made.steps.all())
    with pytest.raises(TypeError, match="fills in after the query"):
        prepared.fetch()


def finished_since(since):
    """A datetime placeholder needs the field's adaptation: built here, as automatic placeholders
    carry no output_field. With the real value (CHECK) the value itself is used."""
    if isinstance(since, Param):
        since = Param("since", output_field=models.DateTimeField())
    return (
        ChangeStep.objects.filter(finished_at__gte=since)
        .order_by("position")
        .values_list("position", flat=True)
    )


@pytest.fixture
def finished_steps() -> datetime:
    """Steps finished at t-1h, t, t+1s and t+1h; t has microseconds, t+1s has none."""
    t = datetime(2025, 3, 4, 10, 0, 0, 500000, tzinfo=ZoneInfo("UTC"))
    made = changeset("timed")
    for position, at in enumerate(
        [
            t - timedelta(hours=1),
            t,
            t.replace(microsecond=0) + timedelta(seconds=1),
            t + timedelta(hours=1),
        ]
    ):
        step(made, position, finished_at=at)
    return t


def since_values(t: datetime) -> list[datetime]:
    berlin = ZoneInfo("Europe/Berlin")
    return [
        t,
        t.astimezone(berlin),  # the same instant written in another zone
        t.replace(microsecond=0),
        t + timedelta(microseconds=1),
        (t + timedelta(minutes=30)).astimezone(berlin),
        t - timedelta(days=1),
    ]


def test_a_datetime_param_with_an_output_field_binds_as_django_binds_it(finished_steps):
    prepared = Prepared(finished_since)
    for since in since_values(finished_steps):
        assert prepared.fetch(since=since) == list(finished_since(since)), since
    assert prepared.fetch(since=finished_steps) == [1, 2, 3]
    assert len(prepared._plans) == 1
    (plan,) = prepared._plans.values()
    (slot,) = [p for p in plan.params if isinstance(p, console.prepared._Slot)]
    assert isinstance(slot.field, models.DateTimeField)


def test_an_automatic_datetime_placeholder_binds_as_django_binds_it(finished_steps):
    """Automatic placeholders are `Param(name)` with no output_field, so the datetime goes to the
    driver unadapted. Django adapts it with the field (UTC, naive on SQLite); the prepared query
    must answer the same."""

    def finished_since_plain(since):
        return (
            ChangeStep.objects.filter(finished_at__gte=since)
            .order_by("position")
            .values_list("position", flat=True)
        )

    prepared = Prepared(finished_since_plain)
    for since in since_values(finished_steps):
        assert prepared.fetch(since=since) == list(finished_since_plain(since)), since


def test_check_mode_passes_right_answers(monkeypatch, entries):
    monkeypatch.setattr(console.prepared, "CHECK", True)
    prepared = Prepared(actions_of)
    assert prepared.fetch(actor="alice") == list(actions_of("alice"))
    made = changeset("checked")
    step(made, 0, before={"a": 1}, finished_at=timezone.now())
    steps = Prepared(
        lambda kind: ChangeStep.objects.filter(kind=kind).only("before", "finished_at")
    )
    assert len(steps.fetch(kind="k")) == 1
    assert Prepared(finished_since).fetch(since=timezone.now() - timedelta(days=1)) == [0]


def test_check_mode_catches_a_wrong_plan(monkeypatch, entries):
    monkeypatch.setattr(console.prepared, "CHECK", True)
    prepared = Prepared(actions_of)
    prepared.fetch(actor="alice")
    ascending = Prepared(
        lambda actor: (
            AuditEntry.objects.filter(actor=actor).order_by("seq").values_list("seq", "action")
        )
    )
    ascending.fetch(actor="alice")
    (key, plan) = next(iter(prepared._plans.items()))
    (other,) = ascending._plans.values()
    prepared._plans[key] = dataclasses.replace(plan, sql=other.sql)
    with pytest.raises(AssertionError, match="Django answers"):
        prepared.fetch(actor="alice")


def test_check_mode_catches_a_wrong_instance(monkeypatch, entries):
    monkeypatch.setattr(console.prepared, "CHECK", True)
    prepared = Prepared(lambda actor: AuditEntry.objects.filter(actor=actor).order_by("seq"))
    prepared.fetch(actor="bob")
    (key, plan) = next(iter(prepared._plans.items()))
    wrong = plan.sql.replace('"actor" =', '"actor" <>').replace("`actor` =", "`actor` <>")
    assert wrong != plan.sql
    prepared._plans[key] = dataclasses.replace(plan, sql=wrong)
    with pytest.raises(AssertionError):
        prepared.fetch(actor="bob")


def test_one_fetch_is_one_query(entries, django_assert_num_queries):
    prepared = Prepared(actions_of)
    with django_assert_num_queries(1):
        prepared.fetch(actor="alice")
    with django_assert_num_queries(1):
        prepared.fetch(actor="bob")
    instances = Prepared(lambda actor: AuditEntry.objects.filter(actor=actor))
    with django_assert_num_queries(1):
        assert len(instances.fetch(actor="alice")) == 3
