"""Generating server secrets: the values, every format read back as the consumer reads it, and
`manage.py server_secrets` whose output passes `security_audit`."""

import io
import re

import pytest
import yaml
from django.core.management import CommandError, call_command
from pyhocon import ConfigFactory

from console.audit.models import AuditEntry
from console.security import catalog
from console.security.file_audit import audit_inputs
from console.security.generate import (
    SupervisorUser,
    generate_key,
    generate_secret,
    generate_server_secrets,
    render_server_secrets,
)
from tests.snippet_readers import (
    apiserver_reads,
    read_compose,
    read_env_file,
    read_helm,
    read_shell,
)

SAMPLES = 2000
FORMATS = [("helm", "inline"), ("helm", "secret-ref"), ("compose", "inline"), ("env", "inline")]
FORMATS += [("shell", "inline")]
FILE_NAMES = {
    "helm": "clearml-values.override.yaml",
    "compose": "docker-compose.override.yml",
    "env": "clearml.env",
    "shell": "clearml-secrets.sh",
}


def test_keys_are_30_characters_of_upper_case_letters_and_digits():
    keys = [generate_key() for _ in range(SAMPLES)]
    for key in keys:
        assert re.fullmatch(r"[A-Z0-9]{30}", key), key
    assert len(set(keys)) == SAMPLES
    # every character of the alphabet shows up: the choice is not biased to a subset
    assert set("".join(keys)) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def test_secrets_are_urlsafe_50_to_60_characters_never_starting_with_dash_or_underscore():
    values = [generate_secret() for _ in range(SAMPLES)]
    for value in values:
        assert 50 <= len(value) <= 60, value
        assert re.fullmatch(r"[A-Za-z0-9_-]+", value), value
        assert value[0] not in "-_", value
    assert len(set(values)) == SAMPLES
    assert any("-" in v for v in values) and any("_" in v for v in values)


def _pyhocon_reads(text):
    try:
        return ConfigFactory.parse_string(f"k: {text}")["k"]
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not read back"
        return exc


@pytest.mark.parametrize(
    "text",
    [
        "123",
        "1E5",
        "1h-9qr2c1Dkvnb7X",
        "8s-VOaEhEG",
        "2d_6md8w3Y",
        "5w-0Axj",
        "true-x",
        "null-x",
        "1d",
        "-abc",
        "_abc",
    ],
)
def test_text_pyhocon_misreads_unquoted_is_never_generated(text):
    """The traps that made this rule: durations (1h, 2d, 5w), keywords and numbers at the start
    of an unquoted value. token_urlsafe produces such values about 3 times in 10,000."""
    assert _pyhocon_reads(text) != text or text[0] in "-_"
    from console.security.generate import reads_back_unquoted

    assert not reads_back_unquoted(text)


def test_every_generated_value_reads_back_exactly_even_unquoted():
    """The Helm chart passes clearml.* values to the server unquoted: pyhocon must read them
    as the same string."""
    for _ in range(500):  # the start-of-value traps are also tested one by one above
        for value in (generate_key(), generate_secret()):
            assert _pyhocon_reads(value) == value, value


def test_a_set_holds_every_setting_of_the_seeds_with_fresh_values():
    generated = generate_server_secrets()
    assert set(generated.values) == {s.path for s in catalog.SERVER_SECRETS}
    assert set(generated.values) == {
        "secure.http.session_secret.apiserver",
        "secure.auth.token_secret",
        *(
            f"secure.credentials.{c}.{k}"
            for c in ("apiserver", "fileserver", "webserver", "tests")
            for k in ("user_key", "user_secret")
        ),
    }
    other = generate_server_secrets()
    assert not set(generated.secret_values()) & set(other.secret_values())
    for value in generated.secret_values():
        assert not catalog.match_known_default(value)
    for value in generated.secret_values():
        assert value not in repr(generated)


def _expected(generated):
    """variable name -> Python value the apiserver must end up with."""
    expected = {s.env_name: generated.values[s.path] for s in catalog.SERVER_SECRETS}
    if generated.supervisor:
        base = "CLEARML__secure__credentials__supervisor__"
        expected.update(
            {
                base + "role": "system",
                base + "allow_login": True,
                base + "user_key": generated.values["secure.credentials.supervisor.user_key"],
                base + "user_secret": generated.values["secure.credentials.supervisor.user_secret"],
                base + "sec_groups": ["users", "admins", "queue_admins"],
                base + "email": generated.supervisor.email,
            }
        )
    if generated.platform_management:
        for kind in ("user_key", "user_secret"):
            name = f"CLEARML__secure__credentials__platform_management__{kind}"
            expected[name] = generated.values[f"secure.credentials.platform_management.{kind}"]
    return expected


@pytest.fixture
def full_set():
    return generate_server_secrets(
        supervisor=SupervisorUser(email="Supervisor@Example.com", company="d1bd92a3b039400cbafc"),
        platform_management=True,
    )


def test_helm_values_carry_the_same_values_in_extra_envs_and_the_charts_keys(full_set):
    text = render_server_secrets(full_set, "helm")
    values, refs, documents = read_helm(text)
    assert refs == {} and len(documents) == 1
    expected = _expected(full_set)
    for name, value in expected.items():
        assert apiserver_reads(name, values[name]) == value, name
    chart = documents[0]["clearml"]
    for setting in catalog.SERVER_SECRETS:
        if setting.chart_key:
            # the chart puts the value in the environment unquoted; the server parses it
            assert (
                apiserver_reads(setting.env_name, chart[setting.chart_key])
                == (full_set.values[setting.path])
            )
    assert set(chart) >= {"readinessprobeKey", "readinessprobeSecret"}
    assert "existingSecret" not in chart


def test_helm_secret_ref_puts_every_secret_in_secrets_and_sets_existing_secret(full_set):
    text = render_server_secrets(
        full_set, "helm", secrets="secret-ref", secret_name="env-secrets", chart_secret_name="conf"
    )
    values, refs, documents = read_helm(text)
    assert documents[0]["clearml"]["existingSecret"] == "conf"
    assert not {"apiserverKey", "apiserverSecret", "testUserSecret"} & set(documents[0]["clearml"])
    secrets = {d["metadata"]["name"]: d["stringData"] for d in documents[1:]}
    assert set(secrets) == {"env-secrets", "conf"}
    expected = _expected(full_set)
    for name, value in expected.items():
        if name in refs:
            assert refs[name]["name"] == "env-secrets"
            text_value = secrets["env-secrets"][refs[name]["key"]]
        else:
            text_value = values[name]
            assert not isinstance(value, str) or value not in full_set.secret_values()
        assert apiserver_reads(name, text_value) == value, name
    conf = secrets["conf"]
    assert set(conf) == {
        "apiserver_key",
        "apiserver_secret",
        "fileserver_key",
        "fileserver_secret",
        "secure_auth_token_secret",
        "test_user_key",
        "test_user_secret",
    }
    for key, setting in catalog.CHART_SECRET_KEYS.items():
        assert conf[key] == full_set.values[setting.path]


def test_compose_gives_the_file_server_its_credentials_too(full_set):
    text = render_server_secrets(full_set, "compose")
    api = read_compose(text, "apiserver")
    for name, value in _expected(full_set).items():
        assert apiserver_reads(name, api[name]) == value, name
    files = read_compose(text, "fileserver")
    assert set(files) == {
        "CLEARML__SECURE__CREDENTIALS__FILESERVER__USER_KEY",
        "CLEARML__SECURE__CREDENTIALS__FILESERVER__USER_SECRET",
    }
    for name, text_value in files.items():
        assert text_value == api[name]


def test_env_file_and_shell_read_back_exactly(full_set):
    expected = _expected(full_set)
    env = read_env_file(render_server_secrets(full_set, "env"))
    shell = read_shell(render_server_secrets(full_set, "shell"), list(expected))
    for name, value in expected.items():
        assert apiserver_reads(name, env[name]) == value, name
        assert apiserver_reads(name, shell[name]) == value, name


def test_the_supervisor_email_is_quoted_as_the_multi_tenant_docs_require(full_set):
    env = read_env_file(render_server_secrets(full_set, "env"))
    text = env["CLEARML__secure__credentials__supervisor__email"]
    assert text == '"supervisor@example.com"'
    # unquoted, HOCON cannot read an email at all: that is why the docs add the quotes
    with pytest.raises(Exception):  # noqa: B017 - pyhocon raises its own parse error types
        ConfigFactory.parse_string("email: supervisor@example.com")
    assert ConfigFactory.parse_string(f"email: {text}")["email"] == "supervisor@example.com"
    groups = env["CLEARML__secure__credentials__supervisor__sec_groups"]
    assert ConfigFactory.parse_string(f"g: {groups}")["g"] == ["users", "admins", "queue_admins"]


@pytest.mark.django_db
@pytest.mark.parametrize(("fmt", "mode"), FORMATS, ids=[f"{f}-{m}" for f, m in FORMATS])
def test_server_secrets_output_passes_security_audit(fmt, mode, tmp_path):
    out = io.StringIO()
    call_command(
        "server_secrets",
        "--format",
        fmt,
        "--secrets",
        mode,
        "--supervisor-email",
        "boss@example.com",
        "--platform-management",
        stdout=out,
    )
    text = out.getvalue()
    path = tmp_path / FILE_NAMES[fmt]
    path.write_text(text)
    report = audit_inputs([(str(path), text.encode())])
    counts = report.counts()
    assert counts["high"] == 0 and counts["medium"] == 0, report.as_dict()
    if mode == "secret-ref" or fmt != "helm":
        # only the advice to configure web login remains
        assert [f.setting for f in report.findings] == ["apiserver.auth.fixed_users.enabled"]
    # ... and the command itself agrees: exit code 0
    audit_out = io.StringIO()
    call_command("security_audit", str(path), stdout=audit_out)
    values = [t for t in re.findall(r"[A-Za-z0-9_-]{30,}", text) if "__" not in t]
    assert len(values) >= 10
    for value in values:
        assert value not in audit_out.getvalue()


@pytest.mark.django_db
def test_the_audit_log_records_which_settings_were_generated_never_a_value():
    out = io.StringIO()
    call_command("server_secrets", "--format", "env", stdout=out)
    entry = AuditEntry.objects.filter(action="secrets.generate").latest("seq")
    assert entry.actor.startswith("cli:")
    assert set(entry.after["settings"]) == {s.path for s in catalog.SERVER_SECRETS}
    assert entry.after["formats"] == ["env"]
    stored = yaml.safe_dump(
        {"before": entry.before, "after": entry.after, "repr": entry.target_repr}
    )
    for line in out.getvalue().splitlines():
        if "=" in line and not line.startswith("#"):
            value = line.split("=", 1)[1].strip('"')
            assert value not in stored


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--format", "env", "--secrets", "secret-ref"], "works with --format helm only"),
        (
            ["--format", "helm", "--secrets", "secret-ref", "--secret-name", "Bad_Name"],
            "not a valid",
        ),
        (["--supervisor-email", "not-an-email"], "--supervisor-email"),
        (["--supervisor-company", "abc"], "needs --supervisor-email"),
        (
            ["--secrets", "secret-ref", "--secret-name", "same", "--chart-secret-name", "same"],
            "different names",
        ),
    ],
)
def test_bad_options_exit_2_with_the_reason_and_record_nothing(args, reason):
    out = io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("server_secrets", *args, stdout=out)
    assert excinfo.value.returncode == 2
    assert reason in str(excinfo.value)
    assert out.getvalue() == ""
    assert not AuditEntry.objects.filter(action="secrets.generate").exists()
