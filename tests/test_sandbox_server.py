"""The sandbox as a server: state file, latency, concurrency, injected failures, the control
calls, and `manage.py sandbox_apiserver` as a process."""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from console.apiserver import (
    ApiCannotConnect,
    ApiClient,
    ApiForbidden,
    ApiServerError,
    ApiTimeout,
    ApiUnauthorized,
)
from console.apiserver.errors import ApiBadResponse
from sandbox import SandboxError, SandboxServer, fingerprint

ROOT = Path(__file__).resolve().parents[1]


def post(server, endpoint, body=None, auth=None, **kwargs):
    return requests.post(
        f"{server.url}/{endpoint}",
        json=body or {},
        timeout=10,
        auth=auth or (server.key, server.secret),
        **kwargs,
    )


def client(server, **kwargs) -> ApiClient:
    return ApiClient(url=server.url, key=server.key, secret=server.secret, timeout=5, **kwargs)


# state file
def test_the_state_file_keeps_everything_across_a_restart(make_sandbox, tmp_path):
    path = tmp_path / "var" / "sandbox-state.json"
    first = make_sandbox(state_file=path)
    company = post(
        first, "system.create_company", {"name": "Acme", "defaults": {"allowed_users": 5}}
    ).json()["data"]["id"]
    user = post(
        first,
        "auth.create_user",
        {"name": "Alice", "company": company, "email": "alice@acme.io", "role": "admin"},
    ).json()["data"]["id"]
    act_as = {"X-Clearml-Act-As": user}
    creds = post(
        first, "auth.create_credentials", headers={"X-Clearml-Impersonate-As": user}
    ).json()["data"]["credentials"]
    post(first, "login.set_domains", {"domains": ["acme.io"]}, headers=act_as)
    post(
        first,
        "login.add_whitelist_entries",
        {"emails": ["bob@gmail.com"], "is_admin": True},
        headers=act_as,
    )
    post(
        first,
        "system.update_company_sso_config",
        {"company": company, "sso": {"tenant": "acme-ext"}},
    )
    post(
        first,
        "sso.save_provider_configuration",
        {
            "provider": "keycloak",
            "company": company,
            "configuration": {"id": "kc", "client_secret": "idp-secret-value"},
        },
    )
    first.close()

    text = path.read_text()
    for secret in (creds["secret_key"], first.secret, "idp-secret-value"):
        assert secret not in text
    assert fingerprint(creds["secret_key"]) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    second = make_sandbox(state_file=path)  # a new platform key, as `make run` makes
    assert second.company(company)["defaults"] == {"allowed_users": 5}
    assert second.login_settings(company) == {
        "domains": ["acme.io"],
        "whitelist": [{"email": "bob@gmail.com", "is_admin": True}],
    }
    assert second.sso_config(company)["tenant"] == "acme-ext"
    assert second.providers(company)[0]["configuration"]["client_secret"] == fingerprint(
        "idp-secret-value"
    )
    # The tenant admin's key still works; the old platform key was for that run only.
    me = post(second, "users.get_current_user", auth=(creds["access_key"], creds["secret_key"]))
    assert me.json()["data"]["user"]["id"] == user
    assert post(second, "server.info", auth=(first.key, first.secret)).status_code == 200
    assert post(second, "system.get_companies", auth=(first.key, first.secret)).status_code == 401
    # Still one external tenant per company after the reload.
    other = post(second, "system.create_company", {"name": "Globex"}).json()["data"]["id"]
    refused = post(
        second,
        "system.update_company_sso_config",
        {"company": other, "sso": {"tenant": "acme-ext"}},
    )
    assert refused.status_code == 400


def test_changes_reach_the_state_file_while_running(make_sandbox, tmp_path):
    path = tmp_path / "state.json"
    server = make_sandbox(state_file=path)
    post(server, "system.create_company", {"name": "Acme"})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if path.exists() and "Acme" in path.read_text():
            break
        time.sleep(0.05)
    assert "Acme" in path.read_text()


@pytest.mark.parametrize("content", ["{not json", '{"format": 99}', '{"format": 1}', "[]"])
def test_a_broken_state_file_stops_the_start_with_its_name(tmp_path, content):
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(SandboxError, match="state.json"):
        SandboxServer(state_file=path)
    assert path.read_text() == content  # left alone


# latency and concurrency
def test_latency_ms_delays_every_call(make_sandbox):
    server = make_sandbox(latency_ms=150)
    started = time.monotonic()
    assert post(server, "server.info").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_slow_calls_are_served_side_by_side(make_sandbox):
    server = make_sandbox(latency_ms=200)

    def create(index):
        return post(server, "system.create_company", {"name": f"Tenant {index}"}).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=100) as pool:
        statuses = list(pool.map(create, range(200)))
    elapsed = time.monotonic() - started
    assert statuses == [200] * 200
    assert len({c["id"] for c in server.companies()}) == 200
    assert elapsed < 3, f"200 calls of 200 ms took {elapsed:.1f}s: not concurrent"


# injected failures
def test_an_injected_status_fails_the_call_without_executing_it(sandbox):
    sandbox.fail_next("system.create_company", status=503, times=2)
    for _ in range(2):
        answer = post(sandbox, "system.create_company", {"name": "Acme"})
        assert answer.status_code == 503
        assert answer.json()["meta"]["result_msg"] == "injected failure (sandbox)"
    assert sandbox.companies() == []
    assert post(sandbox, "system.create_company", {"name": "Acme"}).status_code == 200
    assert sandbox.calls == ["system.create_company"] * 3


def test_a_failure_for_any_endpoint_hits_the_next_call(sandbox):
    sandbox.fail_next("*", status=500)
    assert post(sandbox, "login.get_settings").status_code == 500
    assert post(sandbox, "login.get_settings").status_code == 200


def test_a_dropped_answer_executes_the_call_but_the_client_sees_no_answer(sandbox):
    sandbox.fail_next("system.create_company", drop_answer=True)
    api = client(sandbox)
    with pytest.raises(ApiCannotConnect) as failure:
        api.call("system.create_company", {"name": "Acme"})
    assert failure.value.outcome_unknown
    assert [c["name"] for c in sandbox.companies()] == ["Acme"]
    # The next call on the same client works again.
    assert api.call("system.create_company", {"name": "Globex"})["id"]


def test_a_delayed_answer_runs_into_the_clients_timeout(sandbox):
    sandbox.fail_next("system.create_company", status=200, delay_ms=1500)
    api = client(sandbox)
    api.timeout = 0.5
    with pytest.raises(ApiTimeout):
        api.call("system.create_company", {"name": "Acme"})
    assert [c["name"] for c in sandbox.companies()] == ["Acme"]


def test_a_read_call_is_retried_by_the_client_after_an_injected_500(sandbox):
    sandbox.fail_next("system.get_companies", status=500)
    api = client(sandbox)
    assert len(api.call("system.get_companies")["companies"]) == 1
    assert sandbox.calls == ["system.get_companies", "system.get_companies"]


def test_a_raw_page_instead_of_the_envelope_is_a_malformed_answer(sandbox):
    sandbox.fail_next("server.info", status=200, raw="<html>ClearML web app</html>")
    with pytest.raises(ApiBadResponse):
        client(sandbox, retries=0).call("server.info")
    sandbox.fail_next("system.create_company", status=502, raw="<html>Bad gateway</html>")
    with pytest.raises(ApiServerError):
        client(sandbox).call("system.create_company", {"name": "Acme"})
    assert sandbox.companies() == []


def test_the_console_client_reads_the_sandboxs_refusals(sandbox):
    company = sandbox.seed_company("Acme")
    user = sandbox.seed_user(company, "alice@acme.io")
    key, secret = sandbox.seed_credentials(user)
    admin = ApiClient(url=sandbox.url, key=key, secret=secret, timeout=5)
    with pytest.raises(ApiForbidden) as forbidden:
        admin.call("system.get_companies")
    assert forbidden.value.result_subcode == 20 and forbidden.value.trx
    with pytest.raises(ApiUnauthorized):
        ApiClient(url=sandbox.url, key=key, secret="wrong", timeout=5).call("auth.get_credentials")
    assert admin.call("login.get_settings") == {"domains": [], "whitelist": []}


def test_reset_empties_the_server_but_keeps_the_platform_key(sandbox):
    sandbox.seed_company("Acme")
    sandbox.latency_ms = 50
    sandbox.unique_company_names = True
    sandbox.fail_next("server.info")
    sandbox.reset()
    assert sandbox.companies() == [] and sandbox.calls == []
    assert (sandbox.latency_ms, sandbox.unique_company_names) == (0, False)
    assert post(sandbox, "server.info").status_code == 200
    assert post(sandbox, "system.get_companies").status_code == 200


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"endpoint": "not an endpoint"}, ValueError),
        ({"endpoint": "a.b", "times": 0}, ValueError),
        ({"endpoint": "a.b", "status": 999}, ValueError),
    ],
)
def test_bad_failure_plans_are_refused(sandbox, arguments, error):
    with pytest.raises(error):
        sandbox.fail_next(**arguments)


# control calls (--control)
def test_control_calls_inject_failures_and_read_the_state_over_http(make_sandbox):
    server = make_sandbox(control=True)
    planned = post(
        server, "sandbox.fail_next", {"endpoint": "system.create_company", "drop_answer": True}
    )
    assert planned.json()["data"]["fault"]["drop_answer"] is True
    with pytest.raises(requests.ConnectionError):
        post(server, "system.create_company", {"name": "Acme"})
    state = post(server, "sandbox.state").json()["data"]
    assert [c["name"] for c in state["companies"]] == ["clearml", "Acme"]
    calls = post(server, "sandbox.calls").json()["data"]["calls"]
    assert [c["endpoint"] for c in calls] == ["system.create_company"]
    configured = post(server, "sandbox.configure", {"latency_ms": 5, "unique_company_names": True})
    assert configured.json()["data"] == {"latency_ms": 5, "unique_company_names": True}
    assert post(server, "system.create_company", {"name": "ACME"}).status_code == 400
    assert post(server, "sandbox.reset").status_code == 200
    assert server.companies() == []
    bad = post(server, "sandbox.fail_next", {"endpoint": "x.y", "times": 0})
    assert bad.status_code == 400


def test_control_calls_need_the_flag_and_the_platform_key(make_sandbox, sandbox):
    assert post(sandbox, "sandbox.reset").status_code == 404
    server = make_sandbox(control=True)
    company = server.seed_company("Acme")
    creds = server.seed_credentials(server.seed_user(company, "alice@acme.io"))
    assert post(server, "sandbox.reset", auth=creds).status_code == 403
    assert post(server, "sandbox.reset", auth=("x", "y")).status_code == 401
    assert server.company(company) is not None


# the command
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_command(*args, env=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "sandbox_apiserver", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the sandbox exited: {process.communicate()}")
        try:
            requests.post(f"{url}/server.info", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("the sandbox did not start")


@pytest.fixture
def command():
    started = []

    def run(*args):
        process = start_command(*args)
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_command_serves_and_stops_cleanly(command, tmp_path, stop):
    port = free_port()
    state = tmp_path / "sandbox-state.json"
    process = command(
        "--port",
        str(port),
        "--key",
        "K" * 30,
        "--secret",
        "S" * 50,
        "--state-file",
        str(state),
        "--unique-company-names",
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(url, process)
    info = requests.post(f"{url}/server.info", timeout=5).json()["data"]
    assert info["sandbox"] is True
    made = requests.post(
        f"{url}/system.create_company", json={"name": "Acme"}, auth=("K" * 30, "S" * 50), timeout=5
    )
    assert made.status_code == 200
    again = requests.post(
        f"{url}/system.create_company", json={"name": "acme"}, auth=("K" * 30, "S" * 50), timeout=5
    )
    assert again.status_code == 400  # --unique-company-names
    process.send_signal(stop)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert f"listening on {url}" in out
    assert "S" * 50 not in out  # a given secret is not printed back
    assert "stopped" in out
    assert [c["name"] for c in json.loads(state.read_text())["companies"]] == ["clearml", "Acme"]


def test_the_command_prints_a_generated_key_that_works(command):
    port = free_port()
    process = command("--port", str(port))
    url = f"http://127.0.0.1:{port}"
    wait_for(url, process)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=15)
    lines = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    key = lines["Platform administrator key"].strip()
    secret = lines["Platform administrator secret"].strip()
    assert len(key) == 30 and len(secret) >= 50
    with SandboxServer(key=key, secret=secret) as check:  # the pair is a valid pair
        assert post(check, "system.get_companies").status_code == 200


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--host", "0.0.0.0"], 2, "not a loopback address"),  # noqa: S104
        (["--host", "example.com"], 2, "not a loopback address"),
        (["--key", "K" * 30], 2, "--key and --secret go together"),
        (["--latency-ms", "-5"], 2, "--latency-ms"),
    ],
)
def test_the_command_refuses_bad_options(args, code, message):
    done = subprocess.run(
        [sys.executable, "manage.py", "sandbox_apiserver", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_the_command_says_when_the_port_is_taken_or_the_state_file_is_broken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "manage.py", "sandbox_apiserver", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    broken = tmp_path / "state.json"
    broken.write_text("{")
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "sandbox_apiserver",
            "--port",
            "0",
            "--state-file",
            str(broken),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "cannot read the state file" in done.stderr and "Traceback" not in done.stderr


def test_the_sandbox_runs_without_django(tmp_path):
    """`python -m sandbox` works in a Python that has no Django settings."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import sys, sandbox.cli, threading, signal, os\n"
        "assert 'django' not in sys.modules\n"
        "threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()\n"
        f"sys.exit(sandbox.cli.main(['--port', '{port}']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "stopped" in done.stdout
