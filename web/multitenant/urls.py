"""Multi-tenant login pages, included by sso/urls.py under multi-tenant/ (namespace "sso")."""

from django.urls import path

from web.multitenant import views

urlpatterns = [
    path("", views.multitenant_settings, name="multitenant"),
    path("tenants/<int:tenant_id>/", views.tenant_sso, name="tenant_sso"),
    path("tenants/<int:tenant_id>/push/", views.tenant_sso_push_view, name="tenant_sso_push"),
    path("tenants/<int:tenant_id>/delete/", views.tenant_sso_delete_view, name="tenant_sso_delete"),
]
