"""URL routes of the sso app (namespace "sso")."""

from django.urls import include, path

app_name = "sso"

urlpatterns = [
    path("routing/", include("web.routing.urls")),
    path("providers/", include("web.providers.urls")),
    path("multi-tenant/", include("web.multitenant.urls")),
]
