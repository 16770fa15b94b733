"""Your account's pages (mounted at /account/, namespace `account`)."""

from django.urls import path

from web import account, policy_checks, tokens  # noqa: F401 - policy_checks registers checks

app_name = "account"

urlpatterns = [
    path("sessions/", account.sessions_view, name="sessions"),
    path("tokens/", tokens.tokens_view, name="tokens"),
]
