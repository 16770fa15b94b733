"""The credentials inventory's routes (mounted at /credentials/ by console/urls.py)."""

from django.urls import path

from web.credentials import views

app_name = "credentials"

urlpatterns = [
    path("", views.credential_list, name="list"),
    path("rotation/<int:pk>/finish/", views.rotation_finish, name="rotation_finish"),
    path("<str:access_key>/", views.credential_key, name="key"),
    path("<str:access_key>/relabel/", views.credential_relabel, name="relabel"),
    path("<str:access_key>/revoke/", views.credential_revoke, name="revoke"),
    path("<str:access_key>/rotate/", views.credential_rotate, name="rotate"),
]
