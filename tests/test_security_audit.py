"""`security_audit`: reading each kind of file, the rules and their severities, bad input, and the
command's exit codes and output (never a secret value)."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from console.audit.models import AuditEntry
from console.security import catalog
from console.security.audit_files import MAX_FILE_BYTES, AuditInputErrors
from console.security.file_audit import audit_inputs
from console.security.findings import AuditInputError
from console.security.generate import generate_key, generate_secret

REPO = Path(__file__).resolve().parents[1]
TOKEN_DEFAULT = catalog.known_default_of("secure.auth.token_secret").value
TESTS_KEY = catalog.known_default_of("secure.credentials.tests.user_key").value
CHART_API_SECRET = catalog.known_default_of("clearml.apiserverSecret").value


def audit(files: dict[str, str], partial=True):
    return audit_inputs([(name, text.encode()) for name, text in files.items()], partial=partial)


def by(report, **where):
    return [f for f in report.findings if all(getattr(f, k) == v for k, v in where.items())]


def complete_env(**overrides) -> str:
    """An env file setting all ten secrets to fresh values, with overrides by path."""
    lines = []
    for s in catalog.SERVER_SECRETS:
        value = overrides.get(s.path, generate_key() if s.kind == "key" else generate_secret())
        lines.append(f"{s.env_name}={value}")
    return "\n".join(lines) + "\n"


# --- reading files ---------------------------------------------------------------------------


def test_env_files_accept_both_spellings_exports_and_quotes():
    text = (
        "# comment\n"
        f"clearml__secure__auth__token_secret={TOKEN_DEFAULT}\n"
        f"export CLEARML__SECURE__CREDENTIALS__TESTS__USER_KEY='{TESTS_KEY}'\n"
        f'TRAINS__secure__credentials__apiserver__user_secret="{CHART_API_SECRET}"\n'
        "UNRELATED=x\n"
    )
    report = audit({"deploy.env": text})
    high = {(f.location, f.setting) for f in by(report, severity="high")}
    assert high == {
        ("line 2", "secure.auth.token_secret"),
        ("line 3", "secure.credentials.tests.user_key"),
        ("line 4", "secure.credentials.apiserver.user_secret"),
    }
    assert report.files[0].kind == "shell env file"


def test_compose_environment_as_mapping_list_and_merge_key():
    text = f"""
x-common: &common
  CLEARML__SECURE__AUTH__TOKEN_SECRET: "{TOKEN_DEFAULT}"
services:
  apiserver:
    environment:
      <<: *common
      CLEARML__SECURE__CREDENTIALS__TESTS__USER_KEY: short
  agent:
    environment:
      - CLEARML__secure__credentials__tests__user_secret=tooshort
      - FROM_SHELL
"""
    report = audit({"docker-compose.yml": text})
    (token,) = by(report, setting="secure.auth.token_secret")
    assert token.severity == "high" and token.line == 3
    assert token.location == "services.apiserver.environment.CLEARML__SECURE__AUTH__TOKEN_SECRET"
    (key,) = by(report, setting="secure.credentials.tests.user_key")
    assert key.severity == "medium" and "key of 5 characters" in key.message
    (secret,) = by(report, setting="secure.credentials.tests.user_secret")
    assert secret.severity == "medium" and secret.location == "services.agent.environment[0]"
    assert "secret of 8 characters" in secret.message


def test_compose_variables_are_resolved_from_an_env_file_audited_with_it():
    compose = yaml.safe_dump(
        {
            "services": {
                "apiserver": {
                    "environment": {
                        "CLEARML__SECURE__AUTH__TOKEN_SECRET": "${TOKEN}",
                        "CLEARML__SECURE__CREDENTIALS__TESTS__USER_KEY": f"${{KEY:-{TESTS_KEY}}}",
                        "CLEARML__SECURE__HTTP__SESSION_SECRET__APISERVER": "${UNKNOWN}",
                    }
                }
            }
        }
    )
    report = audit({"docker-compose.yml": compose, ".env": f"TOKEN={TOKEN_DEFAULT}\n"})
    assert by(report, setting="secure.auth.token_secret")[0].severity == "high"
    (default,) = by(report, setting="secure.credentials.tests.user_key")
    assert default.severity == "high" and "${KEY}" in default.message
    (unknown,) = by(report, setting="secure.http.session_secret.apiserver")
    assert unknown.severity == "info" and "${UNKNOWN}" in unknown.message


def test_helm_secret_key_refs_are_followed_and_not_called_inline():
    fresh = generate_secret()
    documents = [
        {
            "apiserver": {
                "extraEnvs": [
                    {
                        "name": "CLEARML__SECURE__AUTH__TOKEN_SECRET",
                        "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}},
                    },
                    {
                        "name": "CLEARML__SECURE__HTTP__SESSION_SECRET__APISERVER",
                        "valueFrom": {"secretKeyRef": {"name": "s", "key": "session"}},
                    },
                    {
                        "name": "CLEARML__SECURE__CREDENTIALS__WEBSERVER__USER_KEY",
                        "value": "W" * 30,
                    },
                ]
            }
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"token": __import__("base64").b64encode(TOKEN_DEFAULT.encode()).decode()},
            "stringData": {"session": fresh},
        },
    ]
    report = audit({"values.yaml": yaml.safe_dump_all(documents)})
    (token,) = by(report, setting="secure.auth.token_secret")
    assert token.severity == "high" and "Secret s/token" in token.message
    assert not by(report, setting="secure.http.session_secret.apiserver")
    (inline,) = by(report, setting="secure.credentials.webserver.user_key")
    assert inline.severity == "low"
    assert inline.location == "[document 1] apiserver.extraEnvs[2].value"
    assert "secretKeyRef" in inline.fix


def test_secure_conf_in_helm_additional_configs_is_read():
    values = {
        "apiserver": {
            "additionalConfigs": {
                "secure.conf": f'auth {{\n  token_secret: "{TOKEN_DEFAULT}"\n}}\n',
                "apiserver.conf": "auth.fixed_users.enabled: true\n",
            }
        }
    }
    report = audit({"values.yaml": yaml.safe_dump(values, default_style=None)})
    (token,) = by(report, setting="secure.auth.token_secret")
    assert token.severity == "high"
    assert token.location == "apiserver.additionalConfigs.secure.conf line 2"


def test_existing_secret_without_its_manifest_is_reported_as_not_checked():
    report = audit({"values.yaml": "clearml:\n  existingSecret: my-conf\n"})
    (note,) = by(report, setting="clearml.existingSecret")
    assert note.severity == "info" and "my-conf" in note.message


def test_existing_secret_missing_a_key_is_high():
    documents = [
        {"clearml": {"existingSecret": "conf"}},
        {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "conf"}, "stringData": {}},
    ]
    report = audit({"v.yaml": yaml.safe_dump_all(documents)})
    missing = {f.setting for f in by(report, severity="high")}
    assert missing == {s.path for s in catalog.CHART_SECRET_KEYS.values()}


# --- rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "severity"),
    [
        ("CLEARML__fileserver__auth__enabled=false", "high"),
        ("CLEARML__FILESERVER__AUTH__ENABLED=False", "high"),
        ('CLEARML__fileserver__auth__enabled="no"', "high"),
        ("CLEARML__fileserver__auth__enabled=true", None),
    ],
)
def test_file_server_token_authentication_disabled_is_high(text, severity):
    report = audit({"fs.env": text + "\n"})
    found = by(report, setting="fileserver.auth.enabled")
    assert [f.severity for f in found] == ([severity] if severity else [])
    if severity:
        assert found[0].location == "line 1" and "token authentication" in found[0].message


def test_file_server_authentication_disabled_in_compose_and_helm():
    compose = "services:\n  fileserver:\n    environment:\n"
    compose += "      CLEARML__fileserver__auth__enabled: 'false'\n"
    helm = yaml.safe_dump(
        {
            "fileserver": {
                "extraEnvs": [{"name": "CLEARML__fileserver__auth__enabled", "value": "false"}]
            }
        }
    )
    report = audit({"docker-compose.yml": compose, "values.yaml": helm})
    locations = {f.location for f in by(report, setting="fileserver.auth.enabled", severity="high")}
    assert locations == {
        "services.fileserver.environment.CLEARML__fileserver__auth__enabled",
        "fileserver.extraEnvs[0].value",
    }


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("secure.credentials.apiserver.user_key", "ABC123", "key of 6 characters"),
        ("secure.credentials.apiserver.user_key", "A" * 29, "key of 29 characters"),
        ("secure.auth.token_secret", "x" * 49, "secret of 49 characters"),
        ("secure.auth.token_secret", "abc#" + "y" * 60, "before '#'"),
        ("secure.credentials.tests.user_secret", "<SECRET>", "placeholder"),
        ("secure.credentials.supervisor.user_secret", "s" * 20, "secret of 20 characters"),
    ],
)
def test_short_and_misread_values_are_medium(path, value, reason):
    name = "CLEARML__" + path.replace(".", "__")
    report = audit({"a.env": f"{name}={value}\n"})
    (finding,) = by(report, setting=path)
    assert finding.severity == "medium"
    assert reason in finding.message
    assert value not in finding.message and value not in finding.fix


def test_long_enough_values_pass():
    report = audit({"a.env": complete_env()}, partial=False)
    assert report.counts()["high"] == 0 and report.counts()["medium"] == 0


def test_an_empty_token_secret_is_high():
    report = audit({"a.env": "CLEARML__SECURE__AUTH__TOKEN_SECRET=\n"})
    (finding,) = by(report, setting="secure.auth.token_secret")
    assert finding.severity == "high" and "empty" in finding.message


def test_settings_left_out_keep_their_public_default_unless_partial():
    text = complete_env().splitlines()
    text = "\n".join(line for line in text if "TOKEN_SECRET" not in line) + "\n"
    (missing,) = by(audit({"a.env": text}, partial=False), setting="secure.auth.token_secret")
    assert missing.severity == "high" and missing.location == "(not set)"
    assert missing.fingerprint == catalog.fingerprint(TOKEN_DEFAULT)
    assert not by(audit({"a.env": text}, partial=True), setting="secure.auth.token_secret")


def test_helm_values_without_the_charts_keys_inject_the_charts_defaults():
    report = audit({"values.yaml": "apiserver:\n  replicaCount: 2\n"}, partial=False)
    locations = {f.location for f in by(report, severity="high")}
    assert "clearml.apiserverKey (not set)" in locations
    assert "clearml.secureAuthTokenSecret (not set)" in locations
    assert "apiserver.extraEnvs (not set)" in locations  # the apiserver's fileserver credentials


def test_one_setting_twice_with_different_values_is_medium():
    text = f"CLEARML__SECURE__AUTH__TOKEN_SECRET={generate_secret()}\n"
    text += f"clearml__secure__auth__token_secret={generate_secret()}\n"
    found = by(audit({"a.env": text}), setting="secure.auth.token_secret", severity="medium")
    assert {f.location for f in found} == {"line 1", "line 2"}


def test_compose_file_server_without_its_credentials_is_medium():
    env = {s.env_name: generate_key() for s in catalog.SERVER_SECRETS if s.kind == "key"}
    env |= {s.env_name: generate_secret() for s in catalog.SERVER_SECRETS if s.kind == "secret"}
    compose = {"services": {"apiserver": {"environment": env}, "fileserver": {"image": "x"}}}
    compose["services"]["fileserver"]["environment"] = {"OTHER": "1"}
    report = audit({"docker-compose.yml": yaml.safe_dump(compose)}, partial=False)
    found = by(report, setting="secure.credentials.fileserver.user_key")
    assert [f.severity for f in found] == ["medium"]


@pytest.mark.parametrize(
    ("web_login", "webserver_default", "expected"),
    [
        (False, True, ("high", "free-access login")),
        (True, True, ("low", "revokes")),
        (False, False, ("low", "No web login")),
        (True, False, None),
    ],
)
def test_web_login_and_the_webserver_credentials(web_login, webserver_default, expected):
    overrides = {}
    if webserver_default:
        for kind in ("user_key", "user_secret"):
            path = f"secure.credentials.webserver.{kind}"
            overrides[path] = catalog.known_default_of(path).value
    text = complete_env(**overrides)
    if web_login:
        text += "CLEARML__apiserver__auth__fixed_users__enabled=true\n"
    report = audit({"a.env": text}, partial=False)
    findings = [f for f in report.findings if f.severity in ("high", "low")]
    if expected is None:
        assert findings == []
        return
    severity, words = expected
    assert findings and all(f.severity == severity for f in findings)
    assert any(words in f.message for f in findings)


def test_an_identity_provider_counts_as_web_login():
    text = complete_env() + "CLEARML__services__login__sso__oauth_client__keycloak__enabled=true\n"
    assert audit({"a.env": text}, partial=False).findings == []


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("values.yaml", b"\x00\x01binary\x00", "binary file"),
        ("blob.bin", b"\xff\xfe\xfa not text", "not UTF-8"),
        ("values.yaml", b"", "is empty"),
        ("values.yaml", b"- a\n- b\n", "top level is not a mapping"),
        ("values.yaml", b"kind: Deployment\n", "Kubernetes Deployment"),
        ("values.yaml", b"name: x\nreplicas: 2\n", "not a Helm values file"),
        ("notes.txt", b"hello world, this is: [not a config\n", "neither an env file"),
        ("deploy.env", b"A=1\nthis line is wrong\n", "line 2 is not NAME=value"),
        ("x.conf", b"a: 1\n", "name does not say its section"),
        ("secure.conf", b'auth {\n token_secret: "abc\n}\n', "not valid HOCON: line 2"),
        ("s.env", b"export A='unclosed\n", "line 1: a quote is not closed"),
    ],
)
def test_bad_files_are_refused_with_the_reason(name, data, reason):
    with pytest.raises(AuditInputError) as excinfo:
        audit_inputs([(name, data)])
    assert reason in str(excinfo.value)
    assert str(excinfo.value).startswith(name)


def test_a_yaml_error_names_line_and_column_but_never_quotes_the_line():
    text = f"clearml:\n  apiserverSecret: {CHART_API_SECRET}\n  bad: [unclosed\n"
    with pytest.raises(AuditInputError) as excinfo:
        audit_inputs([("values.yaml", text.encode())])
    message = str(excinfo.value)
    assert "not valid YAML: line 4, column 1" in message
    assert CHART_API_SECRET not in message


def test_every_bad_file_is_listed_at_once():
    with pytest.raises(AuditInputErrors) as excinfo:
        audit_inputs([("a.yaml", b"\x00"), ("ok.env", b"A=1\n"), ("b.yaml", b"- 1\n")])
    assert [e.file for e in excinfo.value.errors] == ["a.yaml", "b.yaml"]


@pytest.mark.django_db
def test_a_huge_file_is_not_read(tmp_path):
    big = tmp_path / "huge.yaml"
    with big.open("wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(CommandError) as excinfo:
        call_command("security_audit", str(big), stdout=io.StringIO())
    assert excinfo.value.returncode == 2
    assert "the audit reads files up to 5 MiB" in str(excinfo.value)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_paths_exit_2(tmp_path, kind):
    path = tmp_path / "nope.yaml" if kind == "missing" else tmp_path
    with pytest.raises(CommandError) as excinfo:
        call_command("security_audit", str(path), stdout=io.StringIO())
    assert excinfo.value.returncode == 2
    assert ("no such file" if kind == "missing" else "is a directory") in str(excinfo.value)
    entry = AuditEntry.objects.filter(action="secrets.audit").latest("seq")
    assert entry.outcome == "failure" and str(path) in entry.error


@pytest.mark.django_db
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_a_file_without_read_permission_exits_2(tmp_path):
    path = tmp_path / "secret.env"
    path.write_text("A=1\n")
    path.chmod(0)
    with pytest.raises(CommandError) as excinfo:
        call_command("security_audit", str(path), stdout=io.StringIO())
    assert "permission denied" in str(excinfo.value)


# --- the command ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_medium_findings_exit_0_and_are_recorded_with_counts_only(tmp_path):
    path = tmp_path / "a.env"
    secret = "s" * 40
    path.write_text(f"CLEARML__SECURE__AUTH__TOKEN_SECRET={secret}\n")
    out = io.StringIO()
    call_command("security_audit", str(path), "--partial", stdout=out)
    text = out.getvalue()
    assert "MEDIUM" in text and f"[sha256 {catalog.fingerprint(secret)}]" in text
    assert "Findings: 0 high, 1 medium, 0 low, 0 info" in text
    assert secret not in text
    entry = AuditEntry.objects.filter(action="secrets.audit").latest("seq")
    assert entry.after["counts"] == {"high": 0, "medium": 1, "low": 0, "info": 0}
    assert entry.after["files"] == [{"name": str(path), "kind": "env file"}]
    assert secret not in json.dumps([entry.after, entry.before, entry.target_repr])


@pytest.mark.django_db
def test_json_output_and_exit_3_on_high(tmp_path):
    path = tmp_path / "values.yaml"
    path.write_text(f"clearml:\n  apiserverSecret: {CHART_API_SECRET}\n")
    out = io.StringIO()
    with pytest.raises(SystemExit) as excinfo:
        call_command("security_audit", str(path), "--format", "json", "--partial", stdout=out)
    assert excinfo.value.code == 3
    data = json.loads(out.getvalue())
    (finding,) = [f for f in data["findings"] if f["severity"] == "high"]
    assert finding["location"] == "clearml.apiserverSecret" and finding["line"] == 2
    assert finding["fingerprint"] == catalog.fingerprint(CHART_API_SECRET)
    assert CHART_API_SECRET not in out.getvalue()


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "console.sqlite3"
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{db}", PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    return env


def run_cli(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", "security_audit", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_real_command_exit_codes_and_no_traceback(cli_env, tmp_path):
    high = tmp_path / "values.yaml"
    high.write_text(f"clearml:\n  apiserverSecret: {CHART_API_SECRET}\n")
    done = run_cli(cli_env, str(high), "--partial")
    assert done.returncode == 3 and "HIGH" in done.stdout
    assert CHART_API_SECRET not in done.stdout + done.stderr

    clean = tmp_path / "clean.env"
    clean.write_text(complete_env() + "CLEARML__apiserver__auth__fixed_users__enabled=true\n")
    done = run_cli(cli_env, str(clean))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings." in done.stdout

    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    done = run_cli(cli_env, str(binary), str(tmp_path / "missing.env"))
    assert done.returncode == 2
    assert "image.png: is a binary file" in done.stderr
    assert "missing.env: no such file" in done.stderr
    assert "Traceback" not in done.stderr
