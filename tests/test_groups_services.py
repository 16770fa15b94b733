"""Group, built-in group and organization services: database, audit entries, locking."""

import uuid

import pytest

from console.audit.models import AuditEntry
from console.validation import InvalidInput
from tenants.groups.models import BuiltinGroupFeatures, CrossTenantGroup, OrganizationSettings
from tenants.groups.services import (
    Stale,
    builtin_groups_update,
    group_create,
    group_delete,
    group_update,
    organization_update,
)
from tenants.groups.settings import GROUP_ID_NAMESPACE, stored_builtin_features

pytestmark = pytest.mark.django_db
GID = "3f1c9e62-8a53-4e0f-9f51-2d7c4b1a0e77"


def _entries(action):
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def test_create_generates_an_id_once_and_audits():
    group = group_create(
        data={
            "name": "Data_Scientists",
            "display_name": "Data Scientists",
            "features": ["applications"],
            "assignable": True,
        },
        actor="admin",
    )
    # Derived from the lower-cased name, so `snippets SPEC` and `apply` agree on it.
    assert group.group_id == uuid.uuid5(GROUP_ID_NAMESPACE, "data_scientists")
    [entry] = _entries("group.create")
    assert entry.actor == "admin" and entry.target_id == str(group.group_id)
    assert entry.after["features"] == ["applications"] and entry.after["system"] is False
    # The id is kept on rename and on edits without an id.
    renamed = group_update(
        group=group,
        data={"name": "scientists", "features": [], "assignable": False},
        version=group.version,
        actor="admin",
    )
    assert renamed.group_id == group.group_id and renamed.name == "scientists"
    assert renamed.features == [] and renamed.version == 2
    [update] = _entries("group.update")
    assert update.before["name"] == "Data_Scientists" and update.after["name"] == "scientists"


def test_create_with_a_given_uuid_keeps_it():
    group = group_create(data={"name": "ops", "id": GID.upper()}, actor="admin")
    assert str(group.group_id) == GID


@pytest.mark.parametrize(
    "data,path,reason",
    [
        ({"name": "users"}, "name", "built-in group"),
        ({"name": "OPS"}, "name", "already used as 'ops'"),
        ({"name": "new", "id": GID}, "id", "already the id of group 'ops'"),
        ({"name": "new", "id": "abcd-1234-abcd-1234"}, "id", "which is not a UUID"),
        ({"name": "new", "features": ["nope"]}, "features[0]", "'nope' is an unknown feature"),
        ({"name": "bad__name"}, "name", "contains '__', which separates"),
    ],
)
def test_create_refuses_bad_input(data, path, reason):
    group_create(data={"name": "ops", "id": GID}, actor="admin")
    with pytest.raises(InvalidInput) as info:
        group_create(data=data, actor="admin")
    assert [(e.path, reason in e.message) for e in info.value.errors] == [(path, True)]
    assert CrossTenantGroup.objects.count() == 1
    assert len(_entries("group.create")) == 1


def test_the_database_refuses_what_a_form_forgot():
    from django.db import IntegrityError, transaction

    for bad in ("Users", "bad__name", "2x", "a b"):
        with pytest.raises(IntegrityError), transaction.atomic():
            CrossTenantGroup.objects.create(name=bad)
    CrossTenantGroup.objects.create(name="team")
    with pytest.raises(IntegrityError), transaction.atomic():
        CrossTenantGroup.objects.create(name="TEAM")


def test_update_with_a_stale_version_is_refused():
    group = group_create(data={"name": "ops"}, actor="admin")
    group_update(
        group=group, data={"name": "ops", "features": ["reports"]}, version=1, actor="admin"
    )
    with pytest.raises(Stale):
        group_update(group=group, data={"name": "ops2"}, version=1, actor="admin")
    group.refresh_from_db()
    assert group.name == "ops" and group.features == ["reports"]


def test_update_without_changes_writes_nothing():
    group = group_create(data={"name": "ops", "features": ["reports"]}, actor="admin")
    same = group_update(
        group=group, data={"name": "ops", "features": ["reports"]}, version=1, actor="admin"
    )
    assert same.version == 1 and _entries("group.update") == []


def test_delete_audits_and_checks_the_version():
    group = group_create(data={"name": "ops"}, actor="admin")
    with pytest.raises(Stale):
        group_delete(group=group, version=7, actor="admin")
    group_delete(group=group, version=1, actor="admin")
    assert not CrossTenantGroup.objects.exists()
    [entry] = _entries("group.delete")
    assert entry.before["name"] == "ops"


def test_a_recreated_group_gets_the_same_derived_id_unless_taken():
    first = group_create(data={"name": "ops"}, actor="admin")
    group_update(group=first, data={"name": "renamed"}, version=1, actor="admin")
    second = group_create(data={"name": "ops"}, actor="admin")
    assert second.group_id != first.group_id  # the derived id is held by the renamed group


def test_builtin_groups_keep_empty_lists_and_unset():
    builtin_groups_update(
        features={"users": [], "admins": ["user_management"]}, version=1, actor="admin"
    )
    assert stored_builtin_features() == {
        "users": [],
        "admins": ["user_management"],
        "queue_admins": None,
    }
    [entry] = _entries("builtin_groups.update")
    assert entry.before == {"users": None, "admins": None, "queue_admins": None}
    assert entry.after["users"] == []
    with pytest.raises(Stale):
        builtin_groups_update(features={"users": None}, version=1, actor="admin")
    builtin_groups_update(features={"users": None}, version=2, actor="admin")
    assert BuiltinGroupFeatures.objects.get(name="users").features is None
    # No change: no entry.
    builtin_groups_update(features={"users": None}, version=None, actor="admin")
    assert len(_entries("builtin_groups.update")) == 2


def test_builtin_groups_refuse_unknown_features():
    with pytest.raises(InvalidInput) as info:
        builtin_groups_update(features={"users": ["nope"]}, version=None, actor="admin")
    assert info.value.errors[0].path == "users[0]"


def test_organization_update():
    org = organization_update(
        data={
            "features": ["user_management_advanced"],
            "unique_company_names": True,
            "ui_features_per_role": {"user": {"show_datasets": False}},
        },
        version=1,
        actor="admin",
    )
    assert org.version == 2 and org.unique_company_names is True
    [entry] = _entries("organization.update")
    assert entry.after["features"] == ["user_management_advanced"]
    with pytest.raises(Stale):
        organization_update(data={}, version=1, actor="admin")
    with pytest.raises(InvalidInput) as info:
        organization_update(data={"features": ["x"]}, version=2, actor="admin")
    assert info.value.errors[0].path == "features[0]"
    assert OrganizationSettings.load().features == ["user_management_advanced"]
