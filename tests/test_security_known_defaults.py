"""The public defaults: every one in the reference files is in known_defaults.json, and the audit
flags each of them wherever a deployment file can hold it."""

import io
import json
import os
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from pyhocon import ConfigFactory, ConfigTree

from console.security import catalog
from console.security.file_audit import audit_inputs

REPO = Path(__file__).resolve().parents[1]
CANDIDATES = [
    os.environ.get("CLEARML_REFERENCE_DIR", ""),
    str(REPO.parent / "shared" / "reference"),
    "/work/shared/reference",
]
REFERENCE = next(
    (Path(c) for c in CANDIDATES if c and Path(c, "clearml-helm-chart-values.yaml").exists()), None
)
needs_reference = pytest.mark.skipif(
    REFERENCE is None, reason="reference files not found (set CLEARML_REFERENCE_DIR)"
)


def _walk(tree, prefix=""):
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, ConfigTree):
            yield from _walk(value, path)
        else:
            yield path, value


def server_defaults() -> dict[str, str]:
    """secure.conf's secret settings, read with pyhocon (the file's keys live under `secure`)."""
    tree = ConfigFactory.parse_file(str(REFERENCE / "clearml-server-default-secure.conf"))
    found = {}
    for path, value in _walk(tree, "secure"):
        if catalog.secret_kind(path) and value:
            found[path] = value
    return found


def chart_defaults() -> dict[str, str]:
    values = yaml.safe_load((REFERENCE / "clearml-helm-chart-values.yaml").read_text())
    return {
        f"clearml.{key}": value
        for key, value in values["clearml"].items()
        if (key.endswith("Key") or key.endswith("Secret")) and value
    }


@needs_reference
def test_every_secret_of_the_servers_secure_conf_is_a_known_default():
    found = server_defaults()
    assert len(found) == 10  # the ten settings of seed 001
    for path, value in found.items():
        matches = catalog.match_known_default(value, path)
        assert matches and matches[0].setting == path, path
        assert matches[0].source == "server-secure-conf"


@needs_reference
def test_every_key_and_secret_of_the_helm_chart_is_a_known_default():
    found = chart_defaults()
    assert set(found) == {
        "clearml.apiserverKey",
        "clearml.apiserverSecret",
        "clearml.fileserverKey",
        "clearml.fileserverSecret",
        "clearml.readinessprobeKey",
        "clearml.readinessprobeSecret",
        "clearml.secureAuthTokenSecret",
        "clearml.testUserKey",
        "clearml.testUserSecret",
    }
    for name, value in found.items():
        matches = catalog.match_known_default(value, name)
        assert matches and matches[0].setting == name, name
        assert matches[0].source == "helm-chart-values"


def test_the_data_file_says_where_each_value_comes_from_and_why():
    data = json.loads(catalog.DATA_FILE.read_text())
    assert "readable form" in " ".join(data["about"])
    for source in data["sources"].values():
        assert source["url"].startswith("https://") and source["why"] and source["reference_copy"]
    for value in data["values"]:
        assert value["source"] in data["sources"]
        assert value["kind"] in ("key", "secret")
        assert value["value"]
        if value["setting"].endswith(("user_key", "Key")):
            assert value["kind"] == "key"
    # the pairs the live check tries resolve to values of this file
    assert {p.id for p in catalog.known_pairs()} >= {
        "server-tests",
        "server-webserver",
        "chart-apiserver",
    }


SERVER_SETTINGS = [s.path for s in catalog.SERVER_SECRETS]


def _high(report, **where):
    return [
        f
        for f in report.findings
        if f.severity == "high" and all(getattr(f, k) == v for k, v in where.items())
    ]


@pytest.mark.parametrize("path", SERVER_SETTINGS)
@pytest.mark.parametrize("spelling", ["upper", "lower"])
def test_a_server_default_is_flagged_in_env_compose_and_helm_files(path, spelling):
    default = catalog.known_default_of(path)
    name = "CLEARML__" + path.replace(".", "__")
    name = name.upper() if spelling == "upper" else name
    env = f"# deployment\nOTHER=1\n{name}={default.value}\n"
    compose = yaml.safe_dump(
        {"services": {"apiserver": {"environment": ["OTHER=1", f"{name}={default.value}"]}}}
    )
    helm = yaml.safe_dump(
        {
            "apiserver": {
                "extraEnvs": [{"name": "X", "value": "1"}, {"name": name, "value": default.value}]
            }
        }
    )
    files = [("clearml.env", env), ("docker-compose.yml", compose), ("values.yaml", helm)]
    expected_location = {
        "clearml.env": "line 3",
        "docker-compose.yml": "services.apiserver.environment[1]",
        "values.yaml": "apiserver.extraEnvs[1].value",
    }
    for file_name, text in files:
        report = audit_inputs([(file_name, text.encode())], partial=True)
        flagged = _high(report, file=file_name, location=expected_location[file_name])
        assert len(flagged) == 1, (file_name, [f.as_dict() for f in report.findings])
        assert flagged[0].setting == path
        assert flagged[0].fingerprint == catalog.fingerprint(default.value)
        assert default.value not in json.dumps(report.as_dict())


@pytest.mark.parametrize("chart_key", sorted(catalog.CHART_KEYS))
def test_a_chart_default_is_flagged_in_helm_values_and_in_the_existing_secret(chart_key):
    default = catalog.known_default_of(f"clearml.{chart_key}")
    values = yaml.safe_dump({"clearml": {chart_key: default.value}})
    report = audit_inputs([("override.yaml", values.encode())], partial=True)
    flagged = _high(report, location=f"clearml.{chart_key}")
    assert len(flagged) == 1 and flagged[0].line == 2
    setting = catalog.CHART_KEYS[chart_key]
    if setting is None or not setting.chart_secret_key:
        return
    documents = [
        {"clearml": {"existingSecret": "conf"}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "conf"},
            "stringData": {setting.chart_secret_key: default.value},
        },
    ]
    report = audit_inputs([("release.yaml", yaml.safe_dump_all(documents).encode())], partial=True)
    flagged = _high(report, setting=setting.path)
    assert any(f.location == f"[document 2] stringData.{setting.chart_secret_key}" for f in flagged)


def test_the_docs_example_strings_are_flagged_as_public():
    env = 'CLEARML__SECURE__AUTH__TOKEN_SECRET="new-secret-string"\n'
    env += 'CLEARML__SECURE__CREDENTIALS__TESTS__USER_KEY="new-key-string"\n'
    report = audit_inputs([("example.env", env.encode())], partial=True)
    assert {f.location for f in _high(report)} == {"line 1", "line 2"}
    assert all("Securing ClearML Server" in f.message for f in _high(report))


@needs_reference
@pytest.mark.django_db
def test_the_reference_files_themselves_fail_the_audit_with_every_default_flagged():
    out = io.StringIO()
    conf = str(REFERENCE / "clearml-server-default-secure.conf")
    chart = str(REFERENCE / "clearml-helm-chart-values.yaml")
    with pytest.raises(SystemExit) as excinfo:
        call_command("security_audit", conf, chart, "--format", "json", stdout=out)
    assert excinfo.value.code == 3
    report = json.loads(out.getvalue())
    flagged = {(f["file"], f["fingerprint"]) for f in report["findings"] if f["severity"] == "high"}
    for value in server_defaults().values():
        assert (conf, catalog.fingerprint(value)) in flagged
    for value in chart_defaults().values():
        assert (chart, catalog.fingerprint(value)) in flagged
    text = out.getvalue()
    for value in [*server_defaults().values(), *chart_defaults().values()]:
        assert value not in text
