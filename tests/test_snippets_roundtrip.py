"""Every format, every nasty value: read back by its consumer, then by the apiserver's pyhocon."""

import pytest

from console.snippets import FORMATS, EnvSetting, hocon_value, render
from tests.snippet_readers import (
    apiserver_reads,
    read_compose,
    read_env_file,
    read_helm,
    read_shell,
)

NASTY_VALUES = [
    "plain",
    "Data_Scientists",
    "My Group Name",
    "two  inner   spaces",
    "  leading spaces",
    "trailing spaces  ",
    " ",
    "",
    "#hash",
    "abc#def",
    "$",
    "$x",
    "${x}",
    "a$$b",
    "${?HOME}",
    '"double quoted"',
    '"',
    "'single quoted'",
    "'",
    "it's",
    "back\\slash",
    "\\",
    "ends with backslash\\",
    "\\n is not a newline",
    '\\"',
    "admin@example.com",
    "https://sso.example.com/realms/acme",
    "// not a comment",
    "a//b",
    "non-ASCII: é ü ß 日本語 😀",
    "\u2028line separator\u2029",
    "next line\x85",
    "true",
    "false",
    "True",
    "null",
    "yes",
    "off",
    "include",
    "10",
    "1.5",
    "-3",
    "1e5",
    "0x10",
    "3f1c9e62-8a53-4e0f-9f51-2d7c4b1a0e77",
    "[not a list]",
    "{not: a map}",
    "a,b",
    "key=value",
    "=starts with equals",
    "a: b",
    "*&^%!?`~+",
    "multi\nline",
    "carriage\rreturn",
    "tab\there",
    "x" * 2000,
    True,
    False,
    0,
    10,
    -7,
    12345678901234567890,
    1.5,
    1e20,
    None,
    [],
    ["applications"],
    ["applications", "experiments", "pipelines"],
    ["with space", "#", "$x", "${y}", "é", " ", "\\", '"', "true", "10", "a\nb"],
    [True, 1, "1", None],
    {"enabled": True, "claim": "groups", "admins": ["clearml-admins"]},
    {"nested": {"list": [1, "two"]}},
]

IDS = [f"v{i}" for i in range(len(NASTY_VALUES))]


def _settings():
    return [
        EnvSetting(f"CLEARML__console_test__value_{i}", value)
        for i, value in enumerate(NASTY_VALUES)
    ]


def _assert_reads_back(name: str, text: str, expected) -> None:
    got = apiserver_reads(name, text)
    assert got == expected, (name, text)
    # "true" must stay a string and True a boolean; 10 an int and "10" a string.
    assert type(got) is type(expected), (name, text, got)


@pytest.fixture(scope="module")
def nasty():
    return _settings()


@pytest.mark.parametrize("index", range(len(NASTY_VALUES)), ids=IDS)
def test_hocon_value_alone_reads_back_exactly(index):
    value = NASTY_VALUES[index]
    _assert_reads_back("CLEARML__a__b", hocon_value(value), value)


# Helm drops or rewrites C1 control characters (NEL becomes a space): the helm format refuses
# them, naming the variable (console/snippets/escaping.py); the other formats carry them.
HELM_REFUSES = {"next line\x85"}


def _refused(value) -> bool:
    return isinstance(value, str) and value in HELM_REFUSES


def test_helm_values_read_back_exactly(nasty):
    carried = [(s, v) for s, v in zip(nasty, NASTY_VALUES, strict=True) if not _refused(v)]
    values, refs, documents = read_helm(render([s for s, _ in carried], "helm"))
    assert refs == {} and len(documents) == 1
    assert list(values) == [s.name for s, _ in carried]
    for setting, expected in carried:
        _assert_reads_back(setting.name, values[setting.name], expected)


def test_helm_refuses_a_value_helm_would_change(nasty):
    refused = [s for s, v in zip(nasty, NASTY_VALUES, strict=True) if _refused(v)]
    with pytest.raises(ValueError) as info:
        render(refused, "helm")
    assert refused[0].name in str(info.value)


def test_compose_values_read_back_exactly_after_interpolation(nasty):
    values = read_compose(render(nasty, "compose"))
    assert list(values) == [s.name for s in nasty]
    for setting, expected in zip(nasty, NASTY_VALUES, strict=True):
        _assert_reads_back(setting.name, values[setting.name], expected)


def test_env_file_values_read_back_exactly(nasty):
    values = read_env_file(render(nasty, "env"))
    assert list(values) == [s.name for s in nasty]
    for setting, expected in zip(nasty, NASTY_VALUES, strict=True):
        _assert_reads_back(setting.name, values[setting.name], expected)


def test_shell_exports_read_back_exactly_when_sourced_by_sh(nasty):
    names = [s.name for s in nasty]
    values = read_shell(render(nasty, "shell"), names)
    for setting, expected in zip(nasty, NASTY_VALUES, strict=True):
        _assert_reads_back(setting.name, values[setting.name], expected)


@pytest.mark.parametrize("fmt", FORMATS)
def test_plain_webserver_variables_pass_through_untouched(fmt):
    texts = ["true", "with space", "$x", "#x", "it's", "é", "", "  padded  ", "a\\b"]
    settings = [
        EnvSetting(f"WEBSERVER__test{i}", text, service="webserver", hocon=False)
        for i, text in enumerate(texts)
    ]
    settings.append(EnvSetting("WEBSERVER__flag", True, service="webserver", hocon=False))
    text = render(settings, fmt)
    if fmt == "helm":
        values, _, _ = read_helm(text, service="webserver")
    elif fmt == "compose":
        values = read_compose(text, service="webserver")
    elif fmt == "env":
        values = read_env_file(text)
    else:
        values = read_shell(text, [s.name for s in settings])
    assert [values[s.name] for s in settings] == [*texts, "true"]


def test_secret_ref_moves_secret_values_into_a_v1_secret():
    nasty_secret = "s3cr$t'\"#//@ é\\"
    settings = [
        EnvSetting.for_path(
            "secure.login.sso.oauth_client.keycloak.client_secret", nasty_secret, secret=True
        ),
        EnvSetting.for_path("secure.login.sso.oauth_client.keycloak.client_id", "clearml"),
        EnvSetting("CLEARML__secure__other__password", "true", secret=True),
    ]
    text = render(settings, "helm", secrets="secret-ref", secret_name="acme-sso")
    values, refs, documents = read_helm(text)
    assert len(documents) == 2
    secret = documents[1]
    assert secret["apiVersion"] == "v1" and secret["kind"] == "Secret"
    assert secret["type"] == "Opaque" and secret["metadata"] == {"name": "acme-sso"}
    # Only the non-secret value is inline; the secrets are references into the Secret.
    assert values == {settings[1].name: "clearml"}
    assert refs == {
        settings[0].name: {"name": "acme-sso", "key": settings[0].name},
        settings[2].name: {"name": "acme-sso", "key": settings[2].name},
    }
    assert nasty_secret not in documents[0].__repr__()
    data = secret["stringData"]
    assert all(isinstance(v, str) for v in data.values())
    _assert_reads_back(settings[0].name, data[settings[0].name], nasty_secret)
    _assert_reads_back(settings[2].name, data[settings[2].name], "true")


def test_inline_secrets_stay_in_extra_envs():
    setting = EnvSetting("CLEARML__secure__x__secret", "abc$def", secret=True)
    values, refs, documents = read_helm(render([setting], "helm"))
    assert refs == {} and len(documents) == 1
    _assert_reads_back(setting.name, values[setting.name], "abc$def")


def test_both_services_in_one_snippet_stay_apart():
    settings = [
        EnvSetting.for_path("apiserver.company.unique_names", True),
        EnvSetting("WEBSERVER__onlyPasswordLogin", True, service="webserver", hocon=False),
    ]
    values, _, documents = read_helm(render(settings, "helm"))
    assert values == {"CLEARML__apiserver__company__unique_names": "true"}
    assert documents[0]["webserver"]["extraEnvs"] == [
        {"name": "WEBSERVER__onlyPasswordLogin", "value": "true"}
    ]
    compose = read_compose(render(settings, "compose"), service="webserver")
    assert compose == {"WEBSERVER__onlyPasswordLogin": "true"}
    env_text = render(settings, "env")
    assert env_text.splitlines() == [
        "# apiserver",
        "CLEARML__apiserver__company__unique_names=true",
        "# webserver",
        "WEBSERVER__onlyPasswordLogin=true",
    ]
