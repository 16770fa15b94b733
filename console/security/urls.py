"""Security page routes (no namespace: the navigation links to the URL name `security`)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.security_page, name="security"),
    path("live-check/", views.live_check, name="security_live_check"),
    path("generate/", views.generate, name="security_generate"),
    path("audit/", views.audit_upload, name="security_audit_upload"),
]
