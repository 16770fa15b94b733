"""console/request_reads.py: the session and the user read with one SQL statement each, with
Django's answers: a live session loads, an expired, unknown, malformed or ended one is no
session, and the user is found by id or not at all."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console.request_reads import SessionStore, user_by_id

pytestmark = pytest.mark.django_db


def stored(data: dict, *, expires_in: timedelta = timedelta(hours=1)) -> str:
    store = DjangoStore()
    store.update(data)
    store.create()
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() + expires_in
    )
    return store.session_key


def test_the_console_uses_this_store():
    assert settings.SESSION_ENGINE == "console.request_reads"


def test_a_live_session_loads_as_djangos_store_loads_it_in_one_query():
    key = stored({"a": 1, "b": ["x", "é"]})
    with CaptureQueriesContext(connection) as queries:
        ours = SessionStore(key).load()
    assert ours == DjangoStore(key).load() == {"a": 1, "b": ["x", "é"]}
    assert len(queries.captured_queries) == 1


@pytest.mark.parametrize(
    "key",
    [
        "expired",
        "unknown-but-well-formed-key-0123456789",
        "short",
        "",
        None,
    ],
)
def test_no_live_row_is_no_session_and_forgets_the_key(key):
    if key == "expired":
        key = stored({"a": 1}, expires_in=timedelta(seconds=-1))
    store = SessionStore(key)
    assert store.load() == {}
    assert store.session_key is None
    assert DjangoStore(key).load() == {}


def test_tampered_session_data_is_no_session():
    key = stored({"a": 1})
    Session.objects.filter(session_key=key).update(session_data="not-signed:data")
    assert SessionStore(key).load() == {}


def test_saving_and_deleting_still_work():
    store = SessionStore()
    store["x"] = 1
    store.save()
    assert SessionStore(store.session_key).load() == {"x": 1}
    store.delete()
    assert SessionStore(store.session_key).load() == {}


def test_user_by_id_finds_the_user_or_none():
    user = get_user_model().objects.create(username="oidc:alice", email="a@x.example")
    found = user_by_id(user.pk)
    assert found == user and found.email == "a@x.example"
    assert found.username == "oidc:alice"
    assert user_by_id(user.pk + 1000) is None


def test_a_signed_in_page_reads_session_and_user_once_each(admin_client):
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(reverse("dashboard")).status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum('FROM "django_session"' in s for s in sql) == 1
    assert sum('FROM "auth_user"' in s for s in sql) == 1


def test_an_ended_session_signs_the_browser_out(admin_client):
    assert admin_client.get(reverse("dashboard")).status_code == 200
    Session.objects.all().delete()
    answer = admin_client.get(reverse("dashboard"))
    assert answer.status_code == 302 and answer["Location"].startswith(settings.LOGIN_URL_PATH)
