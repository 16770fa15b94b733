"""URL routes of the sso app (namespace "sso")."""

from django.urls import include, path

app_name = "sso"

urlpatterns = [
    path("routing/", include("sso.routing.urls")),
    path("providers/", include("sso.providers.urls")),
    path("multi-tenant/", include("sso.multitenant.urls")),
]
