"""Exports read back by the real programs that consume them, then by the apiserver's parser.

Checked: 102 hostile values x 5 format/secret-mode combinations (helm inline, helm secret-ref,
compose, env file, shell) = 510 combinations, each with a non-secret and a secret EnvSetting
(1020 variables), all passing; the env file is read by two parsers (the docker CLI's and compose's
raw env_file) and the shell exports by two shells (bash, sh), so 714 test cases. Every value must
come back from pyhocon (`<path>: <value>`, as the apiserver parses it) equal and of the same type.
`test_the_recorded_count_is_current` keeps these figures true.

The consumers (tests/snippet_readers.py):
- helm: `helm template clearml <ClearML's chart> -f values.yaml`, the apiserver Deployment's
  container env, the kubelet's `$(VAR)` expansion (tests/k8s_expansion.py) with the chart's own
  variables before ours and the service variables, `secretKeyRef` read from the chart's and the
  snippet's Secrets;
- compose: `docker compose -f <ClearML's compose file> -f <snippet> config`;
- env file: `docker create --env-file` against a stand-in engine that records `Env`, and compose's
  `env_file: {format: raw}`;
- shell: `bash` and `sh` sourcing the exports, then `env -0`.
"""

import pytest
import yaml

from console.snippets import EnvSetting, render
from console.snippets.render import dump_yaml_documents
from tests import snippet_readers as readers
from tests.k8s_expansion import SERVICE_ENV, expand
from tests.snippet_readers import apiserver_reads

FIRST = "CLEARML__consumers__v000"

HOSTILE = [
    # comments, substitutions and the kubelet's $(VAR)
    "#",
    "a#b",
    "# not a comment",
    "//",
    "a//b",
    "https://sso.example.com//realms/acme",
    "$",
    "a$",
    "$x",
    "$$",
    "$$$",
    "${x}",
    "${?x}",
    "$${x}",
    "$(VAR)",
    "$$(VAR)",
    "$(KUBERNETES_SERVICE_HOST)",
    "$(CLEARML_ENV)",  # defined by the chart before extraEnvs
    "$(CLEARML_REDIS_SERVICE_HOST)",
    f"$({FIRST})",  # defined earlier in the same env list, by the snippet itself
    "a$(",
    "$(unterminated",
    "$é",
    "pa$$word",
    # quotes and backslashes
    "'",
    "it's",
    '"',
    '"double quoted"',
    "'\"'",
    "\\",
    "back\\slash",
    "ends with\\",
    "\\n",
    "\\$(VAR)",
    '\\"',
    # separators
    "@",
    "admin@example.com",
    ":",
    "a: b",
    "=",
    "a=b",
    "=starts with equals",
    "k=v=w",
    ",",
    "[not, a list]",
    "{not: a map}",
    # whitespace and line breaks
    "multi\nline",
    "\n",
    "tab\there",
    "\t",
    "cr\rlf\r\n",
    " leading",
    "trailing ",
    "  both  ",
    " ",
    "",
    # non-ASCII
    "é ü ß 日本語 😀",
    "\u2028line separators\u2029",
    "\ufeffbyte order mark",
    "\u00a0no-break space",
    "\U000e0041 tag character",
    # strings that look like other types
    "true",
    "false",
    "yes",
    "off",
    "null",
    "None",
    "10",
    "-1",
    "1.5",
    "1e3",
    "0x1F",
    "007",
    "1h",
    "30s",
    "10 minutes",
    "1d",
    "x" * 3000,
    # typed values
    True,
    False,
    None,
    0,
    10,
    -3,
    2**63,
    1.5,
    -0.25,
    1e20,
    [],
    ["applications"],
    ["$(VAR)", "#", "1h", "true", "é", "a\nb", " ", "'"],
    [1, True, None, "1"],
    {"key": "$(KUBERNETES_SERVICE_HOST)", "n": 1, "nested": {"list": ["${x}", "$$"]}},
    {"empty": []},
    "$(VAR)$(VAR)",
    "$$(KUBERNETES_SERVICE_HOST)",
    "$($(VAR))",
    "$(VAR",
    "$( spaced )",
    ")$(",
    "\\u0041 is not decoded",
    "tab\tand $(VAR) and 'quote' and \"dq\" and é",
]

# (format, secrets mode, reader id): every format, both secret modes where the format has them.
CONSUMERS = {
    "helm-inline": ("helm", "inline"),
    "helm-secret-ref": ("helm", "secret-ref"),
    "compose": ("compose", "inline"),
    "env-docker-cli": ("env", "inline"),
    "env-compose-raw": ("env", "inline"),
    "shell-bash": ("shell", "inline"),
    "shell-sh": ("shell", "inline"),
}
COMBINATIONS = sorted(set(CONSUMERS.values()))


def _settings() -> list[EnvSetting]:
    out = []
    for i, value in enumerate(HOSTILE):
        out.append(EnvSetting(f"CLEARML__consumers__v{i:03d}", value))
        out.append(EnvSetting(f"CLEARML__consumers__s{i:03d}", value, secret=True))
    return out


SETTINGS = _settings()


def _read(consumer: str) -> dict[str, str]:
    fmt, secrets = CONSUMERS[consumer]
    text = render(SETTINGS, fmt, secrets=secrets)
    if fmt == "helm":
        environment, _ = readers.helm_real(text)
        return environment
    if fmt == "compose":
        return readers.compose_real(text)
    if consumer == "env-docker-cli":
        return readers.env_file_docker_cli(text)
    if consumer == "env-compose-raw":
        return readers.env_file_compose_raw(text)
    return readers.shell_real(text, consumer.removeprefix("shell-"))


@pytest.fixture(scope="module")
def seen():
    cache: dict[str, dict[str, str]] = {}

    def get(consumer: str) -> dict[str, str]:
        if consumer not in cache:
            cache[consumer] = _read(consumer)
        return cache[consumer]

    return get


def assert_same(got, expected, where):
    """Equal and of the same type, all the way down ("true" is not True, "10" is not 10)."""
    assert type(got) is type(expected), (where, got, expected)
    if isinstance(expected, list):
        assert len(got) == len(expected), (where, got, expected)
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_same(g, e, f"{where}[{i}]")
    elif isinstance(expected, dict):
        assert list(got) == list(expected), (where, got, expected)
        for key in expected:
            assert_same(got[key], expected[key], f"{where}.{key}")
    else:
        assert got == expected, (where, got, expected)


@pytest.mark.parametrize("index", range(len(HOSTILE)), ids=lambda i: f"v{i:03d}")
@pytest.mark.parametrize("consumer", list(CONSUMERS))
def test_the_apiserver_reads_back_exactly_what_the_console_meant(seen, consumer, index):
    environment = seen(consumer)
    for name in (f"CLEARML__consumers__v{index:03d}", f"CLEARML__consumers__s{index:03d}"):
        assert name in environment, f"{consumer}: {name} did not reach the process"
        assert_same(apiserver_reads(name, environment[name]), HOSTILE[index], f"{consumer} {name}")


def test_the_recorded_count_is_current():
    assert len(HOSTILE) == 102 and len(COMBINATIONS) == 5 and len(CONSUMERS) == 7
    assert len(HOSTILE) * len(COMBINATIONS) == 510 and len(SETTINGS) == 2 * len(HOSTILE)


def test_the_chart_and_the_kubelet_see_what_a_deployment_would(seen):
    environment = seen("helm-inline")
    # The chart's own variables are still there, and the kubelet's service variables.
    assert environment["CLEARML_ENV"] == "helm-cloud"
    assert environment["KUBERNETES_SERVICE_HOST"] == SERVICE_ENV["KUBERNETES_SERVICE_HOST"]
    # Unescaped, these would have been expanded by the kubelet: the test is not vacuous.
    defined = {"CLEARML_ENV": "helm-cloud", FIRST: "x"}
    assert expand("$(CLEARML_ENV)", defined) == "helm-cloud"
    assert expand(f"$({FIRST})", defined) == "x"
    assert expand("$é", {}) != "$é"


def test_secret_ref_puts_secrets_in_the_secret_unescaped_and_refers_to_them():
    text = render(SETTINGS, "helm", secrets="secret-ref")
    first, secret_text = readers.split_documents(text)
    values = yaml.safe_load(first)["apiserver"]["extraEnvs"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in values if "valueFrom" in e}
    assert set(refs) == {s.name for s in SETTINGS if s.secret}
    secret = yaml.safe_load(secret_text)
    assert secret["kind"] == "Secret" and secret["type"] == "Opaque"
    for s in SETTINGS:
        if s.secret:
            assert refs[s.name] == {"name": "clearml-console", "key": s.name}
            # A Secret value is never expanded by the kubelet, so it is written as it is.
            assert secret["stringData"][s.name] == s.env_value


def test_the_manifests_are_valid_kubernetes_objects():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    text = render(SETTINGS, "helm", secrets="secret-ref")
    first, secret_text = readers.split_documents(text)
    documents = readers.helm_template(first)
    deployment = next(
        d
        for d in documents
        if d.get("kind") == "Deployment" and d["metadata"]["name"] == "clearml-apiserver"
    )
    for doc in (deployment, yaml.safe_load(secret_text)):
        kubernetes_validate.validate(doc, "1.37.0", strict=True)


# ---- what a format cannot carry is refused, naming the variable and the format -----------------


@pytest.mark.parametrize("fmt", ["compose", "env", "shell"])
def test_secret_ref_is_refused_outside_helm(fmt):
    with pytest.raises(ValueError, match=f"works with --format helm only; for {fmt}, keep"):
        render(SETTINGS, fmt, secrets="secret-ref")


def test_a_line_break_in_a_plain_value_is_refused_in_an_env_file_only():
    setting = EnvSetting("WEBSERVER__banner", "two\nlines", service="webserver", hocon=False)
    with pytest.raises(ValueError, match=r"^WEBSERVER__banner: an env file .* line break"):
        render([setting], "env")
    for fmt in ("helm", "compose", "shell"):
        render([setting], fmt)


@pytest.mark.parametrize("char", ["\x80", "\x85", "\x9f", "\ufffe", "\uffff"])
def test_characters_helm_cannot_carry_are_refused_in_helm_only(char):
    setting = EnvSetting("CLEARML__a__b", f"x{char}y")
    message = rf"^CLEARML__a__b: the helm format cannot carry the character U\+{ord(char):04X}"
    with pytest.raises(ValueError, match=message):
        render([setting], "helm")
    environment = readers.compose_real(render([setting], "compose"))
    assert apiserver_reads(setting.name, environment[setting.name]) == f"x{char}y"


@pytest.mark.parametrize(("char", "effect"), [("\x80", "dropped"), ("\x85", "a space")])
def test_helm_really_drops_or_changes_those_characters(char, effect):
    """Why they are refused: written anyway, helm loses the value (or the whole list)."""
    values = {
        "apiserver": {
            "extraEnvs": [
                {"name": "CLEARML__a__ok", "value": "fine"},
                {"name": "CLEARML__a__bad", "value": f"x{char}y"},
            ]
        }
    }
    container = readers.deployment_container(
        readers.helm_template(dump_yaml_documents([values])), "clearml-apiserver"
    )
    env = {e["name"]: e.get("value") for e in container["env"]}
    if effect == "dropped":
        assert "CLEARML__a__bad" not in env and "CLEARML__a__ok" not in env
    else:
        assert env["CLEARML__a__bad"] == "x y"


def test_the_env_file_line_limit_is_dockers():
    name = "WEBSERVER__long"
    longest = EnvSetting(name, "x" * (65535 - len(name) - 1), service="webserver", hocon=False)
    text = render([longest], "env")
    assert len(text.encode()) == 65536  # the line and its newline
    assert readers.env_file_docker_cli(text)[name] == longest.value
    too_long = EnvSetting(name, longest.value + "x", service="webserver", hocon=False)
    with pytest.raises(ValueError, match=rf"^{name}: the env-file line is longer than docker's"):
        render([too_long], "env")
    with pytest.raises(AssertionError, match="docker refused the env file"):
        readers.env_file_docker_cli(f"{name}={too_long.value}\n")


# ---- plain (non-HOCON) webserver variables pass through every consumer untouched -------------

PLAIN = [
    "$(KUBERNETES_SERVICE_HOST)",
    "$(NGINX_APISERVER_ADDRESS)",  # defined by the chart before extraEnvs
    "$$",
    "${x}",
    "$x",
    "it's",
    '"quoted"',
    " padded ",
    "tab\there",
    "é 😀",
    "#x",
    "a=b",
    "true",
    "",
]


@pytest.mark.parametrize("fmt", ["helm", "compose", "env", "shell"])
def test_plain_webserver_values_pass_through_every_consumer(fmt):
    settings = [
        EnvSetting(f"WEBSERVER__plain{i}", value, service="webserver", hocon=False)
        for i, value in enumerate(PLAIN)
    ]
    text = render(settings, fmt)
    if fmt == "helm":
        environment, _ = readers.helm_real(text, service="webserver")
    elif fmt == "compose":
        environment = readers.compose_real(text, service="webserver")
    elif fmt == "env":
        environment = readers.env_file_docker_cli(text)
        assert readers.env_file_compose_raw(text) == environment
    else:
        environment = readers.shell_real(text, "bash")
        assert {k: environment[k] for k in environment if k.startswith("WEBSERVER__")} == {
            k: v for k, v in readers.shell_real(text, "sh").items() if k.startswith("WEBSERVER__")
        }
    assert [environment[s.name] for s in settings] == PLAIN
