"""The ClearML server secrets the console knows about, and the public defaults it must not see.

Seeds 000/001 (ClearML docs, “Securing ClearML Server”) list the settings; the public clearml Helm
chart sets several of them from its own `clearml.*` values (templates/clearml-secrets.yaml puts
them in the `clearml-conf` Secret, or in `clearml.existingSecret`). The known default values are in
known_defaults.json next to this file, the one place the project keeps secret values readable.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

KEY_LENGTH = 30
MIN_SECRET_LENGTH = 50
ENV_PREFIXES = ("CLEARML__", "TRAINS__")  # TRAINS__ is the server's legacy prefix


@dataclass(frozen=True)
class SecretSetting:
    """One secret the apiserver reads, e.g. `secure.credentials.apiserver.user_key`."""

    path: str
    kind: str  # "key" | "secret"
    label: str
    chart_key: str = ""  # the chart's `clearml.<chart_key>` value that sets it
    chart_secret_key: str = ""  # the key of that value in the chart's Secret (existingSecret)
    optional: bool = False  # supervisor / platform_management: only when asked for

    @property
    def env_name(self) -> str:
        """The seeds' upper-case spelling, e.g. CLEARML__SECURE__AUTH__TOKEN_SECRET."""
        return "CLEARML__" + self.path.upper().replace(".", "__")

    @property
    def credential(self) -> str:
        """`apiserver` for secure.credentials.apiserver.user_key; "" for the two signing secrets."""
        parts = self.path.split(".")
        return parts[2] if parts[:2] == ["secure", "credentials"] else ""


def _cred(name: str, label: str, chart: str = "", chart_secret: str = "", optional=False):
    return (
        SecretSetting(
            f"secure.credentials.{name}.user_key",
            "key",
            f"{label} key",
            f"{chart}Key" if chart else "",
            f"{chart_secret}_key" if chart_secret else "",
            optional,
        ),
        SecretSetting(
            f"secure.credentials.{name}.user_secret",
            "secret",
            f"{label} secret",
            f"{chart}Secret" if chart else "",
            f"{chart_secret}_secret" if chart_secret else "",
            optional,
        ),
    )


# The ten settings of “Securing ClearML Server”, in the order the docs list them.
SERVER_SECRETS: tuple[SecretSetting, ...] = (
    SecretSetting("secure.http.session_secret.apiserver", "secret", "web session signing secret"),
    SecretSetting(
        "secure.auth.token_secret",
        "secret",
        "token signing secret",
        "secureAuthTokenSecret",
        "secure_auth_token_secret",
    ),
    *_cred("apiserver", "apiserver system credentials", "apiserver", "apiserver"),
    *_cred("fileserver", "fileserver system credentials", "fileserver", "fileserver"),
    *_cred("webserver", "webserver (free-access login) credentials"),
    *_cred("tests", "tests (Default User) credentials", "testUser", "test_user"),
)

# Optional extra credentials: the multi-tenant page's supervisor user and the Platform
# Management Center's credentials (ClearML Enterprise).
SUPERVISOR = _cred("supervisor", "supervisor user credentials", optional=True)
PLATFORM_MANAGEMENT = _cred(
    "platform_management", "Platform Management Center credentials", optional=True
)

# Chart values that hold a secret but set no server setting: the readiness probe's basic auth.
CHART_ONLY_SECRETS: tuple[tuple[str, str], ...] = (
    ("readinessprobeKey", "key"),
    ("readinessprobeSecret", "secret"),
)

# `clearml.<chart key>` -> the setting it feeds (readiness probe: none).
CHART_KEYS: dict[str, SecretSetting | None] = {
    s.chart_key: s for s in SERVER_SECRETS if s.chart_key
} | {name: None for name, _ in CHART_ONLY_SECRETS}
CHART_SECRET_KEYS: dict[str, SecretSetting] = {
    s.chart_secret_key: s for s in SERVER_SECRETS if s.chart_secret_key
}
BY_PATH: dict[str, SecretSetting] = {
    s.path: s for s in (*SERVER_SECRETS, *SUPERVISOR, *PLATFORM_MANAGEMENT)
}

_CRED_PATH = re.compile(r"^secure\.credentials\.([a-z0-9_]+)\.(user_key|user_secret)$")
_SESSION_PATH = re.compile(r"^secure\.http\.session_secret\.[a-z0-9_]+$")


def setting_path(env_name: str) -> str | None:
    """The config path an apiserver variable sets, or None for a variable that is not one.

    The server splits the part after the prefix on `__`, joins with `.` and lower-cases it
    (HOCON, docs/snippets.md), so both spellings of a name give the same path.
    """
    name = env_name.strip()
    upper = name.upper()
    for prefix in ENV_PREFIXES:
        if upper.startswith(prefix) and len(name) > len(prefix):
            parts = name[len(prefix) :].split("__")
            if any(not p for p in parts):
                return None
            return ".".join(parts).lower()
    return None


def secret_kind(path: str) -> str | None:
    """ "key" or "secret" when the path holds a server secret, else None.

    Any `secure.credentials.<name>.user_key/user_secret` counts, so a supervisor or an extra
    system user is checked by the same rules as the four credentials of the seeds.
    """
    if path in BY_PATH:
        return BY_PATH[path].kind
    match = _CRED_PATH.match(path)
    if match:
        return "key" if match.group(2) == "user_key" else "secret"
    if path == "secure.auth.token_secret" or _SESSION_PATH.match(path):
        return "secret"
    return None


def setting_label(path: str) -> str:
    if path in BY_PATH:
        return BY_PATH[path].label
    match = _CRED_PATH.match(path)
    if match:
        return f"{match.group(1)} credentials {match.group(2).replace('user_', '')}"
    return path


def fingerprint(value: str) -> str:
    """First 8 hex characters of the value's SHA-256: enough to tell values apart, never the value.

    An admin can compare with `printf %s "$VALUE" | sha256sum | cut -c1-8`.
    """
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]


# --- known defaults ------------------------------------------------------------------------------

DATA_FILE = Path(__file__).with_name("known_defaults.json")


@dataclass(frozen=True)
class KnownDefault:
    source: str
    source_title: str
    setting: str  # where the value is published (secure.conf path, or clearml.<chart key>)
    kind: str
    value: str = field(repr=False)
    applies_to: str = ""  # the server setting a chart value feeds

    @property
    def where(self) -> str:
        if not self.setting:
            return f"the example value of {self.source_title}"
        return f"the public default of `{self.setting}` in {self.source_title}"

    def where_for(self, name: str) -> str:
        """`where`, without repeating the setting when it is the one found (`name`)."""
        if self.setting and name in (self.setting, f"clearml.{self.setting}"):
            return f"its public default in {self.source_title}"
        return self.where


@dataclass(frozen=True)
class KnownPair:
    id: str
    label: str
    key: str = field(repr=False)
    secret: str = field(repr=False)


@cache
def _data() -> dict:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


@cache
def known_defaults() -> tuple[KnownDefault, ...]:
    data = _data()
    return tuple(
        KnownDefault(
            source=v["source"],
            source_title=data["sources"][v["source"]]["title"],
            setting=v["setting"],
            kind=v["kind"],
            value=v["value"],
            applies_to=v.get("applies_to", v["setting"]),
        )
        for v in data["values"]
    )


@cache
def _by_value() -> dict[str, tuple[KnownDefault, ...]]:
    table: dict[str, list[KnownDefault]] = {}
    for item in known_defaults():
        table.setdefault(item.value, []).append(item)
    return {k: tuple(v) for k, v in table.items()}


def match_known_default(value: str, setting: str = "") -> tuple[KnownDefault, ...]:
    """Every published default equal to `value`, the one published for `setting` first.

    `setting` is a config path or a chart key (`clearml.apiserverKey`); empty when unknown.
    """
    found = _by_value().get(value, ())
    return tuple(sorted(found, key=lambda d: setting not in (d.setting, d.applies_to)))


def known_default_of(setting: str) -> KnownDefault | None:
    for item in known_defaults():
        if item.setting == setting:
            return item
    return None


@cache
def known_pairs() -> tuple[KnownPair, ...]:
    """The default credential pairs the live check tries; values stay inside this module."""
    pairs = []
    for p in _data()["credential_pairs"]:
        key = known_default_of(p["key"])
        secret = known_default_of(p["secret"])
        if key is None or secret is None:
            raise ValueError(f"known_defaults.json: pair {p['id']} names an unknown setting")
        pairs.append(KnownPair(id=p["id"], label=p["label"], key=key.value, secret=secret.value))
    return tuple(pairs)


def sources() -> dict[str, dict]:
    return _data()["sources"]
