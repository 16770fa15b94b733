"""Rendering a list of settings as Helm values, docker-compose, an env file or shell exports.

Each format is written for the program that reads it; the per-target escaping lives in
escaping.py and is listed in docs/snippets.md:
- helm: `<service>: {extraEnvs: [{name, value}]}`; every value is a YAML string (a core/v1 EnvVar
  value) with `$` written `$$` (the kubelet expands `$(VAR)`). With secrets="secret-ref", secret
  values move into a second YAML document, a v1 Secret (`stringData`, never expanded, so written
  as they are), and the EnvVar refers to it with `valueFrom.secretKeyRef`.
- compose: `services: {<service>: {environment: {NAME: value}}}`; every `$` is doubled because
  compose interpolates `$VAR`/`${VAR}` in the file and turns `$$` back into `$`.
- env: `NAME=value` lines as `docker run --env-file` reads them: split at the first `=`, nothing
  after it trimmed or unquoted, one variable per line (so no newline or CR can be in a value).
- shell: `export NAME='value'` lines for a POSIX shell; `'` is written as `'\\''`.
secret-ref is a Kubernetes feature; the other formats refuse it (there is no equivalent that keeps
values exact: compose's own env_file parser removes quotes and interpolates).
"""

import re
from dataclasses import dataclass, field

import yaml

from .encoding import (
    check_env_name,
    check_hocon_name,
    env_name_for_path,
    hocon_value,
    plain_value,
)
from .escaping import (
    compose_value,
    env_file_line,
    helm_env_value,
    kubernetes_secret_value,
    shell_export,
)

FORMATS = ("helm", "compose", "env", "shell")
SECRET_MODES = ("inline", "secret-ref")
SERVICES = ("apiserver", "webserver", "fileserver")
DEFAULT_SECRET_NAME = "clearml-console"  # noqa: S105 - a Kubernetes object name
EMPTY = "# Nothing to set: there are no settings to export.\n"
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
MAX_DNS_SUBDOMAIN = 253  # a Kubernetes object name (a Secret's) is a DNS subdomain


@dataclass(frozen=True)
class EnvSetting:
    """One environment variable of a ClearML server container.

    `value` is the Python value the server should end up with; `env_value` is the text of the
    variable (HOCON-encoded when `hocon`, see encoding.py). Invalid names or values raise
    ValueError when the setting is made, so a bad value never reaches a rendered snippet.
    """

    name: str
    value: object
    secret: bool = False
    service: str = "apiserver"
    hocon: bool = True
    env_value: str = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.service not in SERVICES:
            raise ValueError(f"service must be one of {', '.join(SERVICES)}, not {self.service!r}")
        if self.hocon:
            check_hocon_name(self.name)
            text = hocon_value(self.value)
        else:
            check_env_name(self.name)
            text = plain_value(self.value)
        object.__setattr__(self, "env_value", text)

    def __repr__(self) -> str:
        shown = "'***'" if self.secret else repr(self.value)
        return f"EnvSetting({self.name!r}, {shown}, secret={self.secret}, service={self.service!r})"

    @classmethod
    def for_path(
        cls, dotted_path: str, value: object, secret: bool = False, service: str = "apiserver"
    ) -> "EnvSetting":
        """`EnvSetting.for_path("services.auth.default_groups.x.features", [...])`."""
        return cls(env_name_for_path(dotted_path), value, secret=secret, service=service)

    @property
    def path(self) -> str:
        """The configuration path the apiserver reads ("" for a non-HOCON variable)."""
        return check_hocon_name(self.name) if self.hocon else ""

    @property
    def secret_key(self) -> str:
        """The key of this value in the Kubernetes Secret of secret-ref output."""
        return self.name


class _Value(str):
    """A string written quoted in YAML output (single quotes when YAML allows them)."""


# Characters a YAML reader treats as line breaks or that are not printable: such a value is
# written double-quoted, where the emitter escapes them, not single-quoted, where they are folded.
_NOT_SINGLE_QUOTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")


def yaml_quote_style(text: str) -> str:
    """The quoting style that keeps `text` exact in YAML: single quotes when safe, else double."""
    return '"' if _NOT_SINGLE_QUOTABLE.search(text) else "'"


def _represent_value(dumper: yaml.SafeDumper, data: _Value):
    text = str(data)
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=yaml_quote_style(text))


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Value, _represent_value)


def dump_yaml_documents(documents: list) -> str:
    return yaml.dump_all(
        documents,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=2**31 - 1,
    )


def check_settings(settings: list[EnvSetting]) -> None:
    """Refuse two settings that the container or the apiserver would see as one."""
    seen_names: dict[tuple[str, str], EnvSetting] = {}
    seen_paths: dict[tuple[str, str], EnvSetting] = {}
    for setting in settings:
        if not isinstance(setting, EnvSetting):
            raise ValueError(f"expected EnvSetting, got {type(setting).__name__}")
        key = (setting.service, setting.name)
        if key in seen_names:
            raise ValueError(f"{setting.name} is given twice for the {setting.service}")
        seen_names[key] = setting
        if setting.hocon:
            path_key = (setting.service, setting.path)
            other = seen_paths.get(path_key)
            if other is not None:
                raise ValueError(
                    f"{other.name} and {setting.name} are the same setting ({setting.path}): "
                    "the apiserver lower-cases variable paths"
                )
            seen_paths[path_key] = setting


def by_service(settings: list[EnvSetting]) -> dict[str, list[EnvSetting]]:
    grouped: dict[str, list[EnvSetting]] = {}
    for service in SERVICES:
        items = [s for s in settings if s.service == service]
        if items:
            grouped[service] = items
    return grouped


def secret_document(settings: list[EnvSetting], secret_name: str) -> dict | None:
    """The v1 Secret holding the secret values of `settings` (None when there are none)."""
    data = {
        s.secret_key: _Value(kubernetes_secret_value(s.env_value)) for s in settings if s.secret
    }
    if not data:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name},
        "type": "Opaque",
        "stringData": data,
    }


def secret_ref(setting: EnvSetting, secret_name: str) -> dict:
    """The `valueFrom` of an EnvVar that reads `setting` from the Secret."""
    return {"secretKeyRef": {"name": secret_name, "key": setting.secret_key}}


def render_helm(settings, *, secrets: str, secret_name: str, with_secret: bool = True) -> str:
    values: dict = {}
    for service, items in by_service(settings).items():
        entries = []
        for s in items:
            if s.secret and secrets == "secret-ref":
                entries.append({"name": s.name, "valueFrom": secret_ref(s, secret_name)})
            else:
                entries.append(
                    {"name": s.name, "value": _Value(helm_env_value(s.name, s.env_value))}
                )
        values[service] = {"extraEnvs": entries}
    documents = [values]
    secret = secret_document(settings, secret_name) if secrets == "secret-ref" else None
    if secret and with_secret:
        documents.append(secret)
    return dump_yaml_documents(documents)


def render_compose(settings) -> str:
    services = {
        service: {"environment": {s.name: _Value(compose_value(s.env_value)) for s in items}}
        for service, items in by_service(settings).items()
    }
    return dump_yaml_documents([{"services": services}])


def _sections(settings, line) -> str:
    grouped = by_service(settings)
    out = []
    for service, items in grouped.items():
        if len(grouped) > 1:
            out.append(f"# {service}")
        out.extend(line(s) for s in items)
    return "".join(text + "\n" for text in out)


def _env_line(s: EnvSetting) -> str:
    return env_file_line(s.name, s.env_value)


def _shell_line(s: EnvSetting) -> str:
    return shell_export(s.name, s.env_value)


def check_options(fmt: str, secrets: str, secret_name: str) -> None:
    """Refuse an unknown format or secrets mode, secret-ref outside helm, a bad Secret name."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if secrets not in SECRET_MODES:
        raise ValueError(f"unknown secrets mode {secrets!r}; choose inline or secret-ref")
    if secrets == "secret-ref":
        if fmt != "helm":
            raise ValueError(
                "--secrets secret-ref makes a Kubernetes Secret and works with --format helm only; "
                f"for {fmt}, keep secrets inline and protect the file (chmod 600, never commit it)"
            )
        if not isinstance(secret_name, str) or len(secret_name) > 253:
            raise ValueError("the Secret name must be at most 253 characters")
        if not DNS_SUBDOMAIN.fullmatch(secret_name):
            raise ValueError(
                f"{secret_name!r} is not a valid Kubernetes Secret name "
                "(lower-case letters, digits, '-' and '.')"
            )


def render(
    settings: list[EnvSetting],
    fmt: str,
    *,
    secrets: str = "inline",
    secret_name: str = DEFAULT_SECRET_NAME,
    with_secret: bool = True,
) -> str:
    """The snippet text of `settings` in format `fmt` (one of FORMATS).

    Raises ValueError with a message fit for the admin when the format or options are unknown,
    when two settings collide, when a value cannot be written in this format, or when
    secrets="secret-ref" is asked for a format other than helm. `with_secret=False` leaves the
    v1 Secret document of secret-ref out (the values file only).
    """
    check_options(fmt, secrets, secret_name)
    settings = list(settings)
    check_settings(settings)
    if not settings:
        return EMPTY
    if fmt == "helm":
        return render_helm(
            settings, secrets=secrets, secret_name=secret_name, with_secret=with_secret
        )
    if fmt == "compose":
        return render_compose(settings)
    if fmt == "env":
        return _sections(settings, _env_line)
    return _sections(settings, _shell_line)
