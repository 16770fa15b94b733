"""Queries the busiest pages run on every view, compiled to SQL once per process and then run
again with new values.

Django builds and compiles a queryset anew on every call: cloning the query for each filter,
resolving every expression, then walking the tree to SQL. On the pages of the mixed load that was
about a third of the web process's CPU, against a few percent for the statements themselves
(docs/performance.md). A `Prepared` query is written as an ordinary queryset in a function; the
first call builds it with `Param` placeholders where the values go, compiles it and keeps the SQL,
where each placeholder landed and how Django converts each column. Later calls bind the new values
and run that SQL through the same database cursor Django uses.

    _LATEST = Prepared(lambda size, actor: AuditEntry.objects.filter(actor=actor)
                       .order_by("-seq").values_list("seq", "action")[:size])
    rows = _LATEST.fetch({"size": 20}, actor=username)

Arguments given as `shape` change the SQL (a LIMIT, which optional filter applies): each shape is
compiled once. `inputs` go to `build` too but are not part of the key: objects the shape already
determines (the expressions a caller adds, which cannot be compared). Every other keyword is a
value bound to a placeholder; a list or tuple becomes one placeholder per item, so its length is
part of the shape too (an empty list gives no rows, as Django answers `pk__in=[]`; a list longer
than MAX_ITEMS goes through Django each time, so a process keeps few plans). A value may
not be None: Django writes `IS NULL` for None, so the caller picks that query. A datetime, date,
time or UUID is adapted as Django's field for it would (SQLite keeps a datetime as naive UTC
text); its type is part of the key. A foreign key's own `__in` lookup turns each value into an id
before it is compiled, which a placeholder cannot be: write `In(F("changeset_id"), ids)` instead.

What comes back is what Django would give for the same queryset: tuples for `values_list`,
values for `values_list(flat=True)`, dicts for `values`, model instances (with annotations, from
the columns `only` names) for a plain queryset. Querysets Django fills in after the query
(`select_related`, `prefetch_related`, a related manager's known objects) are refused when first
compiled. With `CHECK` on, every call also runs the queryset through Django with the real values
and raises if the answers differ: the test suite runs with it on (tests/conftest.py), so every
page and command a test drives compares each prepared answer with Django's.
"""

import operator
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from uuid import UUID

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import (
    Count,
    DateField,
    DateTimeField,
    Expression,
    QuerySet,
    TimeField,
    UUIDField,
    Value,
)
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    ValuesIterable,
    ValuesListIterable,
)

# A longer list is not compiled for its length: each length is a plan kept for the process's life.
MAX_ITEMS = 200
# Past this many shapes (a page number in a LIMIT), a query goes through Django each time.
MAX_PLANS = 64
# The test suite turns this on: each call is compared with Django's answer for the same values.
CHECK = False


class _Slot:
    """Where a value goes in the compiled SQL's parameters."""

    __slots__ = ("field", "index", "name")

    def __init__(self, name: str, index: int | None, field):
        self.name, self.index, self.field = name, index, field

    def bind(self, values: dict, connection) -> Any:
        value = values[self.name]
        if self.index is not None:
            value = value[self.index]
        if self.field is not None:
            value = self.field.get_db_prep_value(value, connection, prepared=False)
        return value


class Param(Expression):
    """A placeholder for the value of `name` (item `index` of it when it is a list), given
    when the prepared query runs. `output_field` adapts the value for the database as that
    field would (a datetime, a UUID); plain integers and strings need none."""

    def __init__(self, name: str, index: int | None = None, output_field=None):
        super().__init__(output_field=output_field)
        self.name, self.index = name, index

    def as_sql(self, compiler, connection):
        return "%s", [_Slot(self.name, self.index, self._output_field_or_none)]


@dataclass(frozen=True)
class _Plan:
    alias: str
    sql: str | None  # None: the query matches nothing whatever the values (Django's EmptyResultSet)
    params: tuple
    converters: tuple  # (position, converter functions, expression)
    width: int | None  # columns to keep when Django selected more (ordering by unselected ones)
    make: Callable[[list, str], list]  # rows as Django's iterable gives them


class Prepared:
    """A queryset built by `build(**shape, **inputs, **placeholders)`, compiled once per shape."""

    def __init__(self, build: Callable[..., QuerySet]):
        self._build = build
        self._plans: dict[tuple, _Plan] = {}
        self._lock = threading.Lock()

    def fetch(self, shape: dict | None = None, inputs: dict | None = None, **values) -> list:
        shape, inputs = shape or {}, inputs or {}
        for name, value in values.items():
            if value is None or (isinstance(value, list | tuple) and None in value):
                raise ValueError(f"prepared query: {name} is None; choose the query for it")
        lengths = tuple(
            (n, len(v) if isinstance(v, list | tuple) else -1) for n, v in values.items()
        )
        if any(length > MAX_ITEMS for _, length in lengths):
            return list(self._build(**shape, **inputs, **values))
        # A value's type is part of the key: it picks how the value is adapted (a datetime is
        # bound as the database stores it, as Django's field would).
        types = tuple(_kind_of(v) for v in values.values())
        key = (tuple(sorted(shape.items())), lengths, types)
        plan = self._plans.get(key)
        if plan is None and len(self._plans) >= MAX_PLANS:
            return list(self._build(**shape, **inputs, **values))
        if plan is None:
            with self._lock:
                plan = self._plans.get(key) or self._compile(key, {**shape, **inputs}, values)
        rows = _run(plan, values)
        if CHECK:
            _check(rows, _django_answer(self._build(**shape, **inputs, **values)))
        return rows

    def _compile(self, key: tuple, arguments: dict, values: dict) -> _Plan:
        placeholders = {
            name: (
                [Param(name, i, _field_for(item)) for i, item in enumerate(value)]
                if isinstance(value, list | tuple)
                else Param(name, output_field=_field_for(value))
            )
            for name, value in values.items()
        }
        queryset = self._build(**arguments, **placeholders)
        plan = _plan_for(queryset)
        self._plans[key] = plan
        return plan


# Values the database driver takes as they are (ints, strings, bools) need no field; these are
# adapted as Django's field for them would (SQLite stores a datetime as naive UTC text).
_FIELDS = {datetime: DateTimeField, date: DateField, time: TimeField, UUID: UUIDField}


def _field_for(value):
    field = _FIELDS.get(type(value))
    return field() if field else None


def _kind_of(value) -> tuple:
    items = value if isinstance(value, list | tuple) else (value,)
    return tuple(type(item) for item in items if type(item) in _FIELDS)


def counted(queryset: QuerySet) -> QuerySet:
    """The number of rows `queryset` matches, as a queryset of one value (grouped by a constant,
    which Django leaves out of GROUP BY: one COUNT over every row), so it can be prepared."""
    return (
        queryset.order_by()
        .annotate(_all=Value(1))
        .values("_all")
        .annotate(_n=Count("pk"))
        .values_list("_n", flat=True)
    )


def _plan_for(queryset: QuerySet) -> _Plan:
    if queryset._prefetch_related_lookups or queryset._known_related_objects:
        raise TypeError("prepared query: objects Django fills in after the query are not kept")
    alias = queryset.db
    compiler = queryset.query.get_compiler(alias)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        sql, params = None, ()
    columns = [s[0] for s in compiler.select[0 : compiler.col_count]]
    converters = tuple(
        (position, tuple(functions), expression)
        for position, (functions, expression) in compiler.get_converters(columns).items()
    )
    width = compiler.col_count if compiler.has_extra_select else None
    return _Plan(
        alias=alias,
        sql=sql,
        params=tuple(params),
        converters=converters,
        width=width,
        make=_maker(queryset, compiler),
    )


def _maker(queryset: QuerySet, compiler) -> Callable[[list, str], list]:
    kind = queryset._iterable_class
    if kind is ValuesListIterable:
        return lambda rows, _alias: [tuple(row) for row in rows]
    if kind is FlatValuesListIterable:
        return lambda rows, _alias: [row[0] for row in rows]
    if kind is ValuesIterable:
        query = queryset.query
        names = (
            list(query.selected)
            if query.selected
            else [*query.extra_select, *query.values_select, *query.annotation_select]
        )
        return lambda rows, _alias: [dict(zip(names, row, strict=True)) for row in rows]
    if kind is not ModelIterable:
        raise TypeError(f"prepared query: {kind.__name__} results are not supported")
    klass_info = compiler.klass_info
    if klass_info.get("related_klass_infos"):
        raise TypeError("prepared query: select_related is not supported")
    model = klass_info["model"]
    fields = klass_info["select_fields"]
    start, end = fields[0], fields[-1] + 1
    names = [column[0].target.attname for column in compiler.select[start:end]]
    annotations = tuple(compiler.annotation_col_map.items())
    pick = operator.itemgetter(slice(start, end))

    def instances(rows: list, db: str) -> list:
        built = []
        for row in rows:
            obj = model.from_db(db, names, pick(row))
            for attribute, position in annotations:
                setattr(obj, attribute, row[position])
            built.append(obj)
        return built

    return instances


def _run(plan: _Plan, values: dict) -> list:
    if plan.sql is None:
        return []
    connection = connections[plan.alias]
    params = [p.bind(values, connection) if type(p) is _Slot else p for p in plan.params]
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, params)
        rows = cursor.fetchall()
    if plan.width is not None:
        rows = [row[: plan.width] for row in rows]
    if plan.converters:
        rows = list(_converted(rows, plan.converters, connection))
    return plan.make(rows, plan.alias)


def _converted(rows, converters, connection):
    for row in rows:
        row = list(row)
        for position, functions, expression in converters:
            value = row[position]
            for function in functions:
                value = function(value, expression, connection)
            row[position] = value
        yield row


def _django_answer(queryset: QuerySet) -> list:
    """What Django answers, its query left out of the connection's query log, so tests that
    count a page's queries count the page's own."""
    log = connections[queryset.db].queries_log
    logged = len(log)
    try:
        return list(queryset)
    finally:
        while len(log) > logged:
            log.pop()


def _check(got: list, expected: list) -> None:
    def comparable(rows):
        return [
            (type(r), {k: v for k, v in vars(r).items() if k != "_state"})
            if hasattr(r, "_state")
            else r
            for r in rows
        ]

    if comparable(got) != comparable(expected):
        raise AssertionError(f"prepared query answered {got!r}, Django answers {expected!r}")
