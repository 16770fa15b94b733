"""`manage.py snippets SPEC --format …`: the same text as the pages, exit 2 on bad input."""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.urls import reverse

from console.snippets import FORMATS
from tenants.groups.services import builtin_groups_update, group_create, organization_update
from tests.snippet_readers import apiserver_reads, read_helm

GID = "3f1c9e62-8a53-4e0f-9f51-2d7c4b1a0e77"
SPEC = {
    "version": 1,
    "groups": [
        {
            "name": "data_scientists",
            "display_name": "Data Scientists",
            "id": GID,
            "features": ["applications", "experiments", "pipelines"],
        }
    ],
    "builtin_groups": {"users": [], "admins": ["user_management", "sso_management"]},
    "organization": {
        "features": ["user_management_advanced"],
        "unique_company_names": True,
        "ui_features_per_role": {"user": {"show_datasets": False, "show_orchestration": False}},
    },
}


def _write(tmp_path: Path, data, name="spec.yaml") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return str(path)


def _run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("snippets", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", FORMATS)
def test_command_prints_what_the_export_page_downloads(tmp_path, admin_client, fmt):
    path = _write(tmp_path, SPEC)
    printed, _ = _run(path, "--format", fmt)
    # Store the same sections through the services, as the pages (or apply) would.
    group_create(data=SPEC["groups"][0], actor="test")
    builtin_groups_update(features=SPEC["builtin_groups"], version=None, actor="test")
    organization_update(data=SPEC["organization"], version=None, actor="test")
    response = admin_client.get(
        reverse("snippets:download", args=["server-settings"]) + f"?format={fmt}"
    )
    assert response.status_code == 200
    assert response.content.decode() == printed


@pytest.mark.django_db
def test_command_output_is_read_back_by_the_apiserver(tmp_path):
    printed, _ = _run(_write(tmp_path, SPEC), "--format", "helm")
    values, _, _ = read_helm(printed)
    name = "CLEARML__services__auth__default_groups__users__features"
    assert apiserver_reads(name, values[name]) == []
    name = "CLEARML__services__auth__default_groups__data_scientists__id"
    assert apiserver_reads(name, values[name]) == GID


@pytest.mark.django_db
def test_a_group_without_id_gets_a_stable_id_and_a_note(tmp_path):
    spec = {"version": 1, "groups": [{"name": "ops", "features": []}]}
    path = _write(tmp_path, spec)
    first, note = _run(path, "--format", "env")
    second, _ = _run(path, "--format", "env")
    assert first == second
    assert "groups[0] (ops) give no id" in note
    # apply would create the group with that same id.
    group = group_create(data=spec["groups"][0], actor="test")
    assert f'CLEARML__services__auth__default_groups__ops__id="{group.group_id}"' in first


@pytest.mark.django_db
@pytest.mark.parametrize(
    "spec,expected",
    [
        (
            {"version": 1, "groups": [{"name": "bad name"}, {"name": "users"}]},
            [
                "groups[0].name: The group name 'bad name' c",
                "groups[1].name: The group name 'users' is a built-in group's",
            ],
        ),
        (
            {"version": 1, "groups": [{"name": "a", "id": "abcd-1234-abcd-1234"}]},
            [
                "groups[0].id: The group id 'abcd-1234-abcd-1234' is the docs' example, which is "
                "not a UUID"
            ],
        ),
        (
            {"version": 1, "builtin_groups": {"users": ["aplications"]}},
            ["builtin_groups.users[0]: 'aplications' is an unknown feature; did you mean"],
        ),
        (
            {"version": 1, "organization": {"features": ["nope"]}},
            ["organization.features[0]: 'nope' is an unknown feature"],
        ),
    ],
)
def test_bad_specs_exit_2_naming_file_and_path(tmp_path, spec, expected):
    path = _write(tmp_path, spec)
    with pytest.raises(CommandError) as info:
        _run(path, "--format", "helm")
    assert info.value.returncode == 2
    for line in expected:
        assert f"{path}: {line}" in str(info.value)


@pytest.mark.django_db
def test_not_yaml_reports_line_and_column(tmp_path):
    path = _write(tmp_path, "version: 1\ngroups: [\n")
    with pytest.raises(CommandError) as info:
        _run(path)
    assert info.value.returncode == 2
    assert "line 3, column 1" in str(info.value)


@pytest.mark.django_db
def test_secret_ref_outside_helm_exits_2(tmp_path):
    with pytest.raises(CommandError) as info:
        _run(_write(tmp_path, SPEC), "--format", "env", "--secrets", "secret-ref")
    assert info.value.returncode == 2 and "helm only" in str(info.value)


def test_the_real_command_line_exits_2_without_a_traceback(tmp_path):
    path = _write(tmp_path, {"version": 1, "groups": [{"name": "x__y"}]})
    completed = subprocess.run(
        [sys.executable, "manage.py", "snippets", path, "--format", "shell"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "groups[0].name: The group name 'x__y' contains '__'" in completed.stderr
    assert "Traceback" not in completed.stderr
