"""What a user really gets: the effective features of a user in some groups, in one tenant.

The rules, from multi_tenant_k8s.md ("Feature Assignment Strategy", "Configuring Groups",
"Override Options for New Tenants", "Available Features"), and the assumptions where the docs
are silent (each is shown in the page's explanation of a cell, and in the README):

1. Every user is in `users`; a user's features are the **union** of the features of all their
   groups ("Combining Features").
2. A group grants its `features` list. A built-in group whose list is not configured grants
   every feature ("By default, all users have access to all features. You can restrict this by
   explicitly setting feature lists per group"). An empty list grants nothing.
3. A granted feature only takes effect if it is enabled for the tenant or for the whole server
   ("the features must be defined for the tenant or for the entire server in order to affect the
   group"): enabled by the organization (`services.organization.features.<f>`) or listed in the
   tenant's `features`. A feature in the tenant's `exclude_features` is off for that tenant even
   when the organization enables it (assumption: the more specific setting wins).
   A feature that is neither enabled nor excluded is "by default": the docs also say "by default,
   all the features of the tenant are available", and which features a server enables by default
   depends on the server and its license, which the console cannot see. The page lets the admin
   choose: count such features as available (default) or not (strict).
4. `experiments` and `queues` are deprecated: "all users have access regardless of this flag".
5. `user_management` is "only effective if the group is assignable": a cross-tenant group that
   is not assignable does not give it (built-in groups are counted as assignable).
6. A UI feature switched off for the user's role (`services.auth.ui_features_per_role`) is hidden
   (assumption: the switch can only hide, not grant).
"""

from dataclasses import dataclass, field

from tenants.features import FEATURE_NAMES, FEATURES_BY_NAME

from .validation import OrganizationInput

ALWAYS = {"experiments", "queues"}
NEEDS_ASSIGNABLE = {"user_management"}


@dataclass(frozen=True)
class GroupGrant:
    """A group as the matrix sees it. `features` None: a built-in group with no list set."""

    name: str
    features: tuple[str, ...] | None
    builtin: bool = False
    assignable: bool = True

    def grants(self, feature: str) -> bool:
        return self.features is None or feature in self.features


@dataclass(frozen=True)
class TenantScope:
    name: str = "A tenant with no feature overrides"
    features: tuple[str, ...] = ()
    exclude_features: tuple[str, ...] = ()


@dataclass
class Cell:
    feature: str
    effective: bool
    state: str  # yes | default | no | excluded | not-enabled | always | hidden | not-assignable
    short: str
    reasons: list[str] = field(default_factory=list)


def tenant_availability(
    feature: str, tenant: TenantScope, organization: OrganizationInput
) -> tuple[str, str]:
    """(state, reason) of a feature for a tenant: excluded | enabled | default."""
    if feature in tenant.exclude_features:
        also = (
            " (the organization enables it, but the tenant's exclusion is the more specific "
            "setting)"
            if feature in organization.features
            else ""
        )
        return "excluded", f"The tenant's exclude_features lists {feature}{also}."
    if feature in organization.features:
        return "enabled", f"The organization enables {feature} for the whole server."
    if feature in tenant.features:
        return "enabled", f"The tenant's features list enables {feature}."
    return (
        "default",
        f"Neither the organization nor the tenant enables {feature}; whether the server enables "
        "it by default depends on the server and its license.",
    )


def explain_cell(
    feature: str,
    groups: list[GroupGrant],
    tenant: TenantScope,
    organization: OrganizationInput,
    *,
    role: str = "user",
    strict: bool = False,
) -> Cell:
    """Whether a user in `groups` (plus `users`) has `feature` in `tenant`, and why."""
    info = FEATURES_BY_NAME[feature]
    if feature in ALWAYS:
        return Cell(
            feature,
            True,
            "always",
            "always",
            [f"{feature} is deprecated and not used: all users have access regardless of it."],
        )
    reasons: list[str] = []
    granting = [g for g in groups if g.grants(feature)]
    if not granting:
        lists = ", ".join(
            f"{g.name} ({'no list set' if g.features is None else ', '.join(g.features) or '[]'})"
            for g in groups
        )
        return Cell(
            feature, False, "no", "no", [f"None of the user's groups lists {feature}: {lists}."]
        )
    for g in granting:
        how = "has no list set, so it grants every feature" if g.features is None else "lists it"
        reasons.append(f"Group {g.name} {how}.")
    if feature in NEEDS_ASSIGNABLE:
        effective_groups = [g for g in granting if g.builtin or g.assignable]
        if not effective_groups:
            reasons.append(
                f"{feature} is only effective through an assignable group, and "
                f"{', '.join(g.name for g in granting)} is not assignable."
            )
            return Cell(feature, False, "not-assignable", "not assignable", reasons)
    state, why = tenant_availability(feature, tenant, organization)
    reasons.append(why)
    if state == "excluded":
        return Cell(feature, False, "excluded", "excluded", reasons)
    if state == "default":
        if strict:
            reasons.append(
                "Strict view: a feature must be enabled for the tenant or the server to affect a "
                "group, so it is counted as off."
            )
            return Cell(feature, False, "not-enabled", "not enabled", reasons)
        reasons.append("Counted as available (server default); choose the strict view to not.")
        cell = Cell(feature, True, "default", "by default", reasons)
    else:
        cell = Cell(feature, True, "yes", "yes", reasons)
    if info.ui:
        switch = organization.ui_features_per_role.get(role, {}).get(feature)
        if switch is False:
            cell.reasons.append(
                f"ui_features_per_role.{role}.{feature} is false: hidden for role {role}."
            )
            return Cell(feature, False, "hidden", f"hidden ({role})", cell.reasons)
    if feature == "user_management_advanced" and feature not in organization.features:
        cell.reasons.append(
            "The docs note this feature often also needs enabling at the organization level."
        )
    if info.min_server_version:
        cell.reasons.append(f"Needs apiserver {info.min_server_version} or later.")
    return cell


@dataclass
class MatrixRow:
    label: str
    key: str
    groups: list[GroupGrant]
    cells: list[Cell]


def effective_features(
    groups: list[GroupGrant],
    tenant: TenantScope,
    organization: OrganizationInput,
    *,
    role: str = "user",
    strict: bool = False,
) -> list[str]:
    """The features a user in `groups` (`users` must be among them) really has."""
    return [
        f
        for f in FEATURE_NAMES
        if explain_cell(f, groups, tenant, organization, role=role, strict=strict).effective
    ]


def build_row(
    label: str,
    key: str,
    groups: list[GroupGrant],
    tenant: TenantScope,
    organization: OrganizationInput,
    *,
    role: str = "user",
    strict: bool = False,
) -> MatrixRow:
    cells = [
        explain_cell(f, groups, tenant, organization, role=role, strict=strict)
        for f in FEATURE_NAMES
    ]
    return MatrixRow(label=label, key=key, groups=groups, cells=cells)
