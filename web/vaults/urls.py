"""Admin vault pages (mounted at /vaults/ by console/urls.py)."""

from django.urls import path

from web.vaults import views

app_name = "vaults"

urlpatterns = [
    path("", views.vault_list, name="list"),
    path("template/", views.vault_template_view, name="template"),
    path("<int:pk>/", views.tenant_vaults, name="tenant"),
    path("<int:pk>/<str:vault_id>/delete/", views.vault_delete_view, name="delete"),
    path("<int:pk>/<str:vault_id>/reveal/", views.vault_reveal_view, name="reveal"),
]
