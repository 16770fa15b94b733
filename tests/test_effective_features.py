"""The effective-features rules, checked against the examples of multi_tenant_k8s.md."""

import pytest

from tenants.features import FEATURE_NAMES
from tenants.groups.effective import (
    GroupGrant,
    TenantScope,
    effective_features,
    explain_cell,
)
from tenants.groups.validation import OrganizationInput

ALWAYS = ["experiments", "queues"]
NO_ORG = OrganizationInput()
DEFAULT_TENANT = TenantScope()
# The docs' "Example Configuration" group.
MY_GROUP = GroupGrant(
    "my_group_name",
    (
        "applications",
        "experiments",
        "queues",
        "pipelines",
        "reports",
        "show_dashboard",
        "show_projects",
    ),
    assignable=False,
)
ADMINS_ALL = GroupGrant(
    "admins",
    (
        "user_management",
        "user_management_advanced",
        "permissions",
        "applications",
        "app_management",
        "queues",
        "queue_management",
        "data_management",
        "config_vault",
        "pipelines",
        "reports",
        "resource_dashboard",
        "sso_management",
        "service_users",
        "resource_policy",
        "model_serving",
        "show_dashboard",
        "show_model_view",
        "show_projects",
    ),
    builtin=True,
)


def users(features):
    return GroupGrant("users", None if features is None else tuple(features), builtin=True)


def test_by_default_all_users_have_all_features():
    # "By default, all users have access to all features."
    assert effective_features([users(None)], DEFAULT_TENANT, NO_ORG) == list(FEATURE_NAMES)


def test_feature_control_by_user_group_users_get_only_applications():
    # "with the following configuration, all users in the users group will only have the
    # applications feature enabled" (users features ["applications"]).
    got = effective_features([users(["applications"])], DEFAULT_TENANT, NO_ORG)
    assert set(got) == {"applications", *ALWAYS}


def test_empty_users_group_gives_only_what_other_groups_grant():
    # Strategy 2: users = [] -> "users only get features explicitly granted to groups they are
    # members of".
    assert set(effective_features([users([])], DEFAULT_TENANT, NO_ORG)) == set(ALWAYS)
    got = effective_features([users([]), MY_GROUP], DEFAULT_TENANT, NO_ORG)
    assert set(got) == {
        "applications",
        "pipelines",
        "reports",
        "show_dashboard",
        "show_projects",
        *ALWAYS,
    }


def test_combining_features_is_the_union_of_the_groups():
    base = users(["config_vault"])
    other = GroupGrant("mlops", ("model_serving",), assignable=True)
    got = set(effective_features([base, MY_GROUP, other], DEFAULT_TENANT, NO_ORG))
    assert got == {
        "config_vault",
        "model_serving",
        "applications",
        "pipelines",
        "reports",
        "show_dashboard",
        "show_projects",
        *ALWAYS,
    }


def test_tenant_exclude_features_switch_a_granted_feature_off():
    # "Override Options for New Tenants": features [experiments], exclude [app_management,
    # applications, user_management].
    tenant = TenantScope(
        "Acme",
        features=("experiments",),
        exclude_features=("app_management", "applications", "user_management"),
    )
    got = set(effective_features([users(None)], tenant, NO_ORG))
    assert {"app_management", "applications", "user_management"}.isdisjoint(got)
    assert "pipelines" in got and "experiments" in got
    cell = explain_cell("applications", [users(None)], tenant, NO_ORG)
    assert cell.state == "excluded" and "exclude_features" in " ".join(cell.reasons)


def test_an_exclusion_beats_the_organization_switch():
    tenant = TenantScope("Acme", exclude_features=("user_management_advanced",))
    org = OrganizationInput(features=["user_management_advanced"])
    cell = explain_cell("user_management_advanced", [users(None), ADMINS_ALL], tenant, org)
    assert not cell.effective and cell.state == "excluded"


def test_granting_all_features_to_admins_with_the_organization_switch():
    # "Example: Granting All Features for Admins" with users restricted to [].
    org = OrganizationInput(features=["user_management_advanced"])
    got = set(effective_features([users([]), ADMINS_ALL], DEFAULT_TENANT, org, strict=True))
    # Strict: only what the organization or tenant enables, plus the deprecated flags.
    assert got == {"user_management_advanced", *ALWAYS}
    got = set(effective_features([users([]), ADMINS_ALL], DEFAULT_TENANT, org))
    assert got == set(ADMINS_ALL.features) | set(ALWAYS)
    cell = explain_cell("user_management_advanced", [users([]), ADMINS_ALL], DEFAULT_TENANT, org)
    assert cell.state == "yes" and "organization enables" in " ".join(cell.reasons)


def test_features_must_be_enabled_for_the_tenant_or_server_in_the_strict_view():
    # "To assign a feature to a group, that feature must first be enabled globally or per
    # tenant" (system.update_company_settings features [sso_management, ...]).
    tenant = TenantScope("Acme", features=("sso_management",))
    grant = GroupGrant("sso_people", ("sso_management", "reports"), assignable=True)
    cells = {
        f: explain_cell(f, [users([]), grant], tenant, NO_ORG, strict=True)
        for f in ("sso_management", "reports")
    }
    assert cells["sso_management"].effective and cells["sso_management"].state == "yes"
    assert not cells["reports"].effective and cells["reports"].state == "not-enabled"
    relaxed = explain_cell("reports", [users([]), grant], tenant, NO_ORG)
    assert relaxed.effective and relaxed.state == "default"


def test_deprecated_flags_are_always_available():
    cell = explain_cell("queues", [users([])], TenantScope(exclude_features=("queues",)), NO_ORG)
    assert cell.effective and cell.state == "always"


def test_user_management_needs_an_assignable_group():
    not_assignable = GroupGrant("viewers", ("user_management",), assignable=False)
    cell = explain_cell("user_management", [users([]), not_assignable], DEFAULT_TENANT, NO_ORG)
    assert not cell.effective and cell.state == "not-assignable"
    assignable = GroupGrant("viewers", ("user_management",), assignable=True)
    cell = explain_cell("user_management", [users([]), assignable], DEFAULT_TENANT, NO_ORG)
    assert cell.effective


@pytest.mark.parametrize("role,visible", [("user", False), ("admin", True)])
def test_ui_features_per_role_hide_sidebar_items(role, visible):
    # Seed 003: ui_features_per_role.user.show_datasets = false.
    org = OrganizationInput(ui_features_per_role={"user": {"show_datasets": False}})
    cell = explain_cell("show_datasets", [users(None)], DEFAULT_TENANT, org, role=role)
    assert cell.effective is visible
    assert ("3.25" in " ".join(cell.reasons)) is visible


def test_not_granted_explains_the_groups_lists():
    cell = explain_cell("reports", [users(["applications"])], DEFAULT_TENANT, NO_ORG)
    assert cell.state == "no"
    assert "users (applications)" in cell.reasons[0]
