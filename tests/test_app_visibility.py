"""Application instance visibility: the server-wide variables in every snippet format, and a
tenant's policy sent through the change pipeline to the sandbox apiserver over real HTTP."""

import json

import pytest
import requests
import yaml
from django.core.management import CommandError, call_command

from changes.models import Changeset
from console.audit.models import AuditEntry
from tenants.models import Tenant

pytestmark = pytest.mark.django_db
ENDPOINT = "system.update_company_app_instance_access"
DEFAULT = "CLEARML__services__applications__app_instance_access__allowed"
HPO = "CLEARML__services__applications__app_instance_access__applications__hpo_app__allowed"


def download(client, fmt: str, **query) -> str:
    response = client.get("/snippets/app-visibility/download/", {**query, "format": fmt})
    assert response.status_code == 200, response.content
    return response.content.decode()


def test_the_server_policy_is_exported_in_every_format(admin_client):
    query = {"allowed": "owner", "apps": "hpo_app: group\nmy_app=all"}
    helm = yaml.safe_load(download(admin_client, "helm", **query))
    assert helm["apiserver"]["extraEnvs"][:2] == [
        {"name": DEFAULT, "value": "owner"},
        {"name": HPO, "value": "group"},
    ]
    compose = yaml.safe_load(download(admin_client, "compose", **query))
    assert compose["services"]["apiserver"]["environment"][HPO] == "group"
    assert f"{DEFAULT}=owner\n{HPO}=group\n" in download(admin_client, "env", **query)
    assert f"export {HPO}='group'" in download(admin_client, "shell", **query)
    page = admin_client.get("/apps/visibility/", query).content.decode()
    assert HPO in page and "groups" in page  # the docs' two spellings are explained


def test_a_bad_application_id_names_the_line_and_the_value(admin_client):
    page = admin_client.get("/apps/visibility/", {"apps": "hpo__app: owner"})
    assert "apps line 1: the application id 'hpo__app'" in page.context["errors"]["apps"]


@pytest.fixture
def tenant(sandbox_settings, sandbox):
    company = sandbox.seed_company("Acme")
    return Tenant.objects.create(name="Acme", company_id=company)


def sent_bodies(sandbox) -> list[dict]:
    return [r["body"] for r in sandbox.requests if r["endpoint"] == ENDPOINT]


def test_a_tenants_policy_is_one_audited_changeset_with_the_documented_body(
    admin_client, sandbox, tenant
):
    response = admin_client.post(
        f"/apps/visibility/tenants/{tenant.pk}/",
        {"allowed": "owner", "apps": "hpo_app: groups\nvscode: all"},
        follow=True,
    )
    assert response.status_code == 200
    assert sent_bodies(sandbox) == [
        {
            "company": tenant.company_id,
            "app_instance_access": {
                "allowed": "owner",
                "applications": {"hpo_app": {"allowed": "group"}, "vscode": {"allowed": "all"}},
            },
        }
    ]
    (company,) = [c for c in sandbox.state["companies"] if c["id"] == tenant.company_id]
    assert company["app_instance_access"]["applications"]["hpo_app"] == {"allowed": "group"}
    changeset = Changeset.objects.get(kind="app_access.update")
    assert changeset.status == Changeset.Status.APPLIED
    (step,) = changeset.steps.all()
    assert step.before is None and step.after["applications"]["vscode"] == {"allowed": "all"}
    actions = set(
        AuditEntry.objects.filter(changeset=changeset.audit_key).values_list("action", flat=True)
    )
    assert ENDPOINT in " ".join(actions)
    page = admin_client.get(f"/apps/visibility/tenants/{tenant.pk}/").content.decode()
    assert "hpo_app: group" in page  # the form shows what was last sent

    admin_client.post(f"/apps/visibility/tenants/{tenant.pk}/", {"allowed": "", "apps": ""})
    assert sent_bodies(sandbox)[-1]["app_instance_access"] == {"applications": {}}
    last = Changeset.objects.filter(kind="app_access.update").latest("pk")
    assert last.steps.get().before["allowed"] == "owner"


def test_bad_input_sends_nothing_and_names_the_value(admin_client, sandbox, tenant):
    response = admin_client.post(
        f"/apps/visibility/tenants/{tenant.pk}/", {"allowed": "everyone", "apps": ""}
    )
    assert response.status_code == 400
    assert response.context["errors"]["allowed"].startswith("allowed 'everyone' is not")
    assert sent_bodies(sandbox) == [] and not Changeset.objects.exists()


def test_a_server_without_the_call_is_shown_plainly(admin_client, sandbox, tenant):
    sandbox.fail_next(ENDPOINT, status=404, message="endpoint not found (not supported)")
    html = admin_client.post(
        f"/apps/visibility/tenants/{tenant.pk}/", {"allowed": "group"}, follow=True
    ).content.decode()
    assert "Not applied" in html and "not supported" in html
    assert Changeset.objects.get(kind="app_access.update").status == Changeset.Status.FAILED
    assert admin_client.get("/apps/visibility/").status_code == 200


@pytest.mark.parametrize("spelling", ["group", "groups", "owner", "all"])
def test_the_sandbox_accepts_both_documented_spellings(sandbox, spelling):
    company = sandbox.seed_company("Beta")
    body = {
        "company": company,
        "app_instance_access": {"applications": {"a1": {"allowed": spelling}}},
    }
    answer = requests.post(
        f"{sandbox.url}/{ENDPOINT}", json=body, auth=(sandbox.key, sandbox.secret)
    ).json()
    assert answer["meta"]["result_code"] == 200
    bad = dict(body, app_instance_access={"allowed": "nobody"})
    answer = requests.post(
        f"{sandbox.url}/{ENDPOINT}", json=bad, auth=(sandbox.key, sandbox.secret)
    )
    assert answer.status_code == 400


def test_the_command_prints_the_server_variables_and_sets_a_tenants_policy(sandbox, tenant, capsys):
    call_command("app_visibility", "server", "--allowed", "group", "--app", "hpo_app=owner",
                 "--format", "env")  # fmt: skip
    assert capsys.readouterr().out == f"{DEFAULT}=group\n{HPO}=owner\n"
    call_command("app_visibility", "set", "acme", "--app", "hpo_app=groups")
    assert "changeset #" in capsys.readouterr().out
    assert sent_bodies(sandbox)[-1]["app_instance_access"] == {
        "applications": {"hpo_app": {"allowed": "group"}}
    }
    assert Changeset.objects.get(kind="app_access.update").face == "command"
    call_command("app_visibility", "show", "--json")
    (row,) = json.loads(capsys.readouterr().out)
    assert row["status"] == "done" and row["app_instance_access"]["applications"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "nobody"], "TENANT 'nobody': no console tenant"),
        (["set", "Acme", "--app", "hpo-app=owner"], "--app number 1: the application id 'hpo-app'"),
        (["server", "--app", "hpo_app"], "--app number 1 'hpo_app' needs the form"),
    ],
)
def test_the_command_exits_2_naming_bad_input(sandbox, tenant, args, message):
    with pytest.raises(CommandError) as failed:
        call_command("app_visibility", *args)
    assert failed.value.returncode == 2 and message in str(failed.value)
    assert sent_bodies(sandbox) == []
