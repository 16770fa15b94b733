"""The apiserver client over loopback HTTP: envelope, typed errors, retries, no secret leaks."""

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from console.apiserver import (
    ApiBadRequest,
    ApiCannotConnect,
    ApiClient,
    ApiForbidden,
    ApiNotFound,
    ApiServerError,
    ApiTimeout,
    ApiUnauthorized,
)
from console.apiserver.errors import ApiBadResponse

SECRET = "s3cr3t-value-that-must-never-leak-0123456789"


class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next scripted behaviour for its endpoint."""

    script: dict[str, list] = {}
    received: list[tuple[str, dict, dict]] = []

    def do_POST(self):
        endpoint = self.path.lstrip("/")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((endpoint, json.loads(body or b"{}"), dict(self.headers)))
        steps = self.script.get(endpoint) or [("ok", {})]
        kind, payload = steps.pop(0) if len(steps) > 1 else steps[0]
        payload = dict(payload) if isinstance(payload, dict) else payload
        if kind == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind == "sleep":
            time.sleep(payload)
            kind, payload = "ok", {}
        if kind == "raw":
            status, text = payload
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(text.encode())
            return
        if kind == "cookie":
            kind = "ok"
            cookie = True
        else:
            cookie = False
        status = 200 if kind == "ok" else payload.pop("status")
        meta = {
            "id": "1",
            "trx": "trx-123",
            "endpoint": {"name": endpoint},
            "result_code": status,
            "result_subcode": payload.pop("subcode", 0) if kind != "ok" else 0,
            "result_msg": payload.pop("msg", "OK") if kind != "ok" else "OK",
        }
        data = payload if kind == "ok" else {}
        out = json.dumps({"meta": meta, "data": data}).encode()
        self.send_response(status)
        if cookie:
            self.send_header("Set-Cookie", "lb=node-2; Path=/")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Scripted.script = {}
    Scripted.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def client(server):
    calls = []
    api = ApiClient(
        url=f"http://127.0.0.1:{server.server_port}/",
        key="KEY123",
        secret=SECRET,
        timeout=1.0,
        on_call=calls.append,
    )
    api.recorded = calls
    return api


def test_it_posts_json_with_basic_auth_and_returns_the_data(client):
    Scripted.script["system.get_companies"] = [("ok", {"companies": [{"id": "c1"}]})]
    data = client.call("system.get_companies", {"only_fields": ["id"]})
    assert data == {"companies": [{"id": "c1"}]}
    endpoint, body, headers = Scripted.received[0]
    assert endpoint == "system.get_companies"
    assert body == {"only_fields": ["id"]}
    assert headers["Authorization"].startswith("Basic ")
    assert client.recorded[0].trx == "trx-123"
    assert client.recorded[0].status == 200


def test_the_thread_session_sends_what_a_plain_session_post_sends(server):
    """The client sends over thread_session without Session.post's per-call merging; the server
    must see the same request as through Session.post (a plain session, which merges)."""
    from console.apiserver.session import thread_session

    url = f"http://127.0.0.1:{server.server_port}"
    for session in (thread_session(), requests.Session()):
        api = ApiClient(url=url, key="KEY123", secret=SECRET, timeout=1.0, session=session)
        api.call("login.set_domains", {"domains": ["a.example"]}, act_as="u-1")
    (_, fast_body, fast), (_, plain_body, plain) = Scripted.received
    assert fast_body == plain_body == {"domains": ["a.example"]}
    assert fast == plain


def test_a_cookie_the_apiserver_sets_is_sent_back(server):
    session = requests.Session()
    session.trust_env = False  # as thread_session's: the client prepares requests itself
    url = f"http://127.0.0.1:{server.server_port}"
    client = ApiClient(url=url, key="KEY123", secret=SECRET, timeout=1.0, session=session)
    Scripted.script["server.info"] = [("cookie", {})]
    client.call("server.info")
    client.call("server.info")
    assert "Cookie" not in Scripted.received[0][2]
    assert Scripted.received[1][2]["Cookie"] == "lb=node-2"


def test_act_as_and_impersonate_as_become_headers(client):
    client.call("login.set_domains", {"domains": []}, act_as="u-1")
    client.call("auth.create_credentials", {}, impersonate_as="u-2")
    assert Scripted.received[0][2]["X-Clearml-Act-As"] == "u-1"
    assert Scripted.received[1][2]["X-Clearml-Impersonate-As"] == "u-2"
    with pytest.raises(ValueError, match="together"):
        client.call("x.y", act_as="a", impersonate_as="b")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, ApiBadRequest),
        (401, ApiUnauthorized),
        (403, ApiForbidden),
        (404, ApiNotFound),
        (500, ApiServerError),
    ],
)
def test_failures_become_typed_errors_with_the_servers_details(client, status, error):
    Scripted.script["auth.create_user"] = [
        ("fail", {"status": status, "subcode": 7, "msg": "the server says no"})
    ]
    with pytest.raises(error) as caught:
        client.call("auth.create_user", {"email": "a@b.io"})
    exc = caught.value
    assert (exc.endpoint, exc.status, exc.result_code, exc.result_subcode) == (
        "auth.create_user",
        status,
        status,
        7,
    )
    assert exc.result_msg == "the server says no"
    assert exc.trx == "trx-123"
    assert "the server says no" in str(exc)


def test_a_changing_call_is_never_retried(client):
    Scripted.script["system.create_company"] = [("fail", {"status": 500, "msg": "boom"})]
    with pytest.raises(ApiServerError) as caught:
        client.call("system.create_company", {"name": "x"})
    assert caught.value.outcome_unknown
    assert [r[0] for r in Scripted.received] == ["system.create_company"]


def test_a_read_call_is_retried_with_backoff_until_it_succeeds(client, monkeypatch):
    import console.apiserver.client as module

    monkeypatch.setattr(module, "BACKOFF_BASE", 0.01)
    Scripted.script["users.get_all"] = [
        ("fail", {"status": 500, "msg": "busy"}),
        ("drop", None),
        ("ok", {"users": []}),
    ]
    assert client.call("users.get_all", {}) == {"users": []}
    assert [r[0] for r in Scripted.received] == ["users.get_all"] * 3


def test_a_timeout_is_a_typed_error_whose_outcome_is_unknown(client):
    Scripted.script["system.create_company"] = [("sleep", 2.0)]
    with pytest.raises(ApiTimeout) as caught:
        client.call("system.create_company", {"name": "slow"})
    assert caught.value.outcome_unknown
    assert "no answer within 1s" in str(caught.value)


def test_a_dropped_connection_after_sending_is_an_unknown_outcome(client):
    Scripted.script["auth.create_user"] = [("drop", None)]
    with pytest.raises(ApiCannotConnect) as caught:
        client.call("auth.create_user", {"email": "x@y.io"})
    assert caught.value.outcome_unknown


def test_nothing_listening_is_cannot_connect_and_nothing_was_sent():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    api = ApiClient(url=f"http://127.0.0.1:{port}", key="k", secret=SECRET, retries=0)
    with pytest.raises(ApiCannotConnect) as caught:
        api.call("system.create_company", {"name": "x"})
    assert caught.value.result_msg == "connection refused"
    assert not caught.value.outcome_unknown


def test_an_answer_that_is_not_json_is_a_malformed_response(client):
    Scripted.script["server.info"] = [("raw", (200, "<html>the web app</html>"))]
    with pytest.raises(ApiBadResponse) as caught:
        client.call("server.info", {}, read=False)
    assert "not JSON" in str(caught.value)


def test_the_secret_never_appears_in_errors_reprs_or_logs(client, caplog, monkeypatch):
    import console.apiserver.client as module

    monkeypatch.setattr(module, "BACKOFF_BASE", 0.0)
    caplog.set_level(logging.DEBUG)
    Scripted.script["users.get_all"] = [("fail", {"status": 500, "msg": "busy"})]
    with pytest.raises(ApiServerError) as caught:
        client.call("users.get_all", {})
    texts = [repr(client), str(caught.value), repr(caught.value), caplog.text]
    texts += [repr(record) for record in client.recorded]
    for text in texts:
        assert SECRET not in text
