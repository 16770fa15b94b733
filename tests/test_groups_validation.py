"""Group names, ids and the SPEC's groups / builtin_groups / organization sections."""

import pytest

from console.validation import InvalidInput
from tenants.groups.validation import (
    validate_builtin_groups_section,
    validate_group_id,
    validate_group_name,
    validate_groups_section,
    validate_organization_section,
    validate_server_sections,
)


def _errors(exc_info) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in exc_info.value.errors]


@pytest.mark.parametrize(
    "name", ["data_scientists", "Data_Scientists", "MLOps_Engineers", "team2", "a", "A1_b2_c3"]
)
def test_valid_group_names(name):
    assert validate_group_name(name, "name") == name


@pytest.mark.parametrize(
    "name,reason",
    [
        ("", "A group name is required"),
        ("data scientists", "contains a space; use only letters, digits"),
        ("data-scientists", "contains '-'"),
        ("data.scientists", "contains '.'"),
        ("équipe", "contains 'é'"),
        ("2fast", "starts with a digit; start it with a letter"),
        ("_hidden", "starts with '_'; start it with a letter"),
        ("data__scientists", "contains '__', which separates"),
        ("trailing_", "ends with '_'"),
        ("x" * 101, "shorten it to at most 100"),
        ("users", "'users' is a built-in group"),
        ("Admins", "'Admins' is a built-in group"),
        ("QUEUE_ADMINS", "is a built-in group"),
    ],
)
def test_invalid_group_names_name_the_rule(name, reason):
    with pytest.raises(InvalidInput) as info:
        validate_group_name(name, "groups[0].name")
    [(path, message)] = _errors(info)
    assert path == "groups[0].name"
    assert reason in message


def test_a_name_differing_only_in_case_is_taken():
    with pytest.raises(InvalidInput) as info:
        validate_group_name("Team", "name", taken={"team": "team"})
    assert "already used as 'team'" in _errors(info)[0][1]
    assert "lower-cases" in _errors(info)[0][1]


@pytest.mark.parametrize(
    "value,expected",
    [
        ("3F1C9E62-8A53-4E0F-9F51-2D7C4B1A0E77", "3f1c9e62-8a53-4e0f-9f51-2d7c4b1a0e77"),
        ("", None),
        (None, None),
    ],
)
def test_group_ids(value, expected):
    assert validate_group_id(value, "id") == expected


@pytest.mark.parametrize(
    "value,reason",
    [
        ("abcd-1234-abcd-1234", "'abcd-1234-abcd-1234' is the docs' example, which is not a UUID"),
        ("3f1c9e628a534e0f9f512d7c4b1a0e77", "is not a UUID"),
        ("{3f1c9e62-8a53-4e0f-9f51-2d7c4b1a0e77}", "is not a UUID"),
        ("3f1c9e62-8a53-4e0f-9f51-2d7c4b1a0e7g", "is not a UUID"),
        (12, "must be a UUID written as text"),
        # Refused, not trimmed (tests/test_spec_trims.py has the rest of the white space cases).
        (
            " 3f1c9e62-8a53-4e0f-9f51-2d7c4b1a0e77 ",
            "' 3f1c9e62-8a53-4e0f-9f51-2d7c4b1a0e77 ' starts and ends with white space; remove it",
        ),
        ("  ", "'  ' is only white space; leave it out (or empty) to have one generated"),
    ],
)
def test_bad_group_ids(value, reason):
    with pytest.raises(InvalidInput) as info:
        validate_group_id(value, "groups[1].id")
    [(path, message)] = _errors(info)
    assert path == "groups[1].id" and reason in message


def test_groups_section_reports_every_problem_with_full_paths():
    section = [
        {"name": "data_scientists", "features": ["applications", "pipelines"]},
        {"name": "Data_Scientists", "features": []},
        {"name": "bad name", "features": ["aplications"], "id": "abcd-1234-abcd-1234"},
        {"name": "ops", "assignable": "yes", "system": True, "color": "red"},
        "not a mapping",
    ]
    with pytest.raises(InvalidInput) as info:
        validate_groups_section(section)
    errors = dict(_errors(info))
    assert "already used as 'data_scientists'" in errors["groups[1].name"]
    assert "contains a space" in errors["groups[2].name"]
    assert "did you mean 'applications'" in errors["groups[2].features[0]"]
    assert "not a UUID" in errors["groups[2].id"]
    assert errors["groups[3].assignable"] == "Assignable must be true or false, not 'yes'."
    assert errors["groups[3].system"].startswith("System is always false for cross-tenant groups")
    assert errors["groups[3].color"].startswith("'color' is an unknown key for a group")
    assert errors["groups[4]"].startswith("A group must be a mapping")


def test_duplicate_ids_are_refused():
    same = "3f1c9e62-8a53-4e0f-9f51-2d7c4b1a0e77"
    with pytest.raises(InvalidInput) as info:
        validate_groups_section([{"name": "a", "id": same}, {"name": "b", "id": same.upper()}])
    assert _errors(info) == [
        (
            "groups[1].id",
            f"The group id {same} is also the id of groups[0]; give each group its own id.",
        )
    ]


def test_groups_section_fills_defaults():
    [group] = validate_groups_section([{"name": "ops"}])
    assert (group.name, group.display_name, group.group_id, group.features, group.assignable) == (
        "ops",
        "",
        None,
        [],
        False,
    )


def test_builtin_groups_keep_an_empty_list_and_null_means_not_set():
    assert validate_builtin_groups_section({"users": [], "admins": None}) == {
        "users": [],
        "admins": None,
    }


def test_builtin_groups_errors():
    with pytest.raises(InvalidInput) as info:
        validate_builtin_groups_section({"user": [], "admins": ["nope"], "queue_admins": "x"})
    errors = dict(_errors(info))
    assert "'user' is an unknown built-in group" in errors["builtin_groups.user"]
    assert "'nope' is an unknown feature" in errors["builtin_groups.admins[0]"]
    assert errors["builtin_groups.queue_admins"].startswith(
        "The features must be a list of feature names"
    )


def test_organization_section():
    org = validate_organization_section(
        {
            "features": ["user_management_advanced"],
            "unique_company_names": True,
            "ui_features_per_role": {"user": {"show_datasets": False}},
        }
    )
    assert org.features == ["user_management_advanced"]
    assert org.unique_company_names is True
    assert org.ui_features_per_role == {"user": {"show_datasets": False}}


def test_organization_errors():
    with pytest.raises(InvalidInput) as info:
        validate_organization_section(
            {
                "features": ["nope"],
                "unique_company_names": "true",
                "ui_features_per_role": {
                    "superhero": {},
                    "user": {"applications": False, "show_datasets": "no"},
                },
                "extra": 1,
            }
        )
    errors = dict(_errors(info))
    assert "'nope' is an unknown feature" in errors["organization.features[0]"]
    assert (
        errors["organization.unique_company_names"]
        == "Unique company names must be true or false, not 'true'."
    )
    assert "'superhero' is an unknown role" in errors["organization.ui_features_per_role.superhero"]
    assert (
        "is an unknown UI feature" in errors["organization.ui_features_per_role.user.applications"]
    )
    assert errors["organization.ui_features_per_role.user.show_datasets"].endswith(
        "must be true or false, not 'no'."
    )
    assert errors["organization.extra"].startswith("'extra' is an unknown key")


def test_all_three_sections_report_together():
    with pytest.raises(InvalidInput) as info:
        validate_server_sections(
            {"groups": [{"name": "users"}], "builtin_groups": {"x": []}, "organization": []}
        )
    assert {p for p, _ in _errors(info)} == {
        "groups[0].name",
        "builtin_groups.x",
        "organization",
    }
