"""Identity provider pages, included by sso/urls.py under providers/ (namespace "sso")."""

from django.urls import path

from web.providers import views

urlpatterns = [
    path("", views.provider_list, name="providers"),
    path("new/<slug:key>/", views.provider_add, name="provider_add"),
    path("<slug:key>/", views.provider_edit, name="provider_edit"),
    path("<slug:key>/delete/", views.provider_delete, name="provider_delete"),
    path("<slug:key>/checklist/", views.provider_checklist, name="provider_checklist"),
]
