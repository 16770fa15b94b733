"""Groups & features pages, included by tenants/urls.py (namespace `tenants`, under /tenants/)."""

from django.urls import path

from web.groups import sources, views  # noqa: F401 - sources registers the snippet sources

urlpatterns = [
    path("groups/", views.groups_overview, name="groups"),
    path("groups/new/", views.group_create_view, name="group_create"),
    path("groups/<int:pk>/edit/", views.group_edit_view, name="group_edit"),
    path("groups/<int:pk>/delete/", views.group_delete_view, name="group_delete"),
    path("groups/builtin/", views.builtin_groups_view, name="builtin_groups"),
    path("groups/organization/", views.organization_view, name="organization"),
    path("groups/effective/", views.effective_features_view, name="effective_features"),
    path("groups/export/", views.export_view, name="groups_export"),
    path("groups/export/merge/", views.merge_download_view, name="groups_merge_download"),
]
