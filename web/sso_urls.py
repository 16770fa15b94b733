"""URL routes of the sso app (namespace "sso")."""

from django.urls import include, path

from web.sso_index import sso_index

app_name = "sso"

urlpatterns = [
    path("", sso_index, name="index"),
    path("routing/", include("web.routing.urls")),
    path("providers/", include("web.providers.urls")),
    path("multi-tenant/", include("web.multitenant.urls")),
]
