"""Audit entries cannot be edited or deleted: not by the model, the ORM, nor (PostgreSQL) SQL."""

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from console.audit import AuditEntry, AuditLogIsAppendOnly, audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry():
    return audit_record(actor="admin", action="group.create", target_type="group", target_id="g")


def unchanged(entry):
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.actor == "admin"
    assert AuditEntry.objects.count() == 1


def test_saving_a_changed_entry_is_refused(entry):
    entry.actor = "mallory"
    with pytest.raises(AuditLogIsAppendOnly, match="cannot be changed"):
        entry.save()
    unchanged(entry)


def test_deleting_an_entry_is_refused(entry):
    with pytest.raises(AuditLogIsAppendOnly, match="cannot be deleted"):
        entry.delete()
    unchanged(entry)


@pytest.mark.parametrize(
    "operation",
    [
        lambda: AuditEntry.objects.all().delete(),
        lambda: AuditEntry.objects.filter(actor="admin").delete(),
        lambda: AuditEntry.objects.update(actor="mallory"),
        lambda: AuditEntry.objects.filter(seq=1).update(actor="mallory"),
        lambda: AuditEntry.objects.bulk_update(list(AuditEntry.objects.all()), ["actor"]),
        lambda: AuditEntry.objects.update_or_create(seq=1, defaults={"actor": "mallory"}),
        lambda: AuditEntry.objects.create(actor="mallory", action="x", seq=2),
        lambda: AuditEntry.objects.get_or_create(actor="mallory", action="x", seq=2),
        lambda: AuditEntry.objects.bulk_create([AuditEntry(actor="mallory", action="x", seq=2)]),
        lambda: AuditEntry(actor="mallory", action="x", seq=2).save(),
    ],
    ids=[
        "all.delete",
        "filter.delete",
        "update",
        "filter.update",
        "bulk_update",
        "update_or_create",
        "create",
        "get_or_create",
        "bulk_create",
        "save a new instance",
    ],
)
def test_orm_writes_outside_the_service_are_refused(entry, operation):
    with pytest.raises(AuditLogIsAppendOnly):
        operation()
    unchanged(entry)


def test_the_django_admin_is_not_installed():
    assert "django.contrib.admin" not in settings.INSTALLED_APPS


postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="database triggers are PostgreSQL only"
)


@pytest.mark.postgres
@postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE console_auditentry SET actor = 'mallory'",
        "DELETE FROM console_auditentry",
    ],
)
def test_postgresql_refuses_raw_update_and_delete(entry, sql):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql)
    unchanged(entry)


@pytest.mark.postgres
@postgres
def test_postgresql_refuses_truncate(entry):
    # In `test_*` databases TRUNCATE is let through for Django's test runner; the guard setting
    # restores production behaviour for this transaction.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL console.audit_truncate_guard = 'on'")
            cursor.execute("TRUNCATE console_auditentry")
    unchanged(entry)
