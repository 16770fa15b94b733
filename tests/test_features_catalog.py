"""The feature catalog matches the docs' "Available Features" table and validates names."""

import re
from pathlib import Path

import pytest

from console.validation import InvalidInput
from tenants.features import (
    FEATURE_NAMES,
    FEATURES_BY_NAME,
    UI_FEATURE_NAMES,
    feature_choices,
    sort_features,
    validate_feature_names,
)

DOCS = Path("/work/shared/reference/clearml-docs/multi_tenant_k8s.md")


@pytest.mark.skipif(not DOCS.exists(), reason="reference docs not available")
def test_catalog_has_exactly_the_features_of_the_docs_table():
    text = DOCS.read_text(encoding="utf-8").split("## Available Features", 1)[1]
    documented = re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M)
    assert documented == list(FEATURE_NAMES)


def test_deprecated_and_versioned_features_are_marked():
    assert {n for n in FEATURE_NAMES if FEATURES_BY_NAME[n].deprecated} == {"experiments", "queues"}
    assert FEATURES_BY_NAME["show_orchestration"].min_server_version == "3.25"
    assert FEATURES_BY_NAME["show_datasets"].min_server_version == "3.25"
    assert FEATURES_BY_NAME["applications"].min_server_version is None
    assert "show_datasets" in UI_FEATURE_NAMES and "applications" not in UI_FEATURE_NAMES
    assert ("experiments", "experiments (deprecated)") in feature_choices()
    assert "experiments" not in dict(feature_choices(include_deprecated=False))


def test_valid_names_pass_and_an_empty_list_is_kept():
    assert validate_feature_names(["applications", "reports"], "groups[0].features") == [
        "applications",
        "reports",
    ]
    assert validate_feature_names([], "builtin_groups.users") == []


@pytest.mark.parametrize(
    "names,path,message",
    [
        (
            ["aplications"],
            "groups[0].features[0]",
            "'aplications' is an unknown feature; did you mean 'applications'?",
        ),
        (
            ["reports", "Reports"],
            "groups[0].features[1]",
            "'Reports' is an unknown feature; did you mean 'reports'?",
        ),
        (
            ["reports", "reports"],
            "groups[0].features[1]",
            "The feature 'reports' is listed twice; keep it once in the list.",
        ),
        (
            [3],
            "groups[0].features[0]",
            "Each entry must be a feature name (a string), not int 3; write the name, like "
            "reports.",
        ),
        (
            "reports",
            "groups[0].features",
            "The features must be a list of feature names, like [reports, pipelines], not "
            "'reports'.",
        ),
        (
            {"a": 1},
            "groups[0].features",
            "The features must be a list of feature names, like [reports, pipelines], not "
            "{'a': 1}.",
        ),
    ],
)
def test_bad_names_are_refused_with_the_path(names, path, message):
    with pytest.raises(InvalidInput) as info:
        validate_feature_names(names, "groups[0].features")
    assert [(e.path, e.message) for e in info.value.errors] == [(path, message)]


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidInput) as info:
        validate_feature_names(["nope", "reports", "zzz"], "f")
    assert [e.path for e in info.value.errors] == ["f[0]", "f[2]"]


def test_sort_features_follows_the_catalog():
    assert sort_features(["show_datasets", "applications", "user_management"]) == [
        "user_management",
        "applications",
        "show_datasets",
    ]
