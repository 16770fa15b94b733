"""URL routes of the console."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("connection/", views.connection_panel, name="connection_panel"),
    path("refresh/", include("web.refresh_urls")),
    path("signin/", views.signin_view, name="signin"),
    path("signout/", views.signout_view, name="signout"),
    path("oidc/", include("console.oidc.urls")),
    path("account/", include("web.account_urls")),
    path("healthz", views.healthz, name="healthz"),
    path("robots.txt", views.robots, name="robots"),
    path("tenants/", include("web.tenants.urls")),
    path("changes/", include("web.changes.urls")),
    path("drift/", include("web.drift.urls")),
    path("credentials/", include("web.credentials.urls")),
    path("vaults/", include("web.vaults.urls")),
    path("audit/sinks/", include("web.audit_sinks_urls")),
    path("audit/", include("console.audit.urls")),
    path("snippets/", include("console.snippets.urls")),
    path("sso/", include("web.sso_urls")),
    path("security/", include("console.security.urls")),
    path("api/", include("web.api.urls")),
    path("usage/", include("web.usage.urls")),
    path("apps/", include("web.apps.urls")),
]

handler400 = "console.views.bad_request"
handler403 = "console.views.permission_denied"
handler404 = "console.views.page_not_found"
handler500 = "console.views.server_error"
