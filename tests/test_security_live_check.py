"""The live check against the real sandbox apiserver over HTTP: does the server still accept a
publicly known default credential pair? The pairs are never shown."""

import socket

import pytest
from django.urls import reverse

from console.security import catalog
from console.security.live_check import check_default_credentials

pytestmark = pytest.mark.django_db

PAIRS = {p.id: p for p in catalog.known_pairs()}
ALL_VALUES = [v for p in PAIRS.values() for v in (p.key, p.secret)]


def statuses(check):
    return {r.id: r.status for r in check.results}


def point_at(settings, server):
    settings.CLEARML_API_URL = server.url
    settings.CLEARML_API_KEY = server.key
    settings.CLEARML_API_SECRET = server.secret


def test_a_server_with_its_own_credentials_refuses_every_default_pair(sandbox_settings, sandbox):
    check = check_default_credentials(refresh=True)
    assert (
        set(statuses(check))
        == set(PAIRS)
        == {
            "server-tests",
            "server-webserver",
            "server-apiserver",
            "server-fileserver",
            "chart-apiserver",
            "chart-fileserver",
            "chart-tests",
        }
    )
    assert set(statuses(check).values()) == {"refused"}
    assert check.verdict == "ok"
    assert sandbox.calls.count("auth.login") == len(PAIRS)


@pytest.mark.parametrize("pair_id", ["server-tests", "server-webserver", "chart-apiserver"])
def test_a_server_that_accepts_a_default_pair_is_reported(settings, make_sandbox, pair_id):
    pair = PAIRS[pair_id]
    server = make_sandbox(key=pair.key, secret=pair.secret)
    point_at(settings, server)
    check = check_default_credentials(refresh=True)
    assert statuses(check)[pair_id] == "accepted"
    assert [r.id for r in check.accepted] == [pair_id]
    assert check.verdict == "bad"


def test_the_pairs_never_appear_in_the_page_or_the_dashboard(settings, make_sandbox, admin_client):
    pair = PAIRS["server-tests"]
    point_at(settings, make_sandbox(key=pair.key, secret=pair.secret))
    fragment = admin_client.get(reverse("security_live_check"), {"refresh": "1"}).content.decode()
    assert "accepts 1 publicly known credential pair" in fragment
    assert "clearml-server default tests user (secure.conf)" in fragment
    assert '<span class="badge badge-bad">accepted</span>' in fragment
    compact = admin_client.get(reverse("security_live_check"), {"compact": "1"}).content.decode()
    for html in (fragment, compact):
        for value in ALL_VALUES:
            assert value not in html


def test_the_dashboard_asks_for_the_check_once_loaded(admin_client):
    html = admin_client.get(reverse("dashboard")).content.decode()
    url = reverse("security_live_check")
    assert f'hx-get="{url}?compact=1"' in html
    assert 'hx-trigger="load"' in html


def test_an_unreachable_server_is_tried_once_not_per_pair(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CLEARML_API_URL = f"http://127.0.0.1:{port}"
    check = check_default_credentials(refresh=True)
    assert set(statuses(check).values()) == {"unreachable"}
    assert check.verdict == "unknown"


def test_no_apiserver_configured(settings, admin_client):
    settings.CLEARML_API_URL = ""
    check = check_default_credentials(refresh=True)
    assert not check.configured and check.results == []
    html = admin_client.get(reverse("security_live_check")).content.decode()
    assert "CLEARML_API_URL is not set" in html


def test_a_server_error_is_not_taken_for_a_refusal(sandbox_settings, sandbox):
    sandbox.fail_next("auth.login", status=500)
    check = check_default_credentials(refresh=True)
    first = check.results[0]
    assert first.status == "error" and "HTTP 500" in first.detail
    assert check.verdict == "unknown"


def test_results_are_kept_five_minutes_and_check_again_asks_now(sandbox_settings, sandbox):
    check_default_credentials(refresh=True)
    calls = len(sandbox.calls)
    again = check_default_credentials()
    assert again.cached and len(sandbox.calls) == calls
    check_default_credentials(refresh=True)
    assert len(sandbox.calls) == calls + len(PAIRS)
