"""The audit sinks page (mounted at /audit/sinks/, namespace `audit_sinks`)."""

from django.urls import path

from web import audit_sinks

app_name = "audit_sinks"

urlpatterns = [
    path("", audit_sinks.sinks_view, name="list"),
    path("<str:name>/test/", audit_sinks.sink_test, name="test"),
    path("<str:name>/replay/", audit_sinks.sink_replay, name="replay"),
    path("<str:name>/remove/", audit_sinks.sink_remove, name="remove"),
]
