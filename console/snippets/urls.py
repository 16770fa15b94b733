"""Snippet fragments and downloads: /snippets/<source>/ and /snippets/<source>/download/."""

from django.urls import path

from . import views

app_name = "snippets"

urlpatterns = [
    path("<slug:source>/", views.snippet_show, name="show"),
    path("<slug:source>/download/", views.snippet_download, name="download"),
]
