"""'Fill from discovery' against a real local HTTP server serving OpenID configuration documents."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sso.providers.discovery import MAX_BYTES, DiscoveryError, fetch_discovery


class IdP:
    """A tiny HTTP server: `routes[path] = (status, headers, body bytes, delay seconds)`."""

    def __init__(self):
        self.routes: dict[str, tuple] = {}
        self.hits: list[str] = []
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                idp.hits.append(self.path)
                status, headers, body, delay = idp.routes.get(self.path, (404, {}, b"not found", 0))
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def document(self, issuer_path: str, **overrides):
        issuer = self.url + issuer_path
        doc = {
            "issuer": issuer,
            "authorization_endpoint": issuer + "/protocol/openid-connect/auth",
            "token_endpoint": issuer + "/protocol/openid-connect/token",
            "userinfo_endpoint": issuer + "/protocol/openid-connect/userinfo",
            "revocation_endpoint": issuer + "/protocol/openid-connect/revoke",
            "end_session_endpoint": issuer + "/protocol/openid-connect/logout",
            "jwks_uri": issuer + "/protocol/openid-connect/certs",
        }
        doc.update(overrides)
        self.serve(issuer_path + "/.well-known/openid-configuration", json.dumps(doc).encode())
        return issuer

    def serve(self, path, body: bytes, status=200, headers=None, delay=0):
        headers = headers or {"Content-Type": "application/json"}
        self.routes[path] = (status, headers, body, delay)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def idp():
    server = IdP()
    yield server
    server.close()


def test_it_reads_the_endpoints_of_a_keycloak_realm(idp):
    issuer = idp.document("/realms/acme")
    found = fetch_discovery(issuer, allow_http=True)
    assert found.issuer == issuer
    assert found.endpoints["authorization_endpoint"] == issuer + "/protocol/openid-connect/auth"
    assert found.endpoints["token_endpoint"] == issuer + "/protocol/openid-connect/token"
    assert found.endpoints["end_session_endpoint"].endswith("/logout")
    assert found.warnings == []
    assert idp.hits == ["/realms/acme/.well-known/openid-configuration"]


def test_the_well_known_url_itself_and_a_trailing_slash_work(idp):
    issuer = idp.document("/realms/acme")
    assert fetch_discovery(issuer + "/", allow_http=True).issuer == issuer
    url = issuer + "/.well-known/openid-configuration"
    assert fetch_discovery(url, allow_http=True).issuer == issuer


def test_http_is_refused_without_allow_http(idp):
    issuer = idp.document("/realms/acme")
    with pytest.raises(DiscoveryError, match="uses http://"):
        fetch_discovery(issuer)
    assert idp.hits == []


def test_a_missing_document_says_which_url_answered_what(idp):
    with pytest.raises(DiscoveryError) as info:
        fetch_discovery(idp.url + "/realms/nope", allow_http=True)
    assert "/realms/nope/.well-known/openid-configuration answered HTTP 404" in str(info.value)


@pytest.mark.parametrize(
    "body,reason",
    [
        (b"<html>login</html>", "did not return JSON"),
        (b"[1, 2]", "is not a JSON object"),
        (b'{"issuer": "x"}', "not an OpenID configuration (no authorization_endpoint, token"),
        (b"\xff\xfe", "did not return JSON"),
    ],
)
def test_a_document_that_is_not_an_openid_configuration_is_refused(idp, body, reason):
    idp.serve("/r/.well-known/openid-configuration", body)
    with pytest.raises(DiscoveryError) as info:
        fetch_discovery(idp.url + "/r", allow_http=True)
    assert reason in str(info.value)


def test_an_endpoint_that_is_not_an_acceptable_url_is_refused(idp):
    issuer = idp.document("/r", token_endpoint="not a url")
    with pytest.raises(DiscoveryError, match="token_endpoint"):
        fetch_discovery(issuer, allow_http=True)


def test_an_http_endpoint_in_an_https_document_is_refused():
    from sso.providers.discovery import parse_discovery

    body = json.dumps(
        {
            "issuer": "https://idp.example",
            "authorization_endpoint": "http://idp.example/auth",
            "token_endpoint": "https://idp.example/token",
        }
    ).encode()
    with pytest.raises(DiscoveryError) as info:
        parse_discovery(body, url="u", issuer="https://idp.example", allow_http=False)
    assert "authorization_endpoint: The URL 'http://idp.example/auth' uses http://" in str(
        info.value
    )


def test_an_oversized_document_is_refused(idp):
    idp.serve("/big/.well-known/openid-configuration", b" " * (MAX_BYTES + 1))
    with pytest.raises(DiscoveryError, match="over the"):
        fetch_discovery(idp.url + "/big", allow_http=True)


def test_a_slow_server_times_out(idp):
    idp.document("/slow")
    path = "/slow/.well-known/openid-configuration"
    status, headers, body, _ = idp.routes[path]
    idp.routes[path] = (status, headers, body, 2)
    started = time.monotonic()
    with pytest.raises(DiscoveryError, match="no answer within"):
        fetch_discovery(idp.url + "/slow", allow_http=True, timeout=(1, 0.5))
    assert time.monotonic() - started < 2


def test_nothing_listening_is_a_clear_error():
    with pytest.raises(DiscoveryError, match="cannot connect"):
        fetch_discovery("http://127.0.0.1:9/realms/x", allow_http=True)


def test_redirects_are_followed_only_to_acceptable_urls(idp):
    issuer = idp.document("/realms/new")
    idp.serve(
        "/realms/old/.well-known/openid-configuration",
        b"",
        status=301,
        headers={"Location": "/realms/new/.well-known/openid-configuration"},
    )
    found = fetch_discovery(idp.url + "/realms/old", allow_http=True)
    assert found.endpoints["token_endpoint"].startswith(issuer)
    # The issuer differs from the one typed: shown as a warning, not hidden.
    assert "not " + idp.url + "/realms/old" in found.warnings[0]
    idp.serve(
        "/realms/evil/.well-known/openid-configuration",
        b"",
        status=302,
        headers={"Location": "file:///etc/passwd"},
    )
    with pytest.raises(DiscoveryError, match="redirects to file:///etc/passwd"):
        fetch_discovery(idp.url + "/realms/evil", allow_http=True)


def test_a_redirect_loop_stops(idp):
    idp.serve(
        "/loop/.well-known/openid-configuration",
        b"",
        status=302,
        headers={"Location": "/loop/.well-known/openid-configuration"},
    )
    with pytest.raises(DiscoveryError, match="more than 3 redirects"):
        fetch_discovery(idp.url + "/loop", allow_http=True)


@pytest.mark.parametrize("issuer", ["", "not a url", "ftp://x.example", "https://"])
def test_a_bad_issuer_is_refused_before_any_request(issuer):
    with pytest.raises(DiscoveryError, match="The issuer URL"):
        fetch_discovery(issuer)


# ---- the 'Fill from discovery' button of the provider form -----------------------------------


@pytest.mark.django_db
def test_the_form_fills_the_endpoints_without_saving(admin_client, idp):
    from sso.providers.models import IdentityProvider

    issuer = idp.document("/realms/acme")
    response = admin_client.post(
        "/sso/providers/new/keycloak/",
        {"action": "discover", "issuer": issuer, "allow_http": "on", "client_id": "clearml"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'value="{issuer}/protocol/openid-connect/auth"' in html
    assert f'value="{issuer}/protocol/openid-connect/token"' in html
    assert f'value="{issuer}/"' in html  # the empty base URL is filled too
    assert 'value="clearml"' in html  # what the admin typed is kept
    assert "Review them, then save" in html
    assert not IdentityProvider.objects.exists()


@pytest.mark.django_db
def test_the_form_shows_why_discovery_failed(admin_client, idp):
    response = admin_client.post(
        "/sso/providers/new/okta/",
        {"action": "discover", "issuer": idp.url + "/oauth2/default", "allow_http": "on"},
    )
    html = response.content.decode()
    assert "Discovery failed:" in html and "answered HTTP 404" in html
    response = admin_client.post(
        "/sso/providers/new/okta/", {"action": "discover", "issuer": idp.url + "/oauth2/default"}
    )
    assert "uses http://" in response.content.decode()
