"""Merging settings into an uploaded Helm values file or compose override."""

import pytest
import yaml

from console.snippets import EnvSetting
from console.snippets.merge import MergeError, decode_upload, detect_kind, merge_file
from tests.snippet_readers import apiserver_reads, compose_unescape, read_helm

VALUES = """\
# clearml-values.override.yaml for acme
apiserver:
  replicaCount: 2   # two replicas
  # Variables for the apiserver container
  extraEnvs:
    - name: UNRELATED   # keep me
      value: "x"
    - name: CLEARML__services__auth__default_groups__Team__features
      value: '["reports"]'
    - name: CLEARML__apiserver__company__unique_names
      value: "true"
    - name: CLEARML__services__auth__default_groups__team__features
      value: '[]'
webserver:
  extraEnvs: []
fileserver:
  enabled: true
"""

SETTINGS = [
    EnvSetting.for_path("services.auth.default_groups.team.features", ["applications"]),
    EnvSetting.for_path("apiserver.company.unique_names", True),
    EnvSetting.for_path("services.auth.default_groups.team.name", "Team #1 $x"),
    EnvSetting.for_path(
        "secure.login.sso.oauth_client.keycloak.client_secret", "s'3\"c", secret=True
    ),
    EnvSetting("WEBSERVER__onlyPasswordLogin", True, service="webserver", hocon=False),
]


def test_helm_merge_replaces_adds_and_keeps_everything_else():
    result = merge_file(VALUES, SETTINGS)
    merged = result.merged
    # Comments and unrelated keys survive, in place.
    for kept in (
        "# clearml-values.override.yaml for acme",
        "replicaCount: 2   # two replicas",
        "# Variables for the apiserver container",
        "- name: UNRELATED   # keep me",
        "fileserver:\n  enabled: true",
    ):
        assert kept in merged
    values, refs, _ = read_helm(merged)
    assert values["UNRELATED"] == "x"
    # Team and team are the same setting for the apiserver: one entry remains, replaced.
    names = [e["name"] for e in yaml.safe_load(merged)["apiserver"]["extraEnvs"]]
    assert names.count("CLEARML__services__auth__default_groups__team__features") == 1
    assert "CLEARML__services__auth__default_groups__Team__features" not in names
    for setting in SETTINGS[:4]:
        assert apiserver_reads(setting.name, values[setting.name]) == setting.value
    webserver = yaml.safe_load(merged)["webserver"]["extraEnvs"]
    assert webserver == [{"name": "WEBSERVER__onlyPasswordLogin", "value": "true"}]
    assert result.unchanged == ["CLEARML__apiserver__company__unique_names"]
    assert result.replaced == ["CLEARML__services__auth__default_groups__team__features"]
    assert result.removed_duplicates == ["CLEARML__services__auth__default_groups__team__features"]
    assert set(result.added) == {
        "CLEARML__services__auth__default_groups__team__name",
        "CLEARML__secure__login__sso__oauth_client__keycloak__client_secret",
        "WEBSERVER__onlyPasswordLogin",
    }
    diff = "\n".join(result.diff)
    assert "+      value: '[\"applications\"]'" in diff
    # The unchanged entry keeps its original quoting, so the diff does not touch it.
    assert '- name: CLEARML__apiserver__company__unique_names\n      value: "true"' in merged
    assert "unique_names" not in "".join(line for line in result.diff if line[:1] in "+-")


def test_merging_twice_changes_nothing_the_second_time():
    first = merge_file(VALUES, SETTINGS).merged
    second = merge_file(first, SETTINGS)
    assert second.merged == first and not second.changed
    assert second.added == [] and second.replaced == []


def test_helm_merge_with_secret_refs():
    result = merge_file(VALUES, SETTINGS, secrets="secret-ref", secret_name="acme-idp")
    values, refs, _ = read_helm(result.merged)
    name = "CLEARML__secure__login__sso__oauth_client__keycloak__client_secret"
    assert name not in values and refs[name] == {"name": "acme-idp", "key": name}
    secret = yaml.safe_load(result.secret_document)
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "acme-idp"
    assert apiserver_reads(name, secret["stringData"][name]) == "s'3\"c"


def test_an_empty_file_gets_the_settings():
    result = merge_file("", SETTINGS[:1])
    values, _, _ = read_helm(result.merged)
    assert apiserver_reads(SETTINGS[0].name, values[SETTINGS[0].name]) == ["applications"]


COMPOSE_MAPPING = """\
services:
  apiserver:
    image: allegroai/clearml  # pinned elsewhere
    environment:
      CLEARML__apiserver__company__unique_names: "false"
      OTHER: "$$HOME"
"""

COMPOSE_LIST = """\
services:
  apiserver:
    environment:
      - OTHER=1
      - CLEARML__apiserver__company__unique_names=false
  webserver:
    image: x
"""


@pytest.mark.parametrize("text", [COMPOSE_MAPPING, COMPOSE_LIST])
def test_compose_merge_keeps_the_form_and_escapes_dollars(text):
    settings = [
        EnvSetting.for_path("apiserver.company.unique_names", True),
        EnvSetting.for_path("a.b", "cost $5 ${x}"),
    ]
    result = merge_file(text, settings, kind="compose")
    env = yaml.safe_load(result.merged)["services"]["apiserver"]["environment"]
    if isinstance(env, dict):
        assert "# pinned elsewhere" in result.merged
        values = {k: compose_unescape(v) for k, v in env.items()}
        assert values["OTHER"] == "$HOME"
    else:
        values = dict(compose_unescape(item).split("=", 1) for item in env)
        assert values["OTHER"] == "1"
    assert (
        apiserver_reads(
            "CLEARML__apiserver__company__unique_names",
            values["CLEARML__apiserver__company__unique_names"],
        )
        is True
    )
    assert apiserver_reads("CLEARML__a__b", values["CLEARML__a__b"]) == "cost $5 ${x}"


def test_detect_kind():
    assert detect_kind(COMPOSE_LIST) == "compose"
    assert detect_kind(VALUES) == "helm"
    assert detect_kind("") == "helm"


@pytest.mark.parametrize(
    "text,message",
    [
        ("apiserver: [\n", "not valid YAML at line 2, column 1"),
        ("a: 1\na: 2\n", "not valid YAML at line 2, column 1: found duplicate key"),
        ("\tapiserver: 1\n", "not valid YAML at line 1, column 1"),
        ("- a\n- b\n", "the top level of the file is a list (line 1, column 1)"),
        ("just text\n", "the top level of the file is a string"),
        ("apiserver: 3\n", "apiserver is a number (line 1, column 1), not a mapping"),
        (
            "apiserver:\n  extraEnvs:\n    name: X\n",
            "apiserver.extraEnvs is a mapping (line 2, column 3), not a list",
        ),
        (
            "apiserver:\n  extraEnvs: x\n",
            "apiserver.extraEnvs is a string (line 2, column 3), not a list",
        ),
        (
            "apiserver:\n  extraEnvs:\n    - name: A\n      value: b\n    - just a string\n",
            "apiserver.extraEnvs[1] (line 5, column 7) is not an entry with a name",
        ),
    ],
)
def test_bad_files_are_refused_with_line_and_column(text, message):
    with pytest.raises(MergeError) as info:
        merge_file(text, SETTINGS[:1])
    assert message in str(info.value)


def test_bad_compose_environment_is_refused():
    with pytest.raises(MergeError, match=r"services.apiserver.environment is a string \(line 3"):
        merge_file("services:\n  apiserver:\n    environment: FOO\n", SETTINGS[:1], kind="compose")


def test_uploads_must_be_utf8_and_small():
    with pytest.raises(MergeError, match="not UTF-8"):
        decode_upload(b"a: \xff\n")
    with pytest.raises(MergeError, match="at most"):
        decode_upload(b"#" * (1024 * 1024 + 1))
    assert decode_upload("\ufeffa: 1\r\n".encode()) == "a: 1\n"


def test_secret_ref_is_refused_for_compose():
    with pytest.raises(ValueError, match="helm only"):
        merge_file(COMPOSE_LIST, SETTINGS[:1], kind="compose", secrets="secret-ref")


def test_the_structure_is_checked_even_with_nothing_to_merge():
    with pytest.raises(MergeError, match=r"apiserver.extraEnvs is a mapping \(line 2, column 3\)"):
        merge_file("apiserver:\n  extraEnvs: {}\n", [])
    with pytest.raises(MergeError, match=r"environment\[1\] \(line 5, column 9\) is not a NAME="):
        merge_file(
            "services:\n  apiserver:\n    environment:\n      - A=1\n      - {B: 2}\n",
            [],
            kind="compose",
        )
