"""Fresh values for the server secrets of seeds 000/001, and their snippets.

Keys and secrets are made the way the server's own helper makes them
(apiserver/service_repo/auth/utils.py): keys are 30 characters of
`A-Z0-9`, secrets come from `secrets.token_urlsafe` and never start with `-` or `_`.
"""

import re
import secrets as token_source
import string
from dataclasses import dataclass, field

import yaml

from console.identifiers import normalize_email
from console.snippets import EnvSetting, render

from .catalog import (
    CHART_ONLY_SECRETS,
    KEY_LENGTH,
    PLATFORM_MANAGEMENT,
    SERVER_SECRETS,
    SUPERVISOR,
    SecretSetting,
)

KEY_ALPHABET = string.ascii_uppercase + string.digits
# token_urlsafe(40) is 54 characters: inside the docs' 50-60 range.
SECRET_BYTES = 40
# The chart passes its clearml.* values to the server unquoted, and pyhocon reads some unquoted
# text as something else: `123` is a number, `1h-abc` starts with a duration (one hour), `true-x`
# with a boolean. A generated value therefore starts with a letter and not with a HOCON keyword
# (checked against pyhocon in tests/test_security_generate.py).
_MISREAD_START = re.compile(
    r"^(?:[^A-Za-z]|(?:true|false|null|yes|no|on|off)(?![A-Za-z0-9]))", re.I
)


def reads_back_unquoted(value: str) -> bool:
    """True when HOCON reads `value`, written without quotes, as exactly this string."""
    return bool(value) and not _MISREAD_START.match(value)


SUPERVISOR_GROUPS = ("users", "admins", "queue_admins")
# Names of the Kubernetes Secrets of `--secrets secret-ref` output (names, not secrets).
DEFAULT_CHART_SECRET_NAME = "clearml-conf-rotated"  # noqa: S105
DEFAULT_ENV_SECRET_NAME = "clearml-server-secrets"  # noqa: S105


def generate_key(length: int = KEY_LENGTH) -> str:
    while True:
        key = "".join(token_source.choice(KEY_ALPHABET) for _ in range(length))
        if reads_back_unquoted(key):
            return key


def generate_secret(nbytes: int = SECRET_BYTES) -> str:
    while True:
        value = token_source.token_urlsafe(nbytes)
        # the server's helper refuses a leading - or _; reads_back_unquoted is stricter still
        if value[0] not in "-_" and reads_back_unquoted(value):
            return value


@dataclass(frozen=True)
class SupervisorUser:
    """The multi-tenant page's supervisor user (reference/clearml-docs/multi_tenant_k8s.md)."""

    email: str
    company: str = ""  # services.workers.resource_usages.supervisor_company, optional


@dataclass(repr=False)
class ServerSecrets:
    """One fresh set of values. Never logged, stored or put in an audit entry."""

    values: dict[str, str] = field(repr=False)  # setting path -> value
    chart_only: dict[str, str] = field(repr=False)  # readinessprobeKey/Secret -> value
    supervisor: SupervisorUser | None = None
    platform_management: bool = False

    def __repr__(self) -> str:
        return f"ServerSecrets(settings={sorted(self.values)})"

    @property
    def settings(self) -> list[SecretSetting]:
        chosen = list(SERVER_SECRETS)
        if self.supervisor:
            chosen += SUPERVISOR
        if self.platform_management:
            chosen += PLATFORM_MANAGEMENT
        return chosen

    def setting_names(self) -> list[str]:
        """What the audit log may record: which settings were generated, never their values."""
        names = [s.path for s in self.settings]
        if self.supervisor:
            names += [
                "secure.credentials.supervisor.role",
                "secure.credentials.supervisor.allow_login",
                "secure.credentials.supervisor.sec_groups",
                "secure.credentials.supervisor.email",
            ]
            if self.supervisor.company:
                names.append("services.workers.resource_usages.supervisor_company")
        return names

    def secret_values(self) -> list[str]:
        """Every generated value, for tests and for making sure no output leaks one."""
        return [*self.values.values(), *self.chart_only.values()]


def generate_server_secrets(
    *, supervisor: SupervisorUser | None = None, platform_management: bool = False
) -> ServerSecrets:
    if supervisor is not None:
        supervisor = SupervisorUser(
            email=normalize_email(supervisor.email, "supervisor.email"),
            company=(supervisor.company or "").strip(),
        )
    result = ServerSecrets(
        values={}, chart_only={}, supervisor=supervisor, platform_management=platform_management
    )
    for setting in result.settings:
        result.values[setting.path] = generate_key() if setting.kind == "key" else generate_secret()
    for name, kind in CHART_ONLY_SECRETS:
        result.chart_only[name] = generate_key() if kind == "key" else generate_secret()
    return result


# --- snippets ------------------------------------------------------------------------------------


def env_settings(generated: ServerSecrets) -> list:
    """The settings as snippet-exporter EnvSettings, in the seeds' upper-case variable form.

    The fileserver credentials go to the file server too: it signs in to the apiserver with them
    to validate tokens (file server token authentication).
    """
    out = []
    for setting in SERVER_SECRETS:
        value = generated.values[setting.path]
        out.append(EnvSetting(name=setting.env_name, value=value, secret=True))
    if generated.supervisor:
        out += _supervisor_settings(generated, EnvSetting)
    if generated.platform_management:
        for setting in PLATFORM_MANAGEMENT:
            out.append(
                EnvSetting(
                    name=_docs_name(setting.path),
                    value=generated.values[setting.path],
                    secret=True,
                )
            )
    return out


def fileserver_env_settings(generated: ServerSecrets) -> list:
    """The fileserver credentials for the file server's own environment (compose)."""
    return [
        EnvSetting(
            name=s.env_name, value=generated.values[s.path], secret=True, service="fileserver"
        )
        for s in SERVER_SECRETS
        if s.credential == "fileserver"
    ]


def _docs_name(path: str) -> str:
    """The lower-case spelling the docs use for supervisor and platform_management."""
    return "CLEARML__" + path.replace(".", "__")


def _supervisor_settings(generated: ServerSecrets, env_setting) -> list:
    sup = generated.supervisor
    base = "secure.credentials.supervisor."
    items = [
        env_setting(name=_docs_name(base + "role"), value="system"),
        env_setting(name=_docs_name(base + "allow_login"), value=True),
        env_setting(
            name=_docs_name(base + "user_key"),
            value=generated.values[base + "user_key"],
            secret=True,
        ),
        env_setting(
            name=_docs_name(base + "user_secret"),
            value=generated.values[base + "user_secret"],
            secret=True,
        ),
        env_setting(name=_docs_name(base + "sec_groups"), value=list(SUPERVISOR_GROUPS)),
        # The exporter JSON-quotes strings, which is exactly the docs' `"\"email@example.com\""`:
        # unquoted, HOCON cannot parse an `@`.
        env_setting(name=_docs_name(base + "email"), value=sup.email),
    ]
    if sup.company:
        items.insert(
            0,
            env_setting(
                name=_docs_name("services.workers.resource_usages.supervisor_company"),
                value=sup.company,
            ),
        )
    return items


def chart_values(generated: ServerSecrets, *, existing_secret: str = "") -> dict:
    """The chart's own `clearml.*` values (inline), or `clearml.existingSecret` plus the probe.

    The chart always injects its own variables for the settings it manages
    (templates/apiserver-deployment.yaml), from these values or from its public defaults, so they
    must carry the same values as the variables in extraEnvs.
    """
    clearml: dict[str, str] = {}
    if existing_secret:
        clearml["existingSecret"] = existing_secret
    else:
        for setting in SERVER_SECRETS:
            if setting.chart_key:
                clearml[setting.chart_key] = generated.values[setting.path]
    # The readiness probe's basic auth has no Secret key in the chart: always inline.
    clearml.update(generated.chart_only)
    return {"clearml": clearml}


def chart_secret_manifest(generated: ServerSecrets, name: str) -> dict:
    """The v1/Secret for `clearml.existingSecret`, with the keys the chart reads."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "Opaque",
        "stringData": {
            s.chart_secret_key: generated.values[s.path]
            for s in SERVER_SECRETS
            if s.chart_secret_key
        },
    }


def dump_yaml(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=1000)


def _header(fmt: str, secrets: str) -> str:
    lines = [
        "ClearML server secrets from the ClearML Tenant Console (seeds 000/001).",
        "Keys: 30 characters of A-Z0-9; secrets: secrets.token_urlsafe, 54 characters.",
        "Shown once: keep it in your secret store, never commit it. Before rolling it out,",
        "read the rotation order (Security page, the README): some changes sign users out.",
    ]
    if fmt == "helm":
        lines.append("First document: merge into clearml-values.override.yaml (helm upgrade -f).")
        if secrets == "secret-ref":
            lines.append("The other documents are Secrets: create them first (kubectl apply -f).")
        lines += [
            "The clearml.* keys carry the same values as extraEnvs: the chart always injects",
            "its own variables for them, from these keys or from its public defaults.",
        ]
    elif fmt == "compose":
        lines += [
            "Merge into docker-compose.override.yml. The fileserver service gets the fileserver",
            "credentials too: the file server signs in to the apiserver with them.",
        ]
    else:
        lines += [
            "Give it to the apiserver and to the fileserver container: the file server signs in",
            "to the apiserver with the fileserver credentials.",
        ]
    return "".join(f"# {line}\n" for line in lines)


def render_server_secrets(
    generated: ServerSecrets,
    fmt: str,
    *,
    secrets: str = "inline",
    secret_name: str = DEFAULT_ENV_SECRET_NAME,
    chart_secret_name: str = DEFAULT_CHART_SECRET_NAME,
) -> str:
    """The generated values in `fmt` (helm, compose, env, shell) through the snippet exporter.

    Raises ValueError (from the exporter) for an unknown format, secret mode or Secret name.
    """
    settings = env_settings(generated)
    if fmt == "compose":
        settings = settings + fileserver_env_settings(generated)
    body = render(settings, fmt, secrets=secrets, secret_name=secret_name)
    if fmt == "helm":
        if secrets == "secret-ref":
            if chart_secret_name == secret_name:
                raise ValueError("the chart's Secret and the extraEnvs Secret need different names")
            render([], "helm", secrets=secrets, secret_name=chart_secret_name)  # checks the name
            chart = dump_yaml(chart_values(generated, existing_secret=chart_secret_name))
            manifest = dump_yaml(chart_secret_manifest(generated, chart_secret_name))
            return _header(fmt, secrets) + chart + body + "---\n" + manifest
        return _header(fmt, secrets) + dump_yaml(chart_values(generated)) + body
    return _header(fmt, secrets) + body
