"""The sandbox apiserver's protocol, independent of sockets: one request in, one answer out.

Order of checks as in clearml-server's service_repo: endpoint, credentials, role, Act-As /
Impersonate-As, role again for the identity acted as, then the request fields.
"""

import base64
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from . import endpoints_apps, endpoints_fleet, endpoints_metering, errors  # noqa: F401
from .endpoints import ADMIN_ROLES, API_VERSION, REGISTRY, SYSTEM_ROLES, Call
from .errors import Fault
from .state import ROOT_USER_ID, State, new_access_key, new_id, new_secret_key, now, secret_matches

log = logging.getLogger("sandbox")

PATH_RE = re.compile(r"^/?(?:v(?P<version>\d+\.?\d*)/)?(?P<name>[a-zA-Z_]\w*\.[a-zA-Z_]\w*)/?$")
CONTROL_PREFIX = "sandbox."
HEADER_PREFIXES = ("x-clearml-", "x-trains-")
AUTOSAVE_SECONDS = 0.25
MAX_RECORDED_CALLS = 10_000


class SandboxError(Exception):
    """The sandbox cannot start (for example: an unreadable state file)."""


@dataclass
class Reply:
    status: int
    body: bytes | None  # None: close the connection without answering
    content_type: str = "application/json"


@dataclass
class FaultPlan:
    """An injected failure for the next `times` calls of `endpoint` ("*": any endpoint).

    status >= 400, or raw given: the call is not executed and answers with that status.
    drop_answer: the call is executed, then the connection is closed without an answer.
    delay_ms: wait this long before answering (with status < 400: executed, just slow).
    raw: answer this text (as text/html) instead of a JSON envelope, e.g. a proxy's error page.
    """

    endpoint: str
    status: int = 500
    drop_answer: bool = False
    times: int = 1
    delay_ms: int = 0
    raw: str | None = None
    message: str = "injected failure (sandbox)"


@dataclass
class Meta:
    id: str
    trx: str
    endpoint: str
    version: str


class SandboxApp:
    def __init__(
        self,
        *,
        key: str | None = None,
        secret: str | None = None,
        latency_ms: int = 0,
        unique_company_names: bool = False,
        control: bool = False,
        state_file: str | os.PathLike | None = None,
        on_call: Callable[[dict], None] | None = None,
    ) -> None:
        if bool(key) != bool(secret):
            raise SandboxError("give both a key and a secret, or neither")
        self.lock = threading.RLock()
        self._log_lock = threading.Lock()
        self.key = key or new_access_key()
        self.secret = secret or new_secret_key()
        self.generated_credentials = not key
        self.uid = new_id()
        self.control = control
        self.on_call = on_call
        self._initial_options = (max(0, int(latency_ms)), bool(unique_company_names))
        self.latency_ms, self.unique_company_names = self._initial_options
        self.faults: list[FaultPlan] = []
        # The most recent calls (a long `make run` session must not grow without end).
        self.requests: deque[dict] = deque(maxlen=MAX_RECORDED_CALLS)
        self.state = State()
        self.state.add_credentials(ROOT_USER_ID, key=self.key, secret=self.secret, runtime=True)
        self.state_file = Path(state_file) if state_file else None
        self._dirty = False
        self._saver: threading.Thread | None = None
        self._stop = threading.Event()
        if self.state_file and self.state_file.exists():
            try:
                self.state.load_json(self.state_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise SandboxError(f"cannot read the state file {self.state_file}: {exc}") from None

    # the protocol
    def handle(
        self,
        method: str,
        raw_path: str,
        headers: Mapping[str, str],
        body: bytes,
        remote_addr: str = "127.0.0.1",
    ) -> Reply:
        """`headers` keys are lower-case."""
        call_id = new_id()
        trx = _header(headers, "trx") or call_id
        path, _, query = raw_path.partition("?")
        if path.startswith(endpoints_metering.PREFIX):  # not the apiserver: docs/sandbox.md
            return Reply(*endpoints_metering.reply(self, method, path, headers, body))
        match = PATH_RE.match(path)
        if not match:
            meta = Meta(call_id, trx, path.strip("/"), API_VERSION)
            return self._failure(meta, errors.malformed_path(path))
        meta = Meta(call_id, trx, match["name"], match["version"] or API_VERSION)
        if self.control and meta.endpoint.startswith(CONTROL_PREFIX):
            return self._control(meta, method, query, headers, body, remote_addr)
        record = {
            "endpoint": meta.endpoint,
            "method": method,
            "time": now(),
            "status": None,
            "act_as": _header(headers, "act-as"),
            "impersonate_as": _header(headers, "impersonate-as"),
            "body": None,
            "duration_ms": None,
        }  # every key set now: readers copy records while handler threads fill them in
        with self._log_lock:
            self.requests.append(record)
        started = time.monotonic()
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        plan = self._take_fault(meta.endpoint)
        if plan and (plan.status >= 400 or plan.raw is not None) and not plan.drop_answer:
            time.sleep(plan.delay_ms / 1000)
            record["status"] = plan.status
            if plan.raw is not None:
                reply = Reply(plan.status, plan.raw.encode(), "text/html; charset=utf-8")
            else:
                reply = self._failure(meta, Fault(plan.status, 0, plan.message))
        else:
            reply = self._process(meta, method, query, headers, body, remote_addr, record)
            if plan:
                time.sleep(plan.delay_ms / 1000)
                if plan.drop_answer:
                    reply = Reply(reply.status, None)
        record["duration_ms"] = int((time.monotonic() - started) * 1000)
        if self.on_call:
            self.on_call(record)
        return reply

    def _process(self, meta, method, query, headers, body, remote_addr, record) -> Reply:
        endpoint = REGISTRY.get(meta.endpoint)
        try:
            if endpoint is None:
                raise errors.unknown_endpoint(meta.endpoint, meta.version)
            data = _parse_body(body, query)
            record["body"] = data
            with self.lock:
                call = self._authorize(endpoint, meta.endpoint, headers, remote_addr)
                result = endpoint.func(call, data)
                if endpoint.changes:
                    self._dirty = True
                record["status"] = 200
                return Reply(200, self._envelope(meta, 200, 0, "OK", result))
        except Fault as fault:
            record["status"] = fault.code
            return self._failure(meta, fault)
        except Exception as exc:  # a sandbox bug: answer like the server does, keep serving
            log.exception("sandbox: %s failed", meta.endpoint)
            record["status"] = 500
            return self._failure(meta, Fault(500, 0, "general server error", type(exc).__name__))

    def _authorize(self, endpoint, name, headers, remote_addr) -> Call:
        options = {"unique_company_names": self.unique_company_names, "uid": self.uid}
        if not endpoint.authorize:
            return Call(self.state, name, {}, {}, "", "", options=options)
        caller, role, company, key = self._identify(headers, remote_addr)
        _check_role(endpoint, role)
        call = Call(self.state, name, caller, caller, role, company, key, options)
        act_as = _header(headers, "act-as")
        impersonate_as = _header(headers, "impersonate-as")
        if not act_as and not impersonate_as:
            return call
        if act_as and impersonate_as:
            present = [h for h in headers if h.endswith(("-act-as", "-impersonate-as"))]
            raise errors.invalid_headers("only one allowed", headers=sorted(present))
        if role not in ADMIN_ROLES:
            raise errors.impersonation_error("impersonation not allowed", role=role)
        target_id = act_as or impersonate_as
        target = self.state.users.get(target_id)
        # The platform administrator may act in any company; a tenant admin only in its own.
        if target is None or (role not in SYSTEM_ROLES and target["company"] != company):
            raise errors.impersonation_error("unknown user", id=target_id)
        call.user = target
        call.company = target["company"]
        if impersonate_as:
            call.role = target["role"]
            _check_role(endpoint, call.role)
        return call

    def _identify(self, headers, remote_addr) -> tuple[dict, str, str, str]:
        auth = headers.get("authorization", "").strip()
        if not auth:
            raise errors.no_credentials()
        scheme, _, data = auth.partition(" ")
        data = data.strip()
        state = self.state
        if scheme.lower() == "basic":
            try:
                text = base64.b64decode(data, validate=True).decode("latin-1")
            except ValueError:
                raise errors.bad_credentials("not base64") from None
            key, sep, secret = text.partition(":")
            if not sep:
                raise errors.bad_credentials("expected key:secret")
            record = state.find_credentials(key)
            if record is None or not secret_matches(secret, record["secret"]):
                raise errors.invalid_credentials("failed to locate provided credentials")
            user = state.users.get(record["user"])
            if user is None:
                raise errors.invalid_credentials("invalid user")
            record["last_used"], record["last_used_from"] = now(), remote_addr
            return user, user["role"], user["company"], key
        if scheme.lower() == "bearer":
            token = state.tokens.get(data)
            if token is None or token["expires"] < time.time():
                raise errors.invalid_token("unknown or expired token")
            user = state.users.get(token["user"])
            if user is None or token["company"] not in state.companies:
                raise errors.invalid_token("the token's user no longer exists")
            return user, token["role"], token["company"], ""
        raise errors.bad_auth_type()

    # answers
    def _envelope(
        self, meta: Meta, code: int, subcode: int, msg: str, data, error_data=None
    ) -> bytes:
        return json.dumps(
            {
                "meta": {
                    "id": meta.id,
                    "trx": meta.trx,
                    "endpoint": {
                        "name": meta.endpoint,
                        "requested_version": meta.version,
                        "actual_version": "2.1" if code != 404 else None,
                    },
                    "result_code": code,
                    "result_subcode": subcode,
                    "result_msg": msg,
                    "error_stack": None,
                    "error_data": error_data or {},
                },
                "data": data,
            }
        ).encode()

    def _failure(self, meta: Meta, fault: Fault) -> Reply:
        body = self._envelope(meta, fault.code, fault.subcode, fault.msg, {}, fault.error_data)
        return Reply(fault.code, body)

    # failure injection
    def fail_next(
        self,
        endpoint: str,
        status: int = 500,
        drop_answer: bool = False,
        times: int = 1,
        delay_ms: int = 0,
        raw: str | None = None,
        message: str = "injected failure (sandbox)",
    ) -> FaultPlan:
        if not isinstance(endpoint, str) or not (endpoint == "*" or PATH_RE.match(endpoint)):
            raise ValueError(f"endpoint must be 'service.action' or '*', not {endpoint!r}")
        if int(times) < 1 or int(delay_ms) < 0 or not 100 <= int(status) <= 599:
            raise ValueError("times >= 1, delay_ms >= 0 and an HTTP status are needed")
        plan = FaultPlan(
            endpoint, int(status), bool(drop_answer), int(times), int(delay_ms), raw, message
        )
        with self._log_lock:
            self.faults.append(plan)
        return plan

    def _take_fault(self, endpoint: str) -> FaultPlan | None:
        with self._log_lock:
            for plan in self.faults:
                if plan.endpoint in (endpoint, "*"):
                    plan.times -= 1
                    if plan.times <= 0:
                        self.faults.remove(plan)
                    return plan
        return None

    def reset(self) -> None:
        """Back to an empty server: only the platform company, user and credentials."""
        with self.lock, self._log_lock:
            self.state.clear()
            self.faults.clear()
            self.requests.clear()
            self.latency_ms, self.unique_company_names = self._initial_options
            self._dirty = True

    # the control endpoints (only with --control): the same tools over HTTP
    def _control(self, meta, method, query, headers, body, remote_addr) -> Reply:
        try:
            data = _parse_body(body, query)
            with self.lock:
                _, role, _, _ = self._identify(headers, remote_addr)
            if role not in SYSTEM_ROLES:
                raise errors.role_not_allowed(role, SYSTEM_ROLES)
            result = self._control_call(meta.endpoint, data)
        except Fault as fault:
            return self._failure(meta, fault)
        return Reply(200, self._envelope(meta, 200, 0, "OK", result))

    def _control_call(self, name: str, data: dict) -> dict:
        if name == "sandbox.fail_next":
            allowed = {"endpoint", "status", "drop_answer", "times", "delay_ms", "raw", "message"}
            unknown = sorted(set(data) - allowed)
            if unknown:
                raise errors.invalid_fields(unknown)
            try:
                plan = self.fail_next(**data)
            except (TypeError, ValueError) as exc:
                raise errors.validation_error(str(exc)) from None
            return {"fault": plan.__dict__}
        if name == "sandbox.reset":
            self.reset()
            return {}
        if name == "sandbox.state":
            return self.snapshot()
        if name == "sandbox.calls":
            with self._log_lock:
                return {"calls": [dict(r) for r in self.requests]}
        if name == "sandbox.configure":
            if "latency_ms" in data:
                self.latency_ms = max(0, int(data["latency_ms"]))
            if "unique_company_names" in data:
                self.unique_company_names = bool(data["unique_company_names"])
            return {
                "latency_ms": self.latency_ms,
                "unique_company_names": self.unique_company_names,
            }
        raise errors.unknown_endpoint(name, API_VERSION)

    # state file
    def snapshot(self) -> dict:
        with self.lock:
            return json.loads(self.state.to_json())

    def save(self) -> None:
        """Write the state file now (atomically: a temporary file, then a rename)."""
        if not self.state_file:
            return
        with self.lock:
            text = self.state.to_json()
            self._dirty = False
        directory = self.state_file.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-", suffix=".json", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, self.state_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def start_autosave(self) -> None:
        if not self.state_file or self._saver:
            return
        self._saver = threading.Thread(target=self._autosave, name="sandbox-autosave", daemon=True)
        self._saver.start()

    def _autosave(self) -> None:
        while not self._stop.wait(AUTOSAVE_SECONDS):
            if self._dirty:
                try:
                    self.save()
                except OSError:
                    log.exception("sandbox: cannot write %s", self.state_file)

    def close(self) -> None:
        self._stop.set()
        if self._saver:
            self._saver.join()
            self._saver = None
        if self._dirty:
            self.save()


def _header(headers: Mapping[str, str], name: str) -> str:
    for prefix in HEADER_PREFIXES:
        value = (headers.get(prefix + name) or "").strip()
        if value:
            return value
    return ""


def _check_role(endpoint, role: str) -> None:
    if endpoint.roles is not None and role not in endpoint.roles:
        raise errors.role_not_allowed(role, endpoint.roles)


def _parse_body(body: bytes, query: str) -> dict:
    if body.strip():
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise errors.malformed_body(str(exc)) from None
        if not isinstance(data, dict):
            raise errors.malformed_body("the body must be a JSON object")
        return data
    if query:
        params = parse_qs(query, keep_blank_values=True)
        return {k: v[0] if len(v) == 1 else v for k, v in params.items()}
    return {}
