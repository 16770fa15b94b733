"""URL routes of sign-in routing, included by sso/urls.py under `routing/` (namespace "sso")."""

from django.urls import path

from web.routing import views

T = "tenants/<int:tenant_id>/"

urlpatterns = [
    path("", views.routing_map_view, name="routing_map"),
    path("simulator/", views.simulator_view, name="simulator"),
    path(T, views.tenant_routing_view, name="tenant_routing"),
    path(T + "live/", views.routing_live_view, name="routing_live"),
    path(T + "pull/", views.routing_pull_view, name="routing_pull"),
    path(T + "push/", views.routing_push_view, name="routing_push"),
    path(T + "push/<int:job_id>/", views.routing_push_job_view, name="routing_push_job"),
    path(T + "push/<int:job_id>/step/", views.routing_push_step_view, name="routing_push_step"),
    path(T + "import/", views.routing_import_view, name="routing_import"),
    path(
        T + "import/<int:import_id>/",
        views.routing_import_preview_view,
        name="routing_import_preview",
    ),
    path(
        T + "import/<int:import_id>/save/",
        views.routing_import_save_view,
        name="routing_import_save",
    ),
    path(T + "<str:kind>/", views.routing_list_view, name="routing_list"),
    path(T + "<str:kind>/add/", views.routing_add_view, name="routing_add"),
    path(T + "<str:kind>/remove/", views.routing_remove_view, name="routing_remove"),
]
