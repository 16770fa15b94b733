"""Changes pages (mounted at /changes/)."""

from django.urls import path

from web.changes import views

app_name = "changes"

urlpatterns = [
    path("", views.changeset_list, name="list"),
    path("<int:pk>/", views.changeset_detail, name="detail"),
    path("<int:pk>/apply/", views.changeset_apply_view, name="apply"),
    path("<int:pk>/approve/", views.changeset_approve_view, name="approve"),
    path("<int:pk>/reject/", views.changeset_reject_view, name="reject"),
    path("<int:pk>/progress/", views.changeset_progress_view, name="progress"),
    path("<int:pk>/retry/", views.changeset_retry_view, name="retry"),
]
