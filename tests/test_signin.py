"""Signing in as the one admin, the lockout, and the sign-in wall."""

import pytest
from django.urls import reverse

from tests.conftest import TEST_ADMIN_PASSWORD

pytestmark = pytest.mark.django_db


def test_a_right_password_signs_in_and_reaches_the_dashboard(client):
    response = client.post(
        reverse("signin"), {"username": "admin", "password": TEST_ADMIN_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


@pytest.mark.parametrize("username", ["admin", "root"])
def test_a_wrong_password_or_unknown_user_gets_the_same_answer(client, username, settings):
    settings.SIGNIN_MAX_FAILURES = 100
    response = client.post(reverse("signin"), {"username": username, "password": "nope"})
    assert "_auth_user_id" not in client.session
    assert "The user name or password is not right." in response.content.decode()


def test_repeated_failures_lock_the_account_out_even_for_the_right_password(
    client, settings, monkeypatch
):
    settings.SIGNIN_MAX_FAILURES = 3
    monkeypatch.setattr("console.views.SLOWDOWN_SECONDS", 0)
    for _ in range(3):
        client.post(reverse("signin"), {"username": "admin", "password": "wrong"})
    response = client.post(
        reverse("signin"), {"username": "admin", "password": TEST_ADMIN_PASSWORD}
    )
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("signin"))


def test_an_open_redirect_through_next_is_refused(client):
    response = client.post(
        reverse("signin"),
        {"username": "admin", "password": TEST_ADMIN_PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("dashboard")


def test_the_health_probe_answers_without_sign_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_pages_carry_a_strict_content_security_policy(admin_client):
    response = admin_client.get(reverse("dashboard"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_navigation_marks_only_the_most_specific_section(admin_client):
    from django.urls import NoReverseMatch

    try:
        groups_url = reverse("tenants:groups")
    except NoReverseMatch:
        pytest.skip("groups pages not installed")
    html = admin_client.get(groups_url).content.decode()
    sidenav = html.split('<nav class="sidenav"', 1)[1].split("</nav>", 1)[0]
    assert sidenav.count('aria-current="page"') == 1
    assert f'<a href="{groups_url}" aria-current="page">' in sidenav


def test_a_new_admin_password_ends_the_sessions_made_before_it(client, monkeypatch):
    from console.admin_password import ENV_NAME, hash_password

    client.post(reverse("signin"), {"username": "admin", "password": TEST_ADMIN_PASSWORD})
    assert client.get(reverse("dashboard")).status_code == 200
    # The operator restarts the console with a new password hash in the environment.
    monkeypatch.setenv(ENV_NAME, hash_password("a brand new password"))
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("signin"))
    # The new password signs in; the old one no longer does.
    old = client.post(reverse("signin"), {"username": "admin", "password": TEST_ADMIN_PASSWORD})
    assert old.status_code != 302
    new = client.post(reverse("signin"), {"username": "admin", "password": "a brand new password"})
    assert new.status_code == 302 and client.get(reverse("dashboard")).status_code == 200


def test_the_admin_row_holds_no_usable_password(client):
    from django.contrib.auth.hashers import check_password as django_check

    from console.signin import admin_user

    user = admin_user()
    assert not user.has_usable_password()
    assert not django_check(TEST_ADMIN_PASSWORD, user.password)
