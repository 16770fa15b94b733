"""Drift pages (mounted at /drift/)."""

from django.urls import path

from web.drift import views

app_name = "drift"

urlpatterns = [
    path("", views.drift_list, name="list"),
    path("<int:tenant_id>/<str:field>/adopt/", views.drift_adopt_view, name="adopt"),
    path("<int:tenant_id>/<str:field>/reapply/", views.drift_reapply_view, name="reapply"),
]
