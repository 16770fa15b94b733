"""Usage and cost routes (mounted at /usage/ by console/urls.py)."""

from django.urls import path

from . import views

app_name = "usage"

urlpatterns = [
    path("", views.usage_report, name="report"),
    path("fetch/", views.usage_fetch_view, name="fetch"),
    path("download.<slug:fmt>", views.usage_download, name="download"),
    path("aggregator/", views.usage_aggregator, name="aggregator"),
]
