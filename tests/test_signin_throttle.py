"""Sign-in throttling by client address and account together: nobody can lock the admin out
from somewhere else, a request naming no user never counts against `admin`, and unknown users
get the same answers as real ones."""

import pytest
from django.urls import reverse

from console import signin
from tests.conftest import TEST_ADMIN_PASSWORD

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.66"
ADMIN_DESK = "198.51.100.7"


@pytest.fixture(autouse=True)
def _limits(settings, monkeypatch):
    settings.SIGNIN_MAX_FAILURES = 3
    settings.SIGNIN_MAX_ADDRESS_FAILURES = 12
    monkeypatch.setattr("console.views.SLOWDOWN_SECONDS", 0)


def post(client, address, **data):
    return client.post(reverse("signin"), data, REMOTE_ADDR=address)


def admin_signs_in(client) -> bool:
    answer = post(client, ADMIN_DESK, username="admin", password=TEST_ADMIN_PASSWORD)
    return answer.status_code == 302


def test_an_attacker_cannot_lock_the_admin_out_for_another_address(client):
    for _ in range(10):
        post(client, ATTACKER, username="admin", password="guess")
    locked = post(client, ATTACKER, username="admin", password=TEST_ADMIN_PASSWORD)
    assert locked.status_code == 429  # the attacker's own pair is locked, even with the password
    assert admin_signs_in(client)


def test_a_post_with_no_user_name_does_not_count_against_admin(client):
    for _ in range(8):
        post(client, ATTACKER, password="guess")
        post(client, ATTACKER, username="", password="guess")
    assert not signin.lockout_remaining("admin", ADMIN_DESK)
    # Not even from the same address, while the address stays under its own limit.
    assert admin_signs_in(client)


def test_unknown_user_names_do_not_count_against_admin(client):
    for name in ("root", "administrator", "Admin ", "ADMIN2"):
        for _ in range(3):
            post(client, ATTACKER, username=name, password="guess")
    assert admin_signs_in(client)


def test_an_address_spraying_many_names_is_refused_but_no_one_else(client):
    for i in range(12):
        post(client, ATTACKER, username=f"user{i}", password="guess")
    # The address is now refused whatever name it tries, the admin's included…
    assert post(client, ATTACKER, username="someone-new", password="x").status_code == 429
    assert post(client, ATTACKER, username="admin", password=TEST_ADMIN_PASSWORD).status_code == 429
    # …and the admin elsewhere is not affected.
    assert admin_signs_in(client)


def test_an_address_is_slowed_down_across_names(client, monkeypatch):
    waits = []
    monkeypatch.setattr("console.views.SLOWDOWN_SECONDS", 0.01)
    monkeypatch.setattr("console.views.time.sleep", waits.append)
    for i in range(5):
        post(client, ATTACKER, username=f"name{i}", password="guess")
    assert waits[:2] == [0, 0] and waits[-1] == 0.01


@pytest.mark.parametrize("username", ["admin", "nobody-here"])
def test_a_locked_pair_answers_the_same_for_a_real_and_an_unknown_user(client, username):
    answers = [post(client, ATTACKER, username=username, password="guess") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert "Too many failed sign-ins" in answers[-1].content.decode()
    assert "The user name or password is not right." in answers[0].content.decode()


def test_a_successful_sign_in_clears_its_pair_only(client):
    post(client, ADMIN_DESK, username="admin", password="typo")
    post(client, ADMIN_DESK, username="admin", password="typo")
    assert admin_signs_in(client)
    client.post(reverse("signout"))
    for _ in range(2):
        post(client, ADMIN_DESK, username="admin", password="typo")
    assert not signin.lockout_remaining("admin", ADMIN_DESK)
