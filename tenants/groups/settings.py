"""The CLEARML__ variables of groups, built-in groups and organization settings.

Variable names follow multi_tenant_k8s.md ("Configuring Groups", "Feature Assignment Strategy")
and the multi-tenant guide (`ui_features_per_role`). Values are Python values;
console.snippets encodes them as HOCON the apiserver reads back exactly (lists become
`["a", "b"]`, booleans `true`).
"""

import uuid

from console.prepared import Prepared
from console.snippets import EnvSetting
from tenants.features import UI_FEATURE_NAMES, UI_ROLES

from .models import BUILTIN_GROUPS, BuiltinGroupFeatures, CrossTenantGroup, OrganizationSettings
from .validation import GroupInput, OrganizationInput

GROUPS_PATH = "services.auth.default_groups"
ORG_FEATURES_PATH = "services.organization.features"
UNIQUE_NAMES_PATH = "apiserver.company.unique_names"
UI_FEATURES_PATH = "services.auth.ui_features_per_role"
# Fixed namespace for generated group ids: a new group's id is derived from its lower-cased name,
# so `snippets SPEC`, `plan` and `apply` agree on the id of a SPEC group that gives none. Once
# saved, the id is kept (a rename does not change it).
GROUP_ID_NAMESPACE = uuid.UUID("6f0e3c55-4f55-4b6f-9a53-7b1e0c3c1d2a")


def group_settings(
    *, name: str, display_name: str, group_id: str, features: list[str], assignable: bool
) -> list[EnvSetting]:
    """The five variables of one cross-tenant group, in the docs' order (system always false)."""
    base = f"{GROUPS_PATH}.{name}"
    return [
        EnvSetting.for_path(f"{base}.id", str(group_id)),
        EnvSetting.for_path(f"{base}.name", display_name or name),
        EnvSetting.for_path(f"{base}.features", list(features)),
        EnvSetting.for_path(f"{base}.assignable", bool(assignable)),
        EnvSetting.for_path(f"{base}.system", False),
    ]


def builtin_settings(features_by_group: dict[str, list[str] | None]) -> list[EnvSetting]:
    """`features` of each configured built-in group; `[]` is exported, None (not set) is not."""
    return [
        EnvSetting.for_path(f"{GROUPS_PATH}.{name}.features", list(features_by_group[name]))
        for name in BUILTIN_GROUPS
        if features_by_group.get(name) is not None
    ]


def organization_settings(org: OrganizationInput) -> list[EnvSetting]:
    out = [EnvSetting.for_path(f"{ORG_FEATURES_PATH}.{f}", True) for f in org.features]
    if org.unique_company_names is not None:
        out.append(EnvSetting.for_path(UNIQUE_NAMES_PATH, org.unique_company_names))
    # Catalog order, not storage order: PostgreSQL's jsonb does not keep a mapping's key order.
    for role in sorted(org.ui_features_per_role, key=_catalog_order(UI_ROLES)):
        features = org.ui_features_per_role[role]
        for feature in sorted(features, key=_catalog_order(UI_FEATURE_NAMES)):
            path = f"{UI_FEATURES_PATH}.{role}.{feature}"
            out.append(EnvSetting.for_path(path, features[feature]))
    return out


def _catalog_order(names: tuple[str, ...]):
    def key(name: str) -> tuple[int, str]:
        return (names.index(name) if name in names else len(names), name)

    return key


# --- from the console's database ---------------------------------------------------------------


def stored_builtin_features() -> dict[str, list[str] | None]:
    rows = {row.name: row.features for row in _BUILTIN.fetch()}
    return {name: rows.get(name) for name in BUILTIN_GROUPS}


def stored_organization() -> OrganizationInput:
    found = _ORGANIZATION.fetch()
    if not found:
        return OrganizationInput()
    row = found[0]
    return OrganizationInput(
        features=list(row.features or []),
        unique_company_names=row.unique_company_names,
        ui_features_per_role={k: dict(v) for k, v in (row.ui_features_per_role or {}).items()},
    )


def stored_group_settings(group: CrossTenantGroup) -> list[EnvSetting]:
    return group_settings(
        name=group.name,
        display_name=group.display_name,
        group_id=str(group.group_id),
        features=group.features or [],
        assignable=group.assignable,
    )


def console_groups_settings() -> list[EnvSetting]:
    out = []
    for group in stored_groups():
        out += stored_group_settings(group)
    return out


def stored_groups() -> list[CrossTenantGroup]:
    """Every cross-tenant group, in the model's order."""
    return _GROUPS.fetch()


# Read by the Groups page and every export of the server settings (console/prepared.py).
_GROUPS = Prepared(lambda: CrossTenantGroup.objects.all())
_BUILTIN = Prepared(lambda: BuiltinGroupFeatures.objects.all())
_ORGANIZATION = Prepared(lambda: OrganizationSettings.objects.filter(pk=1).order_by("pk")[:1])


def console_server_settings() -> list[EnvSetting]:
    """Everything this part of the console exports: groups, built-in groups, organization."""
    return (
        console_groups_settings()
        + builtin_settings(stored_builtin_features())
        + organization_settings(stored_organization())
    )


# --- from a SPEC --------------------------------------------------------------------------------


def new_group_id(name: str) -> str:
    """The id a new group gets: derived from its name, or random if another group (renamed
    from this name) already holds that id."""
    derived = uuid.uuid5(GROUP_ID_NAMESPACE, name.lower())
    if CrossTenantGroup.objects.filter(group_id=derived).exists():
        return str(uuid.uuid4())
    return str(derived)


def spec_group_id(group: GroupInput) -> str:
    """The SPEC's id; else the id the console keeps for a group of that name; else the id
    `apply` would generate (stable across runs, so a snippet never changes by itself)."""
    if group.group_id:
        return group.group_id
    stored = CrossTenantGroup.objects.filter(name__iexact=group.name).first()
    if stored is not None:
        return str(stored.group_id)
    return new_group_id(group.name)


def spec_server_settings(
    groups: list[GroupInput], builtin: dict, organization: OrganizationInput
) -> list[EnvSetting]:
    out = []
    for group in groups:
        out += group_settings(
            name=group.name,
            display_name=group.display_name,
            group_id=spec_group_id(group),
            features=group.features,
            assignable=group.assignable,
        )
    return out + builtin_settings(builtin) + organization_settings(organization)
