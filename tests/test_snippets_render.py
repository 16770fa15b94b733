"""The snippet exporter's formats, refusals and the docs' own examples."""

import pytest

from console.snippets import FORMATS, EnvSetting, env_name_for_path, hocon_value, render
from tests.snippet_readers import apiserver_reads, read_env_file, read_helm


def test_docs_examples_come_out_in_the_form_the_apiserver_needs():
    settings = [
        EnvSetting.for_path("services.organization.features.user_management_advanced", True),
        EnvSetting.for_path("apiserver.company.unique_names", True),
        EnvSetting.for_path("services.auth.default_groups.users.features", ["applications"]),
        EnvSetting.for_path("services.auth.default_groups.admins.features", []),
    ]
    values, _, _ = read_helm(render(settings, "helm"))
    assert values == {
        "CLEARML__services__organization__features__user_management_advanced": "true",
        "CLEARML__apiserver__company__unique_names": "true",
        # The docs write the list as a JSON list inside a YAML string; a YAML list would be
        # refused by Kubernetes (EnvVar.value is a string).
        "CLEARML__services__auth__default_groups__users__features": '["applications"]',
        "CLEARML__services__auth__default_groups__admins__features": "[]",
    }
    assert apiserver_reads("CLEARML__services__auth__default_groups__admins__features", "[]") == []


def test_supervisor_email_is_quoted_as_the_docs_require():
    # Seed 003: the email "must be explicitly quoted"; unquoted, pyhocon cannot parse it.
    setting = EnvSetting.for_path("secure.credentials.supervisor.email", "admin@example.com")
    assert setting.env_value == '"admin@example.com"'
    with pytest.raises(Exception):  # noqa: B017 - pyhocon's parse error
        apiserver_reads(setting.name, "admin@example.com")


def test_for_path_keeps_the_case_of_the_group_name():
    setting = EnvSetting.for_path("services.auth.default_groups.Data_Scientists.features", [])
    assert setting.name == "CLEARML__services__auth__default_groups__Data_Scientists__features"
    assert setting.path == "services.auth.default_groups.data_scientists.features"


@pytest.mark.parametrize(
    "value,reason",
    [
        ("a\x00b", "NUL"),
        ("bell\x07", r"U\+0007"),
        ("\x1b[31m", r"U\+001B"),
        ("del\x7f", r"U\+007F"),
        ("\ud800", "surrogate"),
        (float("nan"), "cannot be written as a HOCON number"),
        (float("inf"), "cannot be written as a HOCON number"),
        (["a", ""], "empty string inside a list"),
        ({"a.b": 1}, "mapping key"),
        ({"x y": 1}, "mapping key"),
        (b"bytes", "bytes cannot be written"),
        (object(), "object cannot be written"),
        ({1, 2}, "set cannot be written"),
    ],
)
def test_values_that_cannot_be_read_back_are_refused(value, reason):
    with pytest.raises(ValueError, match=reason):
        hocon_value(value)
    with pytest.raises(ValueError, match=reason):
        EnvSetting("CLEARML__a__b", value)


@pytest.mark.parametrize(
    "name,hocon,reason",
    [
        ("", True, "not a valid environment variable name"),
        ("1ABC", False, "not a valid environment variable name"),
        ("WITH-DASH", False, "not a valid environment variable name"),
        ("WITH SPACE", False, "not a valid environment variable name"),
        ("NAME\n", False, "not a valid environment variable name"),
        ("clearml__lower_prefix", True, "does not start with CLEARML__"),
        ("OTHER__x", True, "does not start with CLEARML__"),
        ("CLEARML__", True, "empty path segment"),
        ("CLEARML__a____b", True, "empty path segment"),
    ],
)
def test_bad_variable_names_are_refused(name, hocon, reason):
    with pytest.raises(ValueError, match=reason):
        EnvSetting(name, "x", hocon=hocon)


@pytest.mark.parametrize(
    "path,reason",
    [
        ("services.auth.default_groups.bad__name.features", "double '_'"),
        ("services.auth.default_groups.trailing_.features", "trailing"),
        ("services.auth.default_groups._leading.features", "leading"),
        ("services..features", "segment ''"),
        ("services.with-dash", "segment 'with-dash'"),
        ("", "a configuration path is required"),
    ],
)
def test_for_path_refuses_paths_whose_variable_name_would_split_differently(path, reason):
    with pytest.raises(ValueError, match=reason):
        env_name_for_path(path)


def test_a_plain_variable_with_a_line_break_cannot_go_in_an_env_file():
    setting = EnvSetting("WEBSERVER__banner", "two\nlines", service="webserver", hocon=False)
    with pytest.raises(ValueError, match="one variable per line"):
        render([setting], "env")
    # The other formats carry it.
    assert "two" in render([setting], "shell")


def test_a_hocon_value_with_a_line_break_is_escaped_so_env_files_work():
    setting = EnvSetting.for_path("a.b", "two\nlines")
    values = read_env_file(render([setting], "env"))
    assert apiserver_reads(setting.name, values[setting.name]) == "two\nlines"


def test_an_env_file_line_over_dockers_limit_is_refused():
    setting = EnvSetting.for_path("a.b", "x" * 70000)
    with pytest.raises(ValueError, match="64 KiB"):
        render([setting], "env")


@pytest.mark.parametrize("fmt", ["compose", "env", "shell"])
def test_secret_ref_is_refused_outside_helm(fmt):
    settings = [EnvSetting.for_path("a.b", "s", secret=True)]
    with pytest.raises(ValueError, match="works with --format helm only"):
        render(settings, fmt, secrets="secret-ref")


@pytest.mark.parametrize("name", ["Upper", "under_score", "-dash", "x" * 254, ""])
def test_secret_ref_refuses_an_invalid_secret_name(name):
    settings = [EnvSetting.for_path("a.b", "s", secret=True)]
    with pytest.raises(ValueError, match="Secret name"):
        render(settings, "helm", secrets="secret-ref", secret_name=name)


def test_unknown_format_and_secrets_mode_are_refused():
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render([], "xml")
    with pytest.raises(ValueError, match="unknown secrets mode"):
        render([], "helm", secrets="vault")


def test_the_same_variable_twice_is_refused():
    settings = [EnvSetting.for_path("a.b", 1), EnvSetting.for_path("a.b", 2)]
    with pytest.raises(ValueError, match="given twice"):
        render(settings, "helm")


def test_names_differing_only_in_case_are_the_same_setting_for_the_apiserver():
    settings = [
        EnvSetting("CLEARML__services__auth__default_groups__Team__features", []),
        EnvSetting("CLEARML__services__auth__default_groups__team__features", ["reports"]),
    ]
    with pytest.raises(ValueError, match="the apiserver lower-cases variable paths"):
        render(settings, "env")


def test_the_same_name_for_two_services_is_allowed():
    settings = [
        EnvSetting("SHARED_NAME", "a", hocon=False),
        EnvSetting("SHARED_NAME", "b", service="webserver", hocon=False),
    ]
    _, _, documents = read_helm(render(settings, "helm"))
    assert documents[0]["webserver"]["extraEnvs"][0]["value"] == "b"


def test_unknown_service_is_refused():
    with pytest.raises(ValueError, match="service must be one of"):
        EnvSetting.for_path("a.b", 1, service="mongodb")


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_settings_render_a_comment_every_consumer_ignores(fmt):
    text = render([], fmt)
    assert text.startswith("# ")
    assert read_env_file(text) == {}


def test_secret_values_never_show_in_the_repr():
    setting = EnvSetting.for_path("a.b", "hunter2-secret", secret=True)
    assert "hunter2" not in repr(setting)


def test_long_values_are_not_folded_across_lines():
    setting = EnvSetting.for_path("a.b", [f"f{i}" for i in range(200)])
    helm = render([setting], "helm")
    assert len(helm.splitlines()) == 4
