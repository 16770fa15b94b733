"""SPEC files with bad input: every problem reported at once, each with its field path, exit 2."""

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from changes.spec.validate import validate_spec
from changes.tenant_input import validate_tenant_entry as validate_tenant
from console.spec import parse_spec_text
from console.validation import InvalidInput

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def errors_of(text: str) -> dict[str, str]:
    raw = parse_spec_text(textwrap.dedent(text))
    with pytest.raises(InvalidInput) as exc:
        validate_spec(raw)
    return {e.path: e.message for e in exc.value.errors}


def one_tenant(**fields) -> str:
    entry = {"name": "Acme", "admins": [{"name": "A", "email": "a@acme.io"}], **fields}
    import yaml

    return yaml.safe_dump({"version": 1, "tenants": [entry]})


@pytest.mark.parametrize(
    "fields,path,reason",
    [
        ({"name": ""}, "tenants[0].name", "is required"),
        ({"name": "x" * 101}, "tenants[0].name", "at most 100"),
        ({"name": 12}, "tenants[0].name", "must be text"),
        ({"allowed_users": -1}, "tenants[0].allowed_users", "at least 1"),
        ({"allowed_users": 0}, "tenants[0].allowed_users", "at least 1"),
        ({"allowed_users": 10**12}, "tenants[0].allowed_users", "at most 1,000,000"),
        ({"allowed_users": "10"}, "tenants[0].allowed_users", "whole number"),
        ({"allowed_users": True}, "tenants[0].allowed_users", "whole number"),
        ({"features": ["experimentz"]}, "tenants[0].features[0]", "did you mean 'experiments'"),
        ({"features": "experiments"}, "tenants[0].features", "must be a list"),
        (
            {"features": ["reports"], "exclude_features": ["reports"]},
            "tenants[0].exclude_features[0]",
            "is both added and excluded; choose one",
        ),
        ({"nmae": "x"}, "tenants[0].nmae", "unknown key"),
        ({"admins": "alice"}, "tenants[0].admins", "must be a list"),
        ({"admins": [{"name": "A", "email": "a@"}]}, "tenants[0].admins[0].email", "'a@'"),
        (
            {"admins": [{"name": "A", "email": "a@acme.io", "role": "x"}]},
            "tenants[0].admins[0].role",
            "unknown key",
        ),
        (
            {"admins": [{"name": "A", "email": "a@acme.io", "internal": "yes"}]},
            "tenants[0].admins[0].internal",
            "true or false",
        ),
        ({"admins": [{"email": "a@acme.io"}]}, "tenants[0].admins[0].name", "is required"),
        (
            {"admins": [{"name": "A", "email": "a@acme.io"}, {"name": "B", "email": "A@Acme.io"}]},
            "tenants[0].admins[1].email",
            "listed twice",
        ),
        ({"login": {"domains": ["bad domain"]}}, "tenants[0].login.domains[0]", "space"),
        ({"login": {"domains": "acme.io"}}, "tenants[0].login.domains", "must be a list"),
        ({"login": {"domain": ["acme.io"]}}, "tenants[0].login.domain", "unknown key"),
        (
            {"login": {"whitelist": {"users": ["bob@x.io"], "admins": ["BOB@x.io"]}}},
            "tenants[0].login.whitelist.users[0]",
            "one role",
        ),
        (
            {"admins": [], "login": {"domains": ["acme.io"]}},
            "tenants[0].login",
            "needs at least one admin",
        ),
    ],
)
def test_each_bad_value_names_its_field_path_and_reason(fields, path, reason):
    errors = errors_of(one_tenant(**fields))
    assert path in errors, errors
    assert reason in errors[path]


def test_all_problems_are_reported_at_once():
    errors = errors_of(
        """
        version: 1
        tenants:
          - name: Acme
            allowed_users: -5
            admins: [{name: A, email: nope}]
          - name: ACME
          - name: Beta
            features: [nope]
        groups: [{name: "bad name!", features: []}]
        """
    )
    assert {
        "tenants[0].allowed_users",
        "tenants[0].admins[0].email",
        "tenants[1].name",
        "tenants[2].features[0]",
    } <= set(errors)
    assert "listed twice" in errors["tenants[1].name"]
    assert any(p.startswith("groups[0]") for p in errors)


def test_a_domain_or_admin_in_two_tenants_names_both():
    errors = errors_of(
        """
        version: 1
        tenants:
          - name: Acme
            admins: [{name: A, email: a@acme.io}]
            login: {domains: [acme.io]}
          - name: Beta
            admins: [{name: B, email: A@ACME.io}]
            login: {domains: [ACME.IO]}
        """
    )
    assert "Acme" in errors["tenants[1].login.domains[0]"]
    assert "Beta" in errors["tenants[1].login.domains[0]"]
    assert "Acme" in errors["tenants[1].admins[0].email"]


def test_emails_and_domains_are_normalised_to_lower_case_and_idna():
    tenant = validate_tenant(
        {
            "name": "Bücher",
            "admins": [{"name": "A", "email": " Anna@Bücher.Example "}],
            "login": {"domains": ["Bücher.EXAMPLE."], "whitelist": {"users": ["Bob@GMAIL.com"]}},
        }
    )
    assert tenant.admins[0].email == "anna@xn--bcher-kva.example"
    assert tenant.login.domains == ["xn--bcher-kva.example"]
    assert tenant.login.users == ["bob@gmail.com"]


def test_the_command_exits_2_naming_the_file_and_path(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(one_tenant(allowed_users=-1))
    with pytest.raises(CommandError) as exc:
        call_command("plan", str(path), stdout=io.StringIO())
    assert exc.value.returncode == 2
    assert f"{path}: tenants[0].allowed_users: Allowed users must be at least 1" in str(exc.value)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("version: 1\ntenants: {name: x}\n", "tenants: must be a list"),
        ("version: 1\ntenant: []\n", "tenant: unknown key"),
        ("version: 1\ntenants:\n  - name: [unclosed\n", "not valid YAML at line"),
        ("tenants: []\n", "version: is required"),
    ],
)
def test_commands_refuse_a_bad_spec_with_exit_2_and_no_traceback(tmp_path, text, expected):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    env = {**os.environ, "CLEARML_API_URL": "", "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    for command in ("plan", "apply"):
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), command, str(path), "--yes"][
                : 4 if command == "plan" else 5
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr
        assert "Traceback" not in done.stderr


def test_apiserver_down_exits_1_naming_the_call(tmp_path, settings):
    settings.CLEARML_API_URL = "http://127.0.0.1:9"
    path = tmp_path / "spec.yaml"
    path.write_text(one_tenant())
    with pytest.raises(CommandError) as exc:
        call_command("plan", str(path), stdout=io.StringIO())
    assert exc.value.returncode == 1
    assert "system.get_companies" in str(exc.value)
    assert "cannot connect" in str(exc.value)


def test_allowed_users_below_the_number_of_admins_is_refused_before_any_call():
    from changes.tenant_input import validate_tenant_entry

    data = {
        "name": "Tiny",
        "allowed_users": 1,
        "admins": [{"name": "A", "email": "a@tiny.io"}, {"name": "B", "email": "b@tiny.io"}],
    }
    with pytest.raises(InvalidInput) as info:
        validate_tenant_entry(data, "tenants[0]")
    [error] = [e for e in info.value.errors if e.path == "tenants[0].allowed_users"]
    assert "1 is fewer than the 2 admins listed" in error.message
