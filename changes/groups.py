"""Groups & features changes through the pipeline: cross-tenant groups, built-in groups and
the organization settings.

They change only what the console keeps (the server reads them from its configuration, which
the export writes), so each is a `local_change`: the rows, the audit entry and the changeset
commit together, and a save that changes nothing leaves nothing behind. The services raise
InvalidInput and Stale (someone saved in between) with nothing written.
"""

from tenants.groups import services
from tenants.groups.models import CrossTenantGroup, OrganizationSettings

from .engine import desired_object, local_change, local_change_replay
from .models import Changeset


def group_create(
    *, data: dict, actor: str, face: str = "form"
) -> tuple[Changeset | None, CrossTenantGroup]:
    name = str(data.get("name") or "").strip()
    return local_change(
        kind="group.create",
        summary=f"Create group {name}",
        actor=actor,
        face=face,
        desired=data,
        write=lambda: services.group_create(data=data, actor=actor),
    )


def group_update(
    *, group: CrossTenantGroup, data: dict, version: int, actor: str, face: str = "form"
) -> tuple[Changeset | None, CrossTenantGroup]:
    return local_change(
        kind="group.update",
        summary=f"Update group {group.name}",
        actor=actor,
        face=face,
        desired={**data, "version": version},
        write=lambda: services.group_update(group=group, data=data, version=version, actor=actor),
    )


def group_delete(
    *, group: CrossTenantGroup, version: int, actor: str, face: str = "form"
) -> Changeset | None:
    changeset, _ = local_change(
        kind="group.delete",
        summary=f"Delete group {group.name}",
        actor=actor,
        face=face,
        desired={"group": str(group.group_id), "version": version},
        write=lambda: services.group_delete(group=group, version=version, actor=actor),
    )
    return changeset


def group_delete_approved(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """Apply an approved `group.delete` (changes.apply's applier), from `desired`."""
    desired = changeset.desired or {}
    group_id = desired.get("group")
    local_change_replay(
        changeset,
        actor=actor,
        write=lambda: services.group_delete(
            group=desired_object(CrossTenantGroup, f"group {group_id}", group_id=group_id),
            version=int(desired.get("version", -1)),
            actor=actor,
        ),
    )
    return []


def builtin_groups_update(
    *, features: dict[str, list[str] | None], version: int | None, actor: str, face: str = "form"
) -> tuple[Changeset | None, dict[str, list[str] | None]]:
    return local_change(
        kind="builtin_groups.update",
        summary="Update the features of the built-in groups",
        actor=actor,
        face=face,
        desired={"features": features, "version": version},
        write=lambda: services.builtin_groups_update(
            features=features, version=version, actor=actor
        ),
    )


def organization_update(
    *, data: dict, version: int | None, actor: str, face: str = "form"
) -> tuple[Changeset | None, OrganizationSettings]:
    return local_change(
        kind="organization.update",
        summary="Update the organization settings",
        actor=actor,
        face=face,
        desired={**data, "version": version},
        write=lambda: services.organization_update(data=data, version=version, actor=actor),
    )
