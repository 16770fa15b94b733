"""The Refresh button's route (mounted at /refresh/ by console/urls.py)."""

from django.urls import path

from web.refresh import refresh_view

urlpatterns = [
    path("", refresh_view, name="refresh"),
]
