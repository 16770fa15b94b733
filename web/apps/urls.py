"""Application instance visibility routes (mounted at /apps/ by console/urls.py)."""

from django.urls import path

from . import views

app_name = "apps"

urlpatterns = [
    path("visibility/", views.visibility, name="visibility"),
    path("visibility/tenants/<int:pk>/", views.tenant_visibility, name="tenant"),
]
