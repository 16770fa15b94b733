"""`/oidc/authenticate/` (start) and `/oidc/callback/` (the redirect URI registered at the IdP)."""

from django.urls import path

from .views import SigninCallbackView, SigninStartView

urlpatterns = [
    path("authenticate/", SigninStartView.as_view(), name="oidc_start"),
    path("callback/", SigninCallbackView.as_view(), name="oidc_callback"),
]
