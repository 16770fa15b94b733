"""Secrets never reach the audit table: masked by name, scrubbed from every other text."""

import json

import pytest
from django.db import connection

from console.audit import AuditEntry, audit_record
from console.audit.masking import MASK_CHANGED, MASK_SET, MASK_UNCHANGED, UNSET

pytestmark = pytest.mark.django_db

# Random-looking, so that no 6-character piece of one is a word the entries contain anyway.
CLIENT_SECRET = "Qx7fK2mZp9LwR4tV8nB3"
NEW_CLIENT_SECRET = "Hj5sD1gY6uE0oP3aM9cX"
SECRET_KEY = "zT4kW8qN2vJ7bF5hL1rS9yC6"
PASSWORD = "Vb8#Nq2@Lm5$Kp9&Xw3"
TOKEN_SECRET = "Gf6Rt1Yh7Uj3Ik9Ol2Pz"
CALLER_SECRET = "Wd4Es8Rf2Tg6Yh0Uj5Ik"
ALL_SECRETS = [CLIENT_SECRET, NEW_CLIENT_SECRET, SECRET_KEY, PASSWORD, TOKEN_SECRET, CALLER_SECRET]


def stored_text() -> str:
    """Every column of every stored entry, as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM console_auditentry")
        return "\n".join(repr(row) for row in cursor.fetchall())


def assert_no_secret_stored():
    text = stored_text()
    assert AuditEntry.objects.exists()
    for secret in ALL_SECRETS:
        assert secret not in text, f"secret {secret[:4]}… is stored"
        # Never half-masked: no 6-character piece of a secret survives either.
        for i in range(len(secret) - 5):
            assert secret[i : i + 6] not in text, f"part of {secret[:4]}… is stored"


def record(**kwargs):
    base = {"actor": "admin", "action": "idp.update", "target_type": "idp", "target_id": "kc"}
    return audit_record(**{**base, **kwargs})


@pytest.mark.parametrize(
    "after",
    [
        {"client_secret": CLIENT_SECRET},
        {"CLIENT_SECRET": CLIENT_SECRET},
        {"client-secret": CLIENT_SECRET},
        {"password": PASSWORD},
        {"oauth": {"keycloak": {"client_secret": CLIENT_SECRET}}},
        {"credentials": [{"access_key": "AK1", "secret_key": SECRET_KEY}]},
        {"secure": {"auth": {"token_secret": TOKEN_SECRET}}},
        {"CLEARML__secure__auth__token_secret": TOKEN_SECRET},
        {"secure.auth.token_secret": TOKEN_SECRET},
        {"session_secret": {"apiserver": TOKEN_SECRET}},
        {"CLEARML__secure__http__session_secret__apiserver": TOKEN_SECRET},
        {"user_secret": SECRET_KEY},
        {"ldap_password": PASSWORD},
        {"access_token": TOKEN_SECRET},
        {"private_key": SECRET_KEY},
    ],
    ids=lambda a: str(a)[:40],
)
def test_builtin_secret_names_are_masked_at_any_depth(after):
    entry = record(after=after)
    assert_no_secret_stored()
    assert MASK_SET in json.dumps(AuditEntry.objects.get(pk=entry.pk).after, ensure_ascii=False)


def test_secret_fields_named_by_the_caller_are_masked_at_any_depth():
    record(
        after={"ldap": {"bind_pw": CALLER_SECRET}, "list": [{"bind_pw": CALLER_SECRET}]},
        secret_fields=["bind_pw"],
    )
    assert_no_secret_stored()


def test_a_dotted_secret_field_names_a_path():
    entry = record(
        after={"ldap": {"value": CALLER_SECRET}, "other": {"value": "public"}},
        secret_fields=["ldap.value"],
    )
    assert entry.after == {"ldap": {"value": MASK_SET}, "other": {"value": "public"}}
    assert_no_secret_stored()


@pytest.mark.parametrize(
    ("before", "after", "shown_before", "shown_after"),
    [
        (None, CLIENT_SECRET, None, MASK_SET),
        ("", CLIENT_SECRET, UNSET, MASK_SET),
        (CLIENT_SECRET, CLIENT_SECRET, MASK_SET, MASK_UNCHANGED),
        (CLIENT_SECRET, NEW_CLIENT_SECRET, MASK_SET, MASK_CHANGED),
        (CLIENT_SECRET, "", MASK_SET, UNSET),
        (CLIENT_SECRET, None, MASK_SET, UNSET),
    ],
)
def test_markers_say_whether_a_secret_was_set_changed_or_unset(
    before, after, shown_before, shown_after
):
    entry = record(
        before={"name": "kc"} if before is None else {"name": "kc", "client_secret": before},
        after={"name": "kc", "client_secret": after},
    )
    assert entry.before.get("client_secret") == shown_before
    assert entry.after["client_secret"] == shown_after
    assert_no_secret_stored()


def test_a_changed_secret_is_listed_in_changed_fields_without_its_value():
    entry = record(
        before={"client_secret": CLIENT_SECRET, "client_id": "x"},
        after={"client_secret": NEW_CLIENT_SECRET, "client_id": "x"},
    )
    assert entry.changed_fields == ["client_secret"]
    unchanged = record(
        before={"client_secret": CLIENT_SECRET}, after={"client_secret": CLIENT_SECRET}
    )
    assert unchanged.changed_fields == []


def test_secret_values_are_scrubbed_from_errors_names_and_apiserver_messages():
    record(
        after={"client_secret": CLIENT_SECRET},
        target_repr=f"provider {CLIENT_SECRET}",
        outcome="failure",
        error=f"the server refused client_secret={CLIENT_SECRET}",
        calls=[
            {
                "endpoint": "sso.save_provider_configuration",
                "status": 400,
                "result_msg": f"invalid secret {CLIENT_SECRET}",
                "trx": "t",
                "error": f"ApiBadRequest: {CLIENT_SECRET}",
            }
        ],
    )
    assert_no_secret_stored()
    entry = AuditEntry.objects.get()
    assert "••••" in entry.error
    assert "••••" in entry.calls[0]["result_msg"]


def test_a_secret_that_leaked_into_an_ordinary_field_is_scrubbed_too():
    record(after={"client_secret": CLIENT_SECRET, "note": f"set to {CLIENT_SECRET}"})
    assert_no_secret_stored()


def test_the_consoles_own_api_secret_is_scrubbed_from_every_entry(settings):
    settings.CLEARML_API_SECRET = PASSWORD
    record(error=f"auth failed for secret {PASSWORD}")
    assert_no_secret_stored()


def test_a_list_that_changes_into_a_dict_is_masked_on_both_sides():
    record(before={"cfg": [{"password": PASSWORD}]}, after={"cfg": {"password": TOKEN_SECRET}})
    assert_no_secret_stored()


def test_the_free_text_search_column_holds_no_secret():
    record(
        target_repr="kc",
        error=f"boom {CLIENT_SECRET}",
        after={"client_secret": CLIENT_SECRET},
    )
    search = AuditEntry.objects.get().search_text
    assert CLIENT_SECRET.lower() not in search


def test_all_secrets_of_a_realistic_session_are_absent_from_storage(admin_client):
    """Every kind of entry the tests write, then one search over the whole table."""
    record(action="idp.create", after={"client_id": "c", "client_secret": CLIENT_SECRET})
    record(
        action="idp.update",
        before={"client_secret": CLIENT_SECRET},
        after={"client_secret": NEW_CLIENT_SECRET},
    )
    record(
        action="tenant.credentials.create",
        target_type="tenant",
        after={"credentials": {"access_key": "AKX", "secret_key": SECRET_KEY}},
    )
    record(action="secrets.generate", after={"secure": {"auth": {"token_secret": TOKEN_SECRET}}})
    record(action="x.y", after={"bind_pw": CALLER_SECRET}, secret_fields=("bind_pw",))
    admin_client.post("/signout/")
    from django.test import Client

    Client().post("/signin/", {"username": "admin", "password": PASSWORD})
    assert AuditEntry.objects.filter(action="auth.signin.failed").exists()
    assert_no_secret_stored()


def test_a_boolean_switch_named_like_a_token_is_not_masked():
    entry = audit_record(
        actor="admin",
        action="idp.update",
        target_type="idp",
        before={"get_info_from_access_token": False, "client_secret": "abcdefgh-old"},
        after={"get_info_from_access_token": True, "client_secret": "abcdefgh-new"},
    )
    assert entry.after["get_info_from_access_token"] is True
    assert entry.after["client_secret"] == "•••• (changed)"
