"""The variables of groups, built-in groups and organization settings, read back like the server."""

import pytest
from pyhocon import ConfigFactory

from console.snippets import FORMATS, render
from tenants.groups.settings import (
    builtin_settings,
    group_settings,
    organization_settings,
    spec_server_settings,
)
from tenants.groups.validation import validate_server_sections
from tests.snippet_readers import read_compose, read_env_file, read_helm, read_shell

GID = "3f1c9e62-8a53-4e0f-9f51-2d7c4b1a0e77"
SPEC = {
    "groups": [
        {
            "name": "Data_Scientists",
            "display_name": 'Data Scientists #1 @ "Acme" $team',
            "id": GID,
            "features": ["applications", "experiments", "pipelines"],
            "assignable": False,
        },
        {"name": "mlops", "features": [], "assignable": True},
    ],
    "builtin_groups": {"users": [], "admins": ["user_management", "sso_management"]},
    "organization": {
        "features": ["user_management_advanced"],
        "unique_company_names": True,
        "ui_features_per_role": {"user": {"show_datasets": False, "show_orchestration": False}},
    },
}


def server_config(values: dict) -> dict:
    """Merge every variable into one configuration, exactly as apiserver/config/basic.py does."""
    config = ConfigFactory.parse_string("")
    for name in sorted(values):
        path = name[len("CLEARML__") :].replace("__", ".").lower()
        config = config.merge_configs(config, ConfigFactory.parse_string(f"{path}: {values[name]}"))
    return config


def _read(fmt: str, text: str, names: list[str]) -> dict:
    if fmt == "helm":
        return read_helm(text)[0]
    if fmt == "compose":
        return read_compose(text)
    if fmt == "env":
        return read_env_file(text)
    return read_shell(text, names)


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_spec_becomes_the_configuration_the_docs_describe(fmt):
    settings = spec_server_settings(*validate_server_sections(SPEC))
    values = _read(fmt, render(settings, fmt), [s.name for s in settings])
    config = server_config(values)
    groups = config.get("services.auth.default_groups")
    scientists = groups.get("data_scientists")
    assert scientists.get("id") == GID
    assert scientists.get("name") == 'Data Scientists #1 @ "Acme" $team'
    assert scientists.get("features") == ["applications", "experiments", "pipelines"]
    assert scientists.get("assignable") is False and scientists.get("system") is False
    assert groups.get("mlops").get("features") == [] and groups.get("mlops").get("assignable")
    assert groups.get("users").get("features") == []
    assert groups.get("admins").get("features") == ["user_management", "sso_management"]
    assert "queue_admins" not in groups
    assert config.get("services.organization.features.user_management_advanced") is True
    assert config.get("apiserver.company.unique_names") is True
    assert config.get("services.auth.ui_features_per_role.user.show_datasets") is False


def test_group_variables_follow_the_docs_names_and_order():
    settings = group_settings(
        name="my_group_name",
        display_name="My Group Name",
        group_id=GID,
        features=["applications"],
        assignable=False,
    )
    assert [s.name for s in settings] == [
        f"CLEARML__services__auth__default_groups__my_group_name__{p}"
        for p in ("id", "name", "features", "assignable", "system")
    ]
    assert [s.env_value for s in settings] == [
        f'"{GID}"',
        '"My Group Name"',
        '["applications"]',
        "false",
        "false",
    ]


def test_display_name_defaults_to_the_group_name():
    [_, name, *_] = group_settings(
        name="ops", display_name="", group_id=GID, features=[], assignable=True
    )
    assert name.value == "ops"


def test_unset_builtin_groups_export_nothing_and_empty_lists_export_brackets():
    settings = builtin_settings({"users": [], "admins": None, "queue_admins": None})
    assert [(s.name, s.env_value) for s in settings] == [
        ("CLEARML__services__auth__default_groups__users__features", "[]")
    ]


def test_organization_settings_names():
    settings = organization_settings(validate_server_sections(SPEC)[2])
    # UI features come in catalog order whatever order the SPEC (or jsonb storage) gives them.
    assert [s.name for s in settings] == [
        "CLEARML__services__organization__features__user_management_advanced",
        "CLEARML__apiserver__company__unique_names",
        "CLEARML__services__auth__ui_features_per_role__user__show_orchestration",
        "CLEARML__services__auth__ui_features_per_role__user__show_datasets",
    ]
    assert {s.env_value for s in settings} == {"true", "false"}
