"""Routes of the Audit pages (mounted at /audit/)."""

from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("", views.audit_list, name="list"),
    path("<int:seq>/", views.audit_detail, name="detail"),
    path("export.<str:fmt>", views.audit_export, name="export"),
]
