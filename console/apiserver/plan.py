"""A planned apiserver call: shown on plan pages and by `manage.py plan`, then executed by apply."""

import json
import shlex
from dataclasses import dataclass, field

from .client import ApiClient


@dataclass
class PlannedCall:
    endpoint: str
    body: dict = field(default_factory=dict)
    act_as: str = ""
    impersonate_as: str = ""
    description: str = ""

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.act_as:
            headers["X-Clearml-Act-As"] = self.act_as
        if self.impersonate_as:
            headers["X-Clearml-Impersonate-As"] = self.impersonate_as
        return headers

    def curl(self, api_url: str = "$APISERVER_URL") -> str:
        """The same call for an admin who runs it by hand; the secret stays a shell variable."""
        parts = [
            "curl",
            "-sS",
            "-u",
            '"$APISERVER_KEY:$APISERVER_SECRET"',
            "-H",
            shlex.quote("Content-Type: application/json"),
        ]
        for name, value in self.headers().items():
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        url = f"{api_url.rstrip('/')}/{self.endpoint}"
        url_arg = f'"{url}"' if url.startswith("$") else shlex.quote(url)
        parts += ["-d", shlex.quote(json.dumps(self.body, ensure_ascii=False)), url_arg]
        return " ".join(parts)

    def execute(self, client: ApiClient) -> dict:
        return client.call(
            self.endpoint,
            self.body,
            act_as=self.act_as or None,
            impersonate_as=self.impersonate_as or None,
        )

    def as_dict(self) -> dict:
        return {
            "endpoint": self.endpoint,
            "body": self.body,
            "act_as": self.act_as,
            "impersonate_as": self.impersonate_as,
            "description": self.description,
        }
