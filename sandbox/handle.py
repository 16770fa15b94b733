"""What tests (and benchmarks) use to arrange and inspect a running sandbox without HTTP.

`SandboxServer` inherits these; the `sandbox` pytest fixture yields one.
"""

import copy

from . import endpoints
from .app import FaultPlan, SandboxApp
from .state import SYSTEM_COMPANY_ID, fold, new_id, now


class SandboxHandle:
    app: SandboxApp

    # connection
    @property
    def key(self) -> str:
        return self.app.key

    @property
    def secret(self) -> str:
        return self.app.secret

    # options, changeable while running
    @property
    def latency_ms(self) -> int:
        return self.app.latency_ms

    @latency_ms.setter
    def latency_ms(self, value: int) -> None:
        self.app.latency_ms = max(0, int(value))

    @property
    def unique_company_names(self) -> bool:
        return self.app.unique_company_names

    @unique_company_names.setter
    def unique_company_names(self, value: bool) -> None:
        self.app.unique_company_names = bool(value)

    # what happened
    @property
    def state(self) -> dict:
        """A copy of all data, shaped like the state file (secrets are fingerprints)."""
        return self.app.snapshot()

    @property
    def calls(self) -> list[str]:
        """Endpoint names received, in order (control calls excluded)."""
        with self.app._log_lock:
            return [r["endpoint"] for r in self.app.requests]

    @property
    def requests(self) -> list[dict]:
        """Every call received: endpoint, method, status, act_as, impersonate_as, body."""
        with self.app._log_lock:
            return [copy.deepcopy(r) for r in self.app.requests]

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
        return self.app.fail_next(endpoint, status, drop_answer, times, delay_ms, raw, message)

    def reset(self) -> None:
        self.app.reset()

    def save(self) -> None:
        self.app.save()

    # reading the data
    def companies(self, include_system: bool = False) -> list[dict]:
        """Companies as system.get_companies answers them; without the platform's own."""
        with self.app.lock:
            return [
                copy.deepcopy(endpoints.public_company(c))
                for c in self.app.state.companies.values()
                if include_system or c["id"] != SYSTEM_COMPANY_ID
            ]

    def company(self, company_id: str) -> dict | None:
        return next((c for c in self.companies(True) if c["id"] == company_id), None)

    def company_by_name(self, name: str) -> dict | None:
        return next((c for c in self.companies() if fold(c["name"]) == fold(name)), None)

    def users(self, company_id: str | None = None) -> list[dict]:
        with self.app.lock:
            return [
                endpoints.public_user(u)
                for u in self.app.state.users.values()
                if company_id is None or u["company"] == company_id
            ]

    def user_by_email(self, email: str) -> dict | None:
        with self.app.lock:
            user_id = self.app.state.user_ids_by_email.get(fold(email))
            return endpoints.public_user(self.app.state.users[user_id]) if user_id else None

    def credentials(self, user_id: str) -> list[dict]:
        """A user's keys (no secrets), as auth.get_credentials lists them."""
        with self.app.lock:
            return [
                {
                    "access_key": c["access_key"],
                    "label": c.get("label"),
                    "last_used": c["last_used"],
                }
                for c in self.app.state.user_credentials(user_id)
            ]

    def login_settings(self, company_id: str) -> dict:
        """As login.get_settings answers: {"domains": [...], "whitelist": [{email, is_admin}]}."""
        with self.app.lock:
            settings = self.app.state.login.get(company_id) or {"domains": [], "whitelist": {}}
            return {
                "domains": list(settings["domains"]),
                "whitelist": [
                    {"email": e, "is_admin": a} for e, a in settings["whitelist"].items()
                ],
            }

    def sso_config(self, company_id: str) -> dict | None:
        company = self.company(company_id)
        return company.get("sso") if company else None

    def providers(self, company_id: str) -> list[dict]:
        """Identity providers saved for a company; `client_secret` is a fingerprint."""
        with self.app.lock:
            return copy.deepcopy(list(self.app.state.providers.get(company_id, {}).values()))

    # arranging data directly (no call is recorded)
    def seed_company(self, name: str, **defaults) -> str:
        company = {"id": new_id(), "name": name, "created": now(), "defaults": dict(defaults)}
        with self.app.lock:
            self.app.state.add_company(company)
            self.app._dirty = True
        return company["id"]

    def seed_user(
        self,
        company_id: str,
        email: str,
        *,
        name: str = "",
        role: str = "admin",
        internal: bool = True,
    ) -> str:
        user = {
            "id": new_id(),
            "name": name or email.split("@")[0],
            "company": company_id,
            "email": fold(email),
            "role": role,
            "internal": internal,
            "given_name": "",
            "family_name": "",
            "avatar": "",
            "created": now(),
        }
        with self.app.lock:
            if company_id not in self.app.state.companies:
                raise KeyError(f"no company {company_id}")
            if fold(email) in self.app.state.user_ids_by_email:
                raise ValueError(f"a user with email {email} exists")
            self.app.state.add_user(user)
            self.app._dirty = True
        return user["id"]

    def seed_credentials(self, user_id: str, label: str | None = None) -> tuple[str, str]:
        with self.app.lock:
            if user_id not in self.app.state.users:
                raise KeyError(f"no user {user_id}")
            self.app._dirty = True
            return self.app.state.add_credentials(user_id, label=label)

    def seed_login(self, company_id: str, *, domains=(), whitelist: dict | None = None) -> None:
        """Set a company's routing: `domains` list, `whitelist` {email: is_admin}."""
        with self.app.lock:
            settings = self.app.state.login_settings(company_id)
            settings["domains"] = [fold(d) for d in domains]
            settings["whitelist"] = {fold(e): bool(a) for e, a in (whitelist or {}).items()}
            self.app._dirty = True
