"""Tenant pages (mounted at /tenants/)."""

from importlib.util import find_spec

from django.urls import include, path

from web.tenants.views import create, credentials, delete, detail, edit, onboarding
from web.tenants.views import list as list_views

app_name = "tenants"

urlpatterns = [
    path("", list_views.tenant_list, name="list"),
    path("import/", list_views.tenant_import_view, name="import"),
    path("new/", create.tenant_create_view, name="create"),
    path("<int:pk>/", detail.tenant_detail, name="detail"),
    path("<int:pk>/plan/", create.tenant_plan, name="plan"),
    path("<int:pk>/apply/", create.tenant_apply, name="apply"),
    path("<int:pk>/discard/", create.tenant_discard_view, name="discard"),
    path("<int:pk>/edit/", edit.tenant_edit, name="edit"),
    path("<int:pk>/credentials/", credentials.credentials_create_view, name="credentials"),
    path("<int:pk>/delete/", delete.tenant_delete, name="delete"),
    path("<int:pk>/delete/routing/", delete.offboard_routing, name="offboard_routing"),
    path("<int:pk>/delete/credentials/", delete.offboard_credentials, name="offboard_credentials"),
    path("<int:pk>/onboarding/", onboarding.tenant_onboarding, name="onboarding"),
    path(
        "<int:pk>/onboarding/download/",
        onboarding.tenant_onboarding_download,
        name="onboarding_download",
    ),
]


# Groups & features pages (tenants/groups/, another part of this app) share the namespace.
def _has_module(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except ModuleNotFoundError:
        return False


if _has_module("web.groups.urls"):
    urlpatterns.append(path("", include("web.groups.urls")))
