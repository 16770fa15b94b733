"""The audit sinks page (/audit/sinks/): admins only; add (audited, through the pipeline),
errors naming the field, test event, replay, remove; the dashboard turns amber on lag."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from changes.apply import changeset_apply
from changes.approvals import changeset_approve
from changes.models import Changeset
from console.audit.bulk import bulk_append
from console.audit.models import AuditEntry
from console.audit.sinks.delivery import deliver_all
from console.audit.sinks.models import AuditSink
from console.roles import Role
from tests.test_roles_matrix import oidc_settings, person_client  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def test_viewers_and_operators_cannot_open_it(oidc_settings, django_user_model):  # noqa: F811
    for role in (Role.VIEWER, Role.OPERATOR):
        client = person_client(role, django_user_model)
        assert client.get("/audit/sinks/").status_code == 403
    assert Client().get("/audit/sinks/").status_code == 302  # to sign-in


def test_an_admin_adds_a_sink_and_it_is_an_audited_changeset(admin_client, tmp_path):
    path = str(tmp_path / "audit.jsonl")
    response = admin_client.post(
        "/audit/sinks/", {"name": "file", "kind": "jsonl", "url": path, "secret": "", "from": ""}
    )
    assert response.status_code == 302
    sink = AuditSink.objects.get(name="file")
    entry = AuditEntry.objects.get(action="audit_sink.create")
    assert entry.actor == "admin (local)" and entry.after["url"] == path
    assert Changeset.objects.get(kind="audit_sink.create").face == "form"
    page = admin_client.get("/audit/sinks/").content.decode()
    assert "file" in page and f"#{sink.last_delivered_seq}" in page and "Send test event" in page


def test_bad_input_is_shown_on_its_field_and_keeps_the_input(admin_client):
    response = admin_client.post(
        "/audit/sinks/",
        {
            "name": "siem",
            "kind": "webhook",
            "url": "https://siem.example.com/",
            "secret": "hunter22",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'href="#id_secret"' in page and "env:NAME" in page
    assert "hunter22" in page  # the user's own typing is kept in the form only
    assert not AuditSink.objects.exists() and not AuditEntry.objects.exists()


def test_test_event_replay_and_remove(admin_client, tmp_path):
    path = tmp_path / "audit.jsonl"
    admin_client.post("/audit/sinks/", {"name": "file", "kind": "jsonl", "url": str(path)})
    response = admin_client.post("/audit/sinks/file/test/", follow=True)
    assert "acknowledged the test event" in response.content.decode()
    assert '"seq":0' in path.read_text()
    deliver_all()
    assert AuditSink.objects.get().last_delivered_seq == 1

    response = admin_client.post("/audit/sinks/file/replay/", {"from": "1"}, follow=True)
    assert "sends again from #1" in response.content.decode()
    assert AuditSink.objects.get().last_delivered_seq == 0
    response = admin_client.post("/audit/sinks/file/replay/", {"from": "999"}, follow=True)
    assert "from: 999 is not between 1 and" in response.content.decode()

    admin_client.post("/audit/sinks/file/remove/")
    assert not AuditSink.objects.exists()
    actions = list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))
    assert actions == ["audit_sink.create", "audit_sink.replay", "audit_sink.delete"]


def test_the_dashboard_turns_amber_when_a_sink_lags_more_than_5_minutes(admin_client, tmp_path):
    six_minutes_ago = timezone.now() - timedelta(minutes=6)
    bulk_append([{"actor": "a", "action": "x", "created_at": six_minutes_ago}])
    AuditSink.objects.create(name="siem", kind="jsonl", url=str(tmp_path / "a"))
    page = admin_client.get("/").content.decode()
    assert 'id="audit-sinks-lagging"' in page and "siem (1 entries, 36" in page
    AuditSink.objects.update(last_delivered_seq=1)
    assert 'id="audit-sinks-lagging"' not in admin_client.get("/").content.decode()


def test_with_approvals_removing_a_sink_waits_for_a_second_admin(admin_client, tmp_path, settings):
    settings.CONSOLE_APPROVALS = True
    admin_client.post(
        "/audit/sinks/", {"name": "siem", "kind": "jsonl", "url": str(tmp_path / "a.jsonl")}
    )
    deliver_all()  # the cursor moves while the removal waits: the approval still holds
    response = admin_client.post("/audit/sinks/siem/remove/", follow=True)
    assert "waits for approval" in response.content.decode()
    changeset = Changeset.objects.get(kind="audit_sink.delete")
    assert changeset.status == "awaiting_approval" and AuditSink.objects.exists()
    bulk_append([{"actor": "a", "action": "x"}])
    deliver_all()

    changeset_approve(
        changeset, actor="bob@example.com", role=Role.ADMIN, content_hash=changeset.content_hash
    )
    changeset.refresh_from_db()
    changeset_apply(changeset, actor="bob@example.com")
    assert not AuditSink.objects.exists()
    assert AuditEntry.objects.filter(action="audit_sink.delete").count() == 1


def test_the_list_shows_lag_and_the_last_error(admin_client, tmp_path):
    bulk_append([{"actor": "a", "action": "x"}, {"actor": "a", "action": "y"}])
    AuditSink.objects.create(
        name="siem",
        kind="webhook",
        url="https://siem.example.com/hook",
        secret_ref="env:SIEM_KEY",
        last_error="HTTP 503: maintenance",
        last_error_at=timezone.now(),
        failures=3,
        next_attempt_at=timezone.now() + timedelta(seconds=9),
    )
    page = admin_client.get("/audit/sinks/").content.decode()
    assert "2 entries, 0 s" in page and "3 failures" in page and "HTTP 503: maintenance" in page
    assert "next attempt" in page and "env:SIEM_KEY" not in page
