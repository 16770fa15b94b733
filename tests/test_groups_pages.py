"""The Groups & features pages, the way an admin uses them."""

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from console.audit.models import AuditEntry
from tenants.groups.models import BuiltinGroupFeatures, CrossTenantGroup, OrganizationSettings
from tenants.groups.services import group_create
from tenants.models import Tenant
from tests.snippet_readers import apiserver_reads, read_helm

pytestmark = pytest.mark.django_db
GID = "3f1c9e62-8a53-4e0f-9f51-2d7c4b1a0e77"

URL_NAMES = [
    ("tenants:groups", []),
    ("tenants:group_create", []),
    ("tenants:builtin_groups", []),
    ("tenants:organization", []),
    ("tenants:effective_features", []),
    ("tenants:groups_export", []),
]


@pytest.mark.parametrize("name,args", URL_NAMES)
def test_every_page_renders_for_the_admin(admin_client, name, args):
    response = admin_client.get(reverse(name, args=args))
    assert response.status_code == 200
    assert b'data-copy-target="snippet-' in response.content or name in (
        "tenants:group_create",
        "tenants:effective_features",
    )


@pytest.mark.parametrize("name,args", [*URL_NAMES, ("tenants:groups_merge_download", [])])
def test_anonymous_visitors_are_sent_to_sign_in(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302 and "/signin/" in response["Location"]


def test_posts_without_csrf_are_refused(django_user_model):
    csrf_client = Client(enforce_csrf_checks=True)
    from console.signin import admin_user

    user = admin_user()
    csrf_client.force_login(user, backend="console.signin.AdminPasswordBackend")
    response = csrf_client.post(reverse("tenants:group_create"), {"name": "ops"})
    assert response.status_code == 403
    assert not CrossTenantGroup.objects.exists()


def test_create_a_group_and_see_its_variables(admin_client):
    response = admin_client.post(
        reverse("tenants:group_create"),
        {
            "name": "Data_Scientists",
            "display_name": "Data Scientists",
            "id": "",
            "features": ["applications", "pipelines"],
            "assignable": "on",
        },
    )
    group = CrossTenantGroup.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tenants:group_edit", args=[group.pk])
    assert group.features == ["applications", "pipelines"] and group.assignable
    page = admin_client.get(response["Location"]).content.decode()
    assert f"saved with id {group.group_id}" in page
    assert "CLEARML__services__auth__default_groups__Data_Scientists__features" in page
    assert AuditEntry.objects.filter(action="group.create").count() == 1


@pytest.mark.parametrize(
    "post,field_error",
    [
        ({"name": "data scientists"}, "contains a space; use only letters, digits"),
        ({"name": "users"}, "is a built-in group"),
        ({"name": "OPS"}, "already used as &#x27;ops&#x27;"),
        ({"name": "new", "id": "abcd-1234-abcd-1234"}, "which is not a UUID"),
        ({"name": "new", "features": ["nope"]}, "&#x27;nope&#x27; is an unknown feature"),
    ],
)
def test_bad_group_input_is_shown_next_to_the_field_and_kept(admin_client, post, field_error):
    group_create(data={"name": "ops"}, actor="test")
    response = admin_client.post(reverse("tenants:group_create"), post)
    assert response.status_code == 400
    html = response.content.decode()
    assert field_error in html
    assert 'aria-invalid="true"' in html or "features[0]" in html
    assert f'value="{post["name"]}"' in html
    assert CrossTenantGroup.objects.count() == 1


def test_editing_with_a_stale_version_keeps_the_input(admin_client):
    group = group_create(data={"name": "ops"}, actor="test")
    url = reverse("tenants:group_edit", args=[group.pk])
    admin_client.post(url, {"name": "ops", "features": ["reports"], "version": "1"})
    response = admin_client.post(url, {"name": "ops_renamed", "version": "1"})
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    assert 'value="ops_renamed"' in response.content.decode()
    group.refresh_from_db()
    assert group.name == "ops" and group.features == ["reports"]


def test_delete_a_group(admin_client):
    group = group_create(data={"name": "ops"}, actor="test")
    url = reverse("tenants:group_delete", args=[group.pk])
    assert b"Delete group" in admin_client.get(url).content
    response = admin_client.post(url, {"version": "1"})
    assert response.status_code == 302 and not CrossTenantGroup.objects.exists()


def test_builtin_groups_page_exports_an_empty_list(admin_client):
    url = reverse("tenants:builtin_groups")
    response = admin_client.post(
        url,
        {
            "version": "1",
            "mode__users": "list",
            "mode__admins": "list",
            "features__admins": ["user_management", "sso_management"],
            "mode__queue_admins": "unset",
        },
    )
    assert response.status_code == 302
    assert BuiltinGroupFeatures.objects.get(name="users").features == []
    download = admin_client.get(
        reverse("snippets:download", args=["builtin-groups"]) + "?format=helm"
    )
    values, _, _ = read_helm(download.content.decode())
    assert values == {
        "CLEARML__services__auth__default_groups__users__features": "[]",
        "CLEARML__services__auth__default_groups__admins__features": (
            '["user_management", "sso_management"]'
        ),
    }
    page = admin_client.get(url).content.decode()
    assert "Empty feature set" in page and "Minimum shared features" in page


def test_builtin_groups_page_refuses_a_stale_form(admin_client):
    url = reverse("tenants:builtin_groups")
    admin_client.post(url, {"version": "1", "mode__users": "list"})
    response = admin_client.post(url, {"version": "1", "mode__users": "unset"})
    assert response.status_code == 409
    assert BuiltinGroupFeatures.objects.get(name="users").features == []


def test_organization_page(admin_client):
    response = admin_client.post(
        reverse("tenants:organization"),
        {
            "version": "1",
            "features": ["user_management_advanced"],
            "unique_company_names": "true",
            "ui__user__show_datasets": "false",
            "ui__user__show_orchestration": "false",
            "ui__admin__show_datasets": "",
        },
    )
    assert response.status_code == 302
    org = OrganizationSettings.load()
    assert org.unique_company_names is True
    assert org.ui_features_per_role == {
        "user": {"show_orchestration": False, "show_datasets": False}
    }
    download = admin_client.get(reverse("snippets:download", args=["organization"]) + "?format=env")
    assert download.content.decode().splitlines() == [
        "CLEARML__services__organization__features__user_management_advanced=true",
        "CLEARML__apiserver__company__unique_names=true",
        "CLEARML__services__auth__ui_features_per_role__user__show_orchestration=false",
        "CLEARML__services__auth__ui_features_per_role__user__show_datasets=false",
    ]


def test_effective_features_matrix_and_explanations(admin_client):
    from tenants.groups.services import builtin_groups_update

    builtin_groups_update(features={"users": []}, version=None, actor="test")
    group = group_create(data={"name": "scientists", "features": ["applications"]}, actor="test")
    other = group_create(data={"name": "ops", "features": ["queue_management"]}, actor="test")
    tenant = Tenant.objects.create(name="Acme", exclude_features=["applications"])
    url = reverse("tenants:effective_features")
    page = admin_client.get(url, {"in": [f"g{group.pk}", f"g{other.pk}"]}).content.decode()
    assert "A user in scientists and ops" in page
    assert 'aria-label="users + scientists, applications: by default"' in page
    assert 'aria-label="users (every user), applications: no"' in page
    page = admin_client.get(url, {"tenant": tenant.pk}).content.decode()
    assert 'aria-label="users + scientists, applications: excluded"' in page
    fragment = admin_client.get(
        url,
        {"tenant": tenant.pk, "cell": f"g{group.pk}:applications", "fragment": "explain"},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "<html" not in fragment
    assert "exclude_features lists applications" in fragment
    assert "Group scientists lists it." in fragment


def test_export_page_merges_an_upload_and_downloads_the_result(admin_client):
    group_create(data={"name": "ops", "id": GID, "features": ["reports"]}, actor="test")
    original = (
        '# our values\napiserver:\n  extraEnvs:\n    - name: KEEP\n      value: "1"  # note\n'
    )
    upload = SimpleUploadedFile("clearml-values.override.yaml", original.encode())
    response = admin_client.post(
        reverse("tenants:groups_export"), {"file": upload, "kind": "auto", "secrets": "inline"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "diff-add" in html and "CLEARML__services__auth__default_groups__ops__id" in html
    download = admin_client.post(
        reverse("tenants:groups_merge_download"),
        {
            "kind": "helm",
            "secrets": "inline",
            "filename": "clearml-values.override.yaml",
            "original": original.replace("\n", "\r\n"),
            "part": "file",
        },
    )
    assert download["Content-Disposition"] == (
        'attachment; filename="clearml-values.override.yaml"'
    )
    merged = download.content.decode()
    assert merged.startswith("# our values\n") and '"1"  # note' in merged
    values, _, _ = read_helm(merged)
    assert values["KEEP"] == "1"
    name = "CLEARML__services__auth__default_groups__ops__features"
    assert apiserver_reads(name, values[name]) == ["reports"]


@pytest.mark.parametrize(
    "content,message",
    [
        (b"apiserver: [\n", "not valid YAML at line 2, column 1"),
        (b"- a\n", "the top level of the file is a list (line 1, column 1)"),
        (b"apiserver:\n  extraEnvs: {}\n", "apiserver.extraEnvs is a mapping (line 2, column 3)"),
    ],
)
def test_export_page_shows_why_a_file_cannot_be_merged(admin_client, content, message):
    upload = SimpleUploadedFile("values.yaml", content)
    response = admin_client.post(reverse("tenants:groups_export"), {"file": upload, "kind": "helm"})
    assert response.status_code == 400
    assert message in response.content.decode()


def test_export_snippet_lists_every_section(admin_client):
    group_create(data={"name": "ops", "id": GID}, actor="test")
    OrganizationSettings.objects.update_or_create(pk=1, defaults={"unique_company_names": True})
    response = admin_client.get(
        reverse("snippets:download", args=["server-settings"]) + "?format=compose"
    )
    env = yaml.safe_load(response.content)["services"]["apiserver"]["environment"]
    assert "CLEARML__services__auth__default_groups__ops__system" in env
    assert env["CLEARML__apiserver__company__unique_names"] == "true"


def test_list_and_matrix_queries_do_not_grow_with_the_number_of_groups(
    admin_client, django_assert_max_num_queries
):
    def counts():
        out = []
        for name in ("tenants:groups", "tenants:effective_features", "tenants:groups_export"):
            with CaptureQueriesContext(connection) as ctx:
                assert admin_client.get(reverse(name)).status_code == 200
            out.append(len(ctx.captured_queries))
        return out

    group_create(data={"name": "g0", "features": ["reports"]}, actor="test")
    few = counts()
    for i in range(1, 8):
        group_create(data={"name": f"g{i}", "features": ["reports"]}, actor="test")
    assert counts() == few
    with django_assert_max_num_queries(20):
        admin_client.get(reverse("tenants:groups"))
