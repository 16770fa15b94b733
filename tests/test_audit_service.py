"""audit_record: what an entry holds, request ids, actors, apiserver calls, transactions."""

import pytest
from django.db import transaction

from console.apiserver import ApiServerError, CallRecord, client_from_settings
from console.audit import (
    AuditEntry,
    actor_for_request,
    audit_for_target,
    audit_record,
    cli_actor,
)
from console.audit.service import current_request_id
from console.middleware import request_id_var

pytestmark = pytest.mark.django_db


def record(**overrides):
    fields = {
        "actor": "admin",
        "action": "tenant.update",
        "target_type": "tenant",
        "target_id": "c-1",
        "target_repr": "Acme Research",
    }
    fields.update(overrides)
    return audit_record(**fields)


def test_an_entry_keeps_actor_action_target_change_and_time():
    entry = record(
        before={"name": "Acme", "allowed_users": 5, "features": ["a"]},
        after={"name": "Acme Research", "allowed_users": 5, "features": ["a", "b"]},
    )
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.actor, stored.action, stored.target_type, stored.target_id) == (
        "admin",
        "tenant.update",
        "tenant",
        "c-1",
    )
    assert stored.target_repr == "Acme Research"
    assert stored.before["name"] == "Acme"
    assert stored.after["features"] == ["a", "b"]
    assert stored.changed_fields == ["name", "features"]
    assert stored.outcome == "success"
    assert stored.created_at is not None
    assert stored.seq == 1


def test_a_creation_lists_every_field_as_changed_and_has_no_before():
    entry = record(action="tenant.create", after={"name": "Acme", "allowed_users": 3})
    assert entry.before is None
    assert entry.changed_fields == ["name", "allowed_users"]


def test_nested_changes_are_named_by_their_dotted_path():
    entry = record(
        action="idp.update",
        before={"groups": {"enabled": False, "claim": "groups"}, "base_url": "https://a"},
        after={"groups": {"enabled": True, "claim": "groups"}, "base_url": "https://a"},
    )
    assert entry.changed_fields == ["groups.enabled"]


def test_values_that_are_not_json_are_stored_as_their_json_form():
    import datetime
    import uuid

    ident = uuid.UUID("3f1c9e62-8a53-4e0f-9f51-2d7c4b1a0e77")
    entry = record(after={"id": ident, "at": datetime.date(2025, 1, 2), "tags": {"x"}})
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.after == {"id": str(ident), "at": "2025-01-02", "tags": ["x"]}


def test_entries_of_one_request_share_its_request_id():
    token = request_id_var.set("req-123")
    try:
        first = record()
        second = record(action="login.domains.set")
    finally:
        request_id_var.reset(token)
    assert first.request_id == second.request_id == "req-123"


def test_outside_a_request_one_id_serves_the_whole_process():
    first, second = record(), record()
    assert first.request_id == second.request_id == current_request_id()
    assert len(first.request_id) == 32


def test_the_web_request_id_is_the_one_sent_back_as_x_request_id(admin_client):
    response = admin_client.post("/signout/")
    entry = AuditEntry.objects.get(action="auth.signout")
    assert entry.request_id == response["X-Request-ID"]


def test_cli_actor_names_the_os_user():
    import getpass

    assert cli_actor() == f"cli:{getpass.getuser()}"


def test_actor_for_request_is_the_signed_in_admin(rf, django_user_model):
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/")
    request.user = django_user_model(username="admin")
    assert actor_for_request(request) == "admin (local)"
    request.user = AnonymousUser()
    assert actor_for_request(request) == "anonymous"


def test_calls_accept_call_records_and_dicts_and_keep_only_the_known_fields():
    calls = [
        CallRecord(
            endpoint="system.create_company",
            status=200,
            result_msg="OK",
            trx="trx-1",
            duration_ms=12,
        ),
        {
            "endpoint": "auth.create_user",
            "status": 400,
            "result_msg": "email exists",
            "trx": "trx-2",
            "duration_ms": "7",
            "error": "ApiBadRequest",
            "act_as": "u-1",
            "body": {"email": "a@b.c"},
        },
    ]
    entry = record(action="tenant.create", calls=calls, outcome="failure", error="email exists")
    stored = AuditEntry.objects.get(pk=entry.pk).calls
    assert stored[0] == {
        "endpoint": "system.create_company",
        "status": 200,
        "result_msg": "OK",
        "trx": "trx-1",
        "duration_ms": 12,
        "error": "",
        "act_as": "",
        "impersonate_as": "",
    }
    assert stored[1]["act_as"] == "u-1"
    assert stored[1]["duration_ms"] == 7
    assert "body" not in stored[1]


def test_calls_made_against_the_real_sandbox_are_recorded_with_trx_and_result_msg(
    sandbox, sandbox_settings
):
    calls: list[CallRecord] = []
    client = client_from_settings(on_call=calls.append)
    client.call("system.create_company", {"name": "Acme Research"})
    sandbox.fail_next("system.update_company_settings", status=500)
    with pytest.raises(ApiServerError) as failure:
        client.call("system.update_company_settings", {"company": "x", "features": []})
    entry = record(action="tenant.create", calls=calls, outcome="failure", error=str(failure.value))
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert [c["endpoint"] for c in stored.calls] == [
        "system.create_company",
        "system.update_company_settings",
    ]
    assert stored.calls[0]["status"] == 200
    assert stored.calls[0]["trx"]
    assert stored.calls[1]["status"] == 500
    assert "injected failure" in stored.calls[1]["result_msg"]
    assert stored.calls[1]["trx"]
    assert stored.error


@pytest.mark.parametrize("outcome", ["success", "failure", "refused", "pending"])
def test_every_outcome_is_accepted(outcome):
    assert record(outcome=outcome).outcome == outcome


def test_an_unknown_outcome_is_a_programming_error():
    with pytest.raises(ValueError, match="outcome must be one of"):
        record(outcome="maybe")


def test_the_entry_is_rolled_back_with_the_change_it_records():
    with pytest.raises(RuntimeError), transaction.atomic():
        record(action="tenant.delete")
        raise RuntimeError("the change failed after the entry was written")
    assert not AuditEntry.objects.filter(action="tenant.delete").exists()
    # The chain continues from the last committed entry.
    assert record().seq == 1


def test_overlong_names_are_clipped_not_refused():
    entry = record(actor="a" * 500, target_id="t" * 500)
    assert len(entry.actor) == 150
    assert len(entry.target_id) == 255


def test_audit_for_target_lists_one_objects_entries_newest_first():
    for i in range(3):
        record(target_id="c-1", after={"n": i})
    record(target_id="c-2")
    record(target_type="group", target_id="c-1")
    entries = audit_for_target("tenant", "c-1")
    assert [e.after["n"] for e in entries] == [2, 1, 0]
    assert len(audit_for_target("tenant", "c-1", limit=2)) == 2
