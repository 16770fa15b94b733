"""Changing groups, built-in group features and organization settings, each with its audit entry.

Each service validates its input with tenants/groups/validation.py, makes the change and writes
the audit entry in one `transaction.atomic()`. Edits use optimistic locking: the caller passes the
version the form was rendered with, and a stale version raises Stale.
"""

import uuid

from django.db import IntegrityError, transaction
from django.db.models import F

from console.audit import audit_record
from console.validation import FieldError, InvalidInput

from .models import BUILTIN_GROUPS, BuiltinGroupFeatures, CrossTenantGroup, OrganizationSettings
from .settings import new_group_id, stored_builtin_features, stored_organization
from .validation import (
    GroupInput,
    validate_builtin_groups_section,
    validate_group,
    validate_organization_section,
)

STALE_MESSAGE = "This was changed by someone else since you opened it; review and retry."


class Stale(Exception):
    """Optimistic locking: the version the form was rendered with is no longer current."""

    def __init__(self, message: str = STALE_MESSAGE):
        super().__init__(message)


def group_snapshot(group: CrossTenantGroup) -> dict:
    return {
        "name": group.name,
        "display_name": group.display_name,
        "id": str(group.group_id),
        "features": list(group.features or []),
        "assignable": group.assignable,
        "system": False,
    }


def _taken_names(exclude_pk: int | None = None) -> dict[str, str]:
    rows = CrossTenantGroup.objects.all()
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    return {name.lower(): name for name in rows.values_list("name", flat=True)}


def _check_id_free(group_id: str | None, exclude_pk: int | None = None) -> None:
    if not group_id:
        return
    rows = CrossTenantGroup.objects.filter(group_id=uuid.UUID(group_id))
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    other = rows.first()
    if other is not None:
        raise InvalidInput(FieldError("id", f"is already the id of group '{other.name}'"))


def _integrity(exc: IntegrityError) -> InvalidInput:
    # A concurrent save won the race the checks above could not see.
    return InvalidInput(
        FieldError("name", "another group with this name or id was just saved; reload and retry")
    )


def group_create(*, data: dict, actor: str) -> CrossTenantGroup:
    """Create a cross-tenant group from form/SPEC-shaped `data`; the id is generated if absent."""
    group_input: GroupInput = validate_group(data, taken=_taken_names())
    _check_id_free(group_input.group_id)
    try:
        with transaction.atomic():
            group = CrossTenantGroup.objects.create(
                name=group_input.name,
                display_name=group_input.display_name,
                group_id=uuid.UUID(group_input.group_id or new_group_id(group_input.name)),
                features=group_input.features,
                assignable=group_input.assignable,
            )
            audit_record(
                actor=actor,
                action="group.create",
                target_type="group",
                target_id=str(group.group_id),
                target_repr=group.name,
                after=group_snapshot(group),
            )
    except IntegrityError as exc:
        raise _integrity(exc) from None
    return group


def group_update(
    *, group: CrossTenantGroup, data: dict, version: int, actor: str
) -> CrossTenantGroup:
    """Change a group. An empty id keeps the current one (ids are generated once and kept)."""
    group_input = validate_group(data, taken=_taken_names(exclude_pk=group.pk))
    _check_id_free(group_input.group_id, exclude_pk=group.pk)
    try:
        with transaction.atomic():
            current = CrossTenantGroup.objects.select_for_update().get(pk=group.pk)
            if current.version != version:
                raise Stale()
            before = group_snapshot(current)
            wanted = {
                **before,
                "name": group_input.name,
                "display_name": group_input.display_name,
                "id": group_input.group_id or before["id"],
                "features": group_input.features,
                "assignable": group_input.assignable,
            }
            if wanted == before:
                return current  # nothing to change: no new version, no audit entry
            current.name = group_input.name
            current.display_name = group_input.display_name
            if group_input.group_id:
                current.group_id = uuid.UUID(group_input.group_id)
            current.features = group_input.features
            current.assignable = group_input.assignable
            current.version = F("version") + 1
            current.save()
            current.refresh_from_db()
            after = group_snapshot(current)
            audit_record(
                actor=actor,
                action="group.update",
                target_type="group",
                target_id=str(current.group_id),
                target_repr=current.name,
                before=before,
                after=after,
            )
    except IntegrityError as exc:
        raise _integrity(exc) from None
    return current


def group_delete(*, group: CrossTenantGroup, version: int, actor: str) -> None:
    with transaction.atomic():
        current = CrossTenantGroup.objects.select_for_update().filter(pk=group.pk).first()
        if current is None:
            return
        if current.version != version:
            raise Stale()
        before = group_snapshot(current)
        current.delete()
        audit_record(
            actor=actor,
            action="group.delete",
            target_type="group",
            target_id=before["id"],
            target_repr=before["name"],
            before=before,
        )


def builtin_groups_update(
    *, features: dict[str, list[str] | None], version: int | None, actor: str
) -> dict[str, list[str] | None]:
    """Set the feature lists of the built-in groups named in `features` (None: not configured).

    Groups not named keep their lists. `version` is OrganizationSettings.builtin_version as the
    form showed it (None skips the check, for SPEC-driven changes).
    """
    checked = validate_builtin_groups_section(features, "")
    with transaction.atomic():
        org = OrganizationSettings.load()
        org = OrganizationSettings.objects.select_for_update().get(pk=org.pk)
        if version is not None and org.builtin_version != version:
            raise Stale()
        before = stored_builtin_features()
        if all(before.get(name) == value for name, value in checked.items()):
            return before
        for name, value in checked.items():
            BuiltinGroupFeatures.objects.update_or_create(name=name, defaults={"features": value})
        OrganizationSettings.objects.filter(pk=org.pk).update(
            builtin_version=F("builtin_version") + 1
        )
        after = stored_builtin_features()
        audit_record(
            actor=actor,
            action="builtin_groups.update",
            target_type="builtin_groups",
            target_id=",".join(BUILTIN_GROUPS),
            target_repr="Built-in groups",
            before=before,
            after=after,
        )
    return after


def _organization_snapshot() -> dict:
    org = stored_organization()
    return {
        "features": org.features,
        "unique_company_names": org.unique_company_names,
        "ui_features_per_role": org.ui_features_per_role,
    }


def organization_update(*, data: dict, version: int | None, actor: str) -> OrganizationSettings:
    """Replace the organization settings with SPEC-shaped `data` (features,
    unique_company_names, ui_features_per_role)."""
    checked = validate_organization_section(data, "")
    with transaction.atomic():
        OrganizationSettings.load()
        org = OrganizationSettings.objects.select_for_update().get(pk=1)
        if version is not None and org.version != version:
            raise Stale()
        before = _organization_snapshot()
        wanted = {
            "features": checked.features,
            "unique_company_names": checked.unique_company_names,
            "ui_features_per_role": checked.ui_features_per_role,
        }
        if wanted == before:
            return org
        org.features = checked.features
        org.unique_company_names = checked.unique_company_names
        org.ui_features_per_role = checked.ui_features_per_role
        org.version = F("version") + 1
        org.save()
        org.refresh_from_db()
        audit_record(
            actor=actor,
            action="organization.update",
            target_type="organization",
            target_id="1",
            target_repr="Organization settings",
            before=before,
            after=_organization_snapshot(),
        )
    return org
