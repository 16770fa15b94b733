"""The sandbox apiserver's data: companies, users, credentials, login routing, SSO settings.

Plain dicts, so the whole state is JSON as it is. Callers hold `SandboxApp.lock` around every
read and write. Secrets are never kept: a credential keeps the SHA-256 of its secret, an
identity provider's `client_secret` keeps only its fingerprint.
"""

import hashlib
import hmac
import json
import secrets
import string
import uuid
from datetime import UTC, datetime

FORMAT_VERSION = 1

# The open-source server's default company and its intra-service ("system") user.
SYSTEM_COMPANY_ID = "d1bd92a3b039400cbafc60a7a5b1e52b"
SYSTEM_COMPANY_NAME = "clearml"
ROOT_USER_ID = "__apiserver__"
ROOT_ROLE = "system"

KEY_ALPHABET = string.ascii_uppercase + string.digits


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_id() -> str:
    return uuid.uuid4().hex


def new_access_key() -> str:
    """30 characters of A-Z0-9, as apiserver/service_repo/auth/utils.py makes them."""
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(30))


def new_secret_key() -> str:
    """50-60 URL-safe characters that do not start with '-' or '_'."""
    while True:
        value = secrets.token_urlsafe(secrets.choice(range(38, 46)))
        if value[0] not in "-_":
            return value


def fingerprint(secret: str) -> str:
    """How the sandbox keeps a secret: its SHA-256, never the value."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored: str) -> bool:
    return hmac.compare_digest(fingerprint(secret), stored)


def fold(text: str) -> str:
    """Names, emails and domains are compared ignoring case and surrounding spaces."""
    return text.strip().casefold()


class State:
    """All the data. `runtime_credentials` (the platform key given on the command line) and
    `tokens` live in memory only and are never written to the state file."""

    def __init__(self) -> None:
        self.runtime_credentials: dict[str, dict] = {}
        self.clear()

    def clear(self) -> None:
        self.companies: dict[str, dict] = {}
        self.company_ids_by_name: dict[str, list[str]] = {}
        self.users: dict[str, dict] = {}
        self.user_ids_by_email: dict[str, str] = {}
        self.credentials: dict[str, dict] = {}
        self.login: dict[str, dict] = {}
        self.providers: dict[str, dict[str, dict]] = {}
        self.sso_tenants: dict[str, str] = {}
        self.tokens: dict[str, dict] = {}
        self.vaults: dict[str, dict] = {}  # memory only: sandbox/endpoints_fleet.py
        self._bootstrap()

    def _bootstrap(self) -> None:
        if SYSTEM_COMPANY_ID not in self.companies:
            self.add_company(
                {
                    "id": SYSTEM_COMPANY_ID,
                    "name": SYSTEM_COMPANY_NAME,
                    "created": now(),
                    "defaults": {},
                }
            )
        if ROOT_USER_ID not in self.users:
            self.add_user(
                {
                    "id": ROOT_USER_ID,
                    "name": "ClearML platform administrator",
                    "company": SYSTEM_COMPANY_ID,
                    "email": "",
                    "role": ROOT_ROLE,
                    "internal": True,
                    "given_name": "",
                    "family_name": "",
                    "avatar": "",
                    "created": now(),
                }
            )

    # companies
    def add_company(self, company: dict) -> None:
        self.companies[company["id"]] = company
        self.company_ids_by_name.setdefault(fold(company["name"]), []).append(company["id"])
        sso = company.get("sso") or {}
        if sso.get("tenant"):
            self.sso_tenants[fold(sso["tenant"])] = company["id"]

    def company_name_taken(self, name: str) -> bool:
        return bool(self.company_ids_by_name.get(fold(name)))

    def login_settings(self, company_id: str) -> dict:
        return self.login.setdefault(company_id, {"domains": [], "whitelist": {}})

    # users
    def add_user(self, user: dict) -> None:
        self.users[user["id"]] = user
        if user.get("email"):
            self.user_ids_by_email[fold(user["email"])] = user["id"]

    def company_user_count(self, company_id: str) -> int:
        return sum(1 for u in self.users.values() if u["company"] == company_id)

    # credentials
    def add_credentials(
        self,
        user_id: str,
        *,
        label: str | None = None,
        key: str | None = None,
        secret: str | None = None,
        runtime: bool = False,
    ) -> tuple[str, str]:
        key = key or new_access_key()
        secret = secret or new_secret_key()
        record = {
            "access_key": key,
            "secret": fingerprint(secret),
            "user": user_id,
            "created": now(),
            "last_used": None,
            "last_used_from": None,
        }
        if label is not None:
            record["label"] = label
        (self.runtime_credentials if runtime else self.credentials)[key] = record
        return key, secret

    def find_credentials(self, key: str) -> dict | None:
        return self.credentials.get(key) or self.runtime_credentials.get(key)

    def user_credentials(self, user_id: str) -> list[dict]:
        found = [c for c in self.runtime_credentials.values() if c["user"] == user_id]
        return found + [c for c in self.credentials.values() if c["user"] == user_id]

    def revoke_credentials(self, user_id: str, key: str) -> int:
        for store in (self.credentials, self.runtime_credentials):
            record = store.get(key)
            if record and record["user"] == user_id:
                del store[key]
                return 1
        return 0

    # persistence
    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT_VERSION,
                "companies": list(self.companies.values()),
                "users": list(self.users.values()),
                "credentials": list(self.credentials.values()),
                "login": {
                    cid: {
                        "domains": s["domains"],
                        "whitelist": [
                            {"email": e, "is_admin": a} for e, a in s["whitelist"].items()
                        ],
                    }
                    for cid, s in self.login.items()
                },
                "providers": self.providers,
            },
            indent=1,
            sort_keys=True,
        )

    def load_json(self, text: str) -> None:
        """Replace the data with a state file's; raise ValueError when the file is not one."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise ValueError(f"not a sandbox state file (format {FORMAT_VERSION} expected)")
        try:
            self.companies, self.company_ids_by_name, self.sso_tenants = {}, {}, {}
            self.users, self.user_ids_by_email = {}, {}
            for company in data["companies"]:
                self.add_company(dict(company))
            for user in data["users"]:
                self.add_user(dict(user))
            self.credentials = {c["access_key"]: dict(c) for c in data["credentials"]}
            self.login = {
                cid: {
                    "domains": list(s["domains"]),
                    "whitelist": {e["email"]: bool(e["is_admin"]) for e in s["whitelist"]},
                }
                for cid, s in data["login"].items()
            }
            self.providers = {cid: dict(p) for cid, p in data["providers"].items()}
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a sandbox state file (bad entry: {exc!r})") from None
        self.tokens = {}
        self._bootstrap()
