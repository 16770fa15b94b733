"""Application instance visibility (ClearML docs: app_visibility_policy): who sees the instances
of an application, as server settings and as one tenant's policy.

- Server default and per-application overrides: the apiserver's
  `services.applications.app_instance_access.allowed` and
  `...app_instance_access.applications.<app_id>.allowed`, exported as `CLEARML__…` variables
  through the snippet exporter.
- One tenant's policy: the body of `system.update_company_app_instance_access`,
  `{"allowed"?, "applications": {<app_id>: {"allowed"}}}`.

Values: `all` (everyone), `owner` (who launched it), `group` (who launched it chooses groups to
share with). The docs page lists `group`, but its per-tenant example sends `groups`; the console
writes `group`, the documented value, in both places (docs/app-visibility.md).
"""

from dataclasses import dataclass, field

from console.snippets import EnvSetting
from console.snippets.encoding import PATH_SEGMENT
from console.validation import ErrorCollector, shown

VALUES = ("all", "owner", "group")
DOCS_EXAMPLE_SPELLING = "groups"  # the docs' per-tenant example; read as "group"
SERVER_PATH = "services.applications.app_instance_access"
MAX_APPS = 200
MAX_APP_ID = 100


@dataclass
class VisibilityPolicy:
    allowed: str = ""  # "": the server's default (all)
    applications: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.allowed and not self.applications


def _value(text: str, path: str, errors: ErrorCollector) -> str:
    value = text.strip().lower()
    if value == DOCS_EXAMPLE_SPELLING:
        return "group"
    if value not in VALUES:
        errors.add(path, f"{path} {shown(text)} is not a visibility; choose all, owner or group.")
    return value


def parse_policy(allowed: str, apps_text: str) -> VisibilityPolicy:
    """The policy from a form: `allowed` ("" keeps the server's default) and one
    `<app_id>: <value>` per line in `apps_text`; InvalidInput naming the field and the value."""
    errors = ErrorCollector()
    policy = VisibilityPolicy(allowed=_value(allowed, "allowed", errors) if allowed.strip() else "")
    lines = [line.strip() for line in (apps_text or "").splitlines() if line.strip()]
    if len(lines) > MAX_APPS:
        errors.add("apps", f"apps has {len(lines)} lines; give at most {MAX_APPS}.")
        lines = []
    for number, line in enumerate(lines, start=1):
        app_id, sep, value = line.replace("=", ":", 1).partition(":")
        app_id = app_id.strip()
        where = f"apps line {number}"
        if not sep:
            errors.add("apps", f"{where} {shown(line)} needs the form app_id: all|owner|group.")
            continue
        if len(app_id) > MAX_APP_ID or not PATH_SEGMENT.fullmatch(app_id):
            errors.add(
                "apps",
                f"{where}: the application id {shown(app_id)} must be letters and digits joined "
                "by single underscores (it becomes part of a variable name), e.g. hpo_app.",
            )
            continue
        if app_id in policy.applications:
            errors.add("apps", f"{where}: {shown(app_id)} is listed twice; keep one line.")
            continue
        policy.applications[app_id] = _value(value, f"{where} ({app_id})", errors)
    errors.raise_if_any()
    return policy


def policy_settings(policy: VisibilityPolicy) -> list[EnvSetting]:
    """The apiserver variables of the server-wide policy (CLEARML__services__applications__…)."""
    settings = []
    if policy.allowed:
        settings.append(EnvSetting.for_path(f"{SERVER_PATH}.allowed", policy.allowed))
    for app_id, value in policy.applications.items():
        settings.append(EnvSetting.for_path(f"{SERVER_PATH}.applications.{app_id}.allowed", value))
    return settings


def policy_body(policy: VisibilityPolicy) -> dict:
    """`app_instance_access` of system.update_company_app_instance_access."""
    body: dict = {}
    if policy.allowed:
        body["allowed"] = policy.allowed
    body["applications"] = {app: {"allowed": v} for app, v in policy.applications.items()}
    return body


def policy_from_body(body: dict | None) -> VisibilityPolicy | None:
    """The policy a sent body carried (None when there is none)."""
    if not isinstance(body, dict):
        return None
    apps = body.get("applications") if isinstance(body.get("applications"), dict) else {}
    return VisibilityPolicy(
        allowed=str(body.get("allowed") or ""),
        applications={
            str(k): str(v.get("allowed", "")) for k, v in apps.items() if isinstance(v, dict)
        },
    )


def apps_text(policy: VisibilityPolicy | None) -> str:
    if policy is None:
        return ""
    return "".join(f"{app}: {value}\n" for app, value in policy.applications.items())
