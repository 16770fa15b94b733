"""Signing in and out writes audit entries; failed and refused attempts too, without secrets."""

import pytest
from django.test import Client
from django.urls import reverse

from console.audit import AuditEntry
from tests.conftest import TEST_ADMIN_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_slowdown(monkeypatch):
    monkeypatch.setattr("console.views.SLOWDOWN_SECONDS", 0)


def sign_in(client, username="admin", password=TEST_ADMIN_PASSWORD):
    return client.post(reverse("signin"), {"username": username, "password": password})


def test_a_sign_in_is_recorded_with_the_admin_and_address(client):
    sign_in(client)
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.outcome) == ("admin (local)", "auth.signin", "success")
    assert entry.target_type == "user" and entry.target_id == "admin"
    assert entry.after == {"address": "127.0.0.1"}


def test_a_wrong_password_is_recorded_as_a_failure_without_the_password(client):
    sign_in(client, password="Tr0ub4dor&3-wrong")
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.outcome) == (
        "anonymous",
        "auth.signin.failed",
        "failure",
    )
    assert entry.target_id == "admin"
    assert "Tr0ub4dor" not in str(AuditEntry.objects.values().get())


def test_an_unknown_user_name_is_not_stored(client):
    """People type their password into the user name field: only 'not a console user' is kept."""
    sign_in(client, username="Pa55word-typed-in-the-wrong-box")
    entry = AuditEntry.objects.get()
    assert entry.target_id == "(not a console user)"
    assert "Pa55word" not in str(AuditEntry.objects.values().get())


def test_a_locked_out_attempt_is_recorded_as_refused_once_per_window(client, settings):
    settings.SIGNIN_MAX_FAILURES = 2
    for _ in range(2):
        sign_in(client, password="wrong")
    for _ in range(3):
        assert sign_in(client).status_code == 429
    outcomes = list(AuditEntry.objects.order_by("seq").values_list("outcome", flat=True))
    assert outcomes == ["failure", "failure", "refused"]
    refused = AuditEntry.objects.get(outcome="refused")
    assert "locked out" in refused.error


def test_a_sign_out_is_recorded(admin_client):
    response = admin_client.post(reverse("signout"))
    assert response.status_code == 302
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action) == ("admin (local)", "auth.signout")


def test_the_sign_in_entries_show_on_the_audit_page(client):
    sign_in(client)
    html = client.get(reverse("audit:list"), {"action": "auth.signin"}).content.decode()
    assert "auth.signin" in html and 'href="/audit/1/"' in html


def test_a_sign_out_without_a_session_writes_nothing():
    Client().post(reverse("signout"))
    assert not AuditEntry.objects.exists()
