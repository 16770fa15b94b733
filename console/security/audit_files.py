"""Read deployment files and find every ClearML secret setting in them.

Understood: Helm values files (the clearml chart's `clearml.*` keys, `*.extraEnvs`,
`clearml.existingSecret`, `apiserver.additionalConfigs`), Kubernetes Secret manifests, compose
files (`services.*.environment` as a mapping or a `NAME=value` list), env files (Docker's
`--env-file`, compose `.env`, shell `export NAME='value'`) and HOCON config files (secure.conf).
The rules that turn what is found into findings are in audit_rules.py.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from console.yaml_budget import YamlBudgetExceeded, check_yaml_budget

from . import catalog, values
from .findings import AuditInputError, Occurrence
from .hocon_lite import HoconError, read_hocon

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_FILES = 20
# A values file, compose file or Secret holds a few thousand values; a rendered chart a few tens
# of thousands. Past this many a YAML file is refused before it is read (5 MiB of short keys is
# a million, seconds of CPU each, times 20 files).
MAX_YAML_VALUES = 100_000
# libyaml's parser when PyYAML has it (about 8 times faster than the pure-Python one).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
HELM_TOP_KEYS = {
    "clearml",
    "apiserver",
    "fileserver",
    "webserver",
    "global",
    "imageCredentials",
    "clearmlApplications",
    "externalServices",
}
HOCON_ROOTS = {"secure", "apiserver", "fileserver", "services", "hosts", "logging"}
# Switches and settings the rules look at besides the secrets themselves.
SWITCH_PATHS = {
    "fileserver.auth.enabled",
    "apiserver.auth.fixed_users.enabled",
}
_ENV_LINE = re.compile(
    r"^\s*(?P<export>export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)\s*(?P<rest>=.*)?$"
)


@dataclass
class SecretDocument:
    """A Kubernetes Secret found in the files: name -> key -> (value, location, line)."""

    file: str
    name: str
    entries: dict[str, tuple[str, str, int]] = field(default_factory=dict, repr=False)


@dataclass
class ParsedFile:
    name: str
    kind: str
    occurrences: list[Occurrence] = field(default_factory=list)
    secrets: list[SecretDocument] = field(default_factory=list)
    # Helm: `clearml.existingSecret` (name, line) when set; which chart keys the file sets.
    helm: bool = False
    existing_secret: tuple[str, int] | None = None
    chart_keys: set[str] = field(default_factory=set)
    compose: bool = False
    compose_services: set[str] = field(default_factory=set)
    env_files: list[str] = field(default_factory=list)  # compose `env_file:` entries
    variables: dict[str, str] = field(default_factory=dict, repr=False)  # env file NAME -> text
    web_login: list[str] = field(default_factory=list)  # why web login looks configured
    unread: list[tuple[str, int | None, str]] = field(default_factory=list)  # (where, line, why)


# --- reading -------------------------------------------------------------------------------------


def read_path(path: str) -> bytes:
    """The file's bytes, refusing what the audit cannot read (AuditInputError, exit 2)."""
    p = Path(path)
    try:
        if p.is_dir():
            raise AuditInputError(path, "is a directory; give the files inside it")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise AuditInputError(path, _too_large(size))
        with p.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise AuditInputError(path, "no such file") from None
    except PermissionError:
        raise AuditInputError(path, "cannot be read (permission denied)") from None
    except OSError as exc:
        raise AuditInputError(
            path, f"cannot be read ({exc.strerror or type(exc).__name__})"
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise AuditInputError(path, _too_large(len(data)))
    return data


def _too_large(size: int) -> str:
    limit = MAX_FILE_BYTES // (1024 * 1024)
    return (
        f"is {size / (1024 * 1024):.1f} MiB; the audit reads files up to {limit} MiB "
        "(Helm values, compose and env files are far smaller; is this the right file?)"
    )


def decode_text(name: str, data: bytes) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise AuditInputError(name, _too_large(len(data)))
    if b"\x00" in data[:8192]:
        raise AuditInputError(name, "is a binary file, not a Helm values, compose or env file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise AuditInputError(
            name, f"is not UTF-8 text (byte {exc.start + 1}, line {line}); is it a binary file?"
        ) from None
    return text.removeprefix("\ufeff")


# --- dispatch ------------------------------------------------------------------------------------


def parse_file(name: str, text: str) -> ParsedFile:
    """Recognise the file by its name and content and collect what it sets."""
    lower = name.lower()
    suffix = Path(lower).suffix
    if suffix in (".yaml", ".yml"):
        return _parse_yaml(name, text)
    if suffix in (".conf", ".hocon"):
        return _parse_hocon_file(name, text)
    env_error = _env_problem(text)
    if env_error is None:
        return _parse_env(name, text)
    if suffix == ".env" or Path(lower).name.startswith(".env"):
        raise AuditInputError(name, f"is not an env file: {env_error}")
    try:
        return _parse_yaml(name, text)
    except AuditInputError as yaml_error:
        raise AuditInputError(
            name,
            "is neither an env file (NAME=value lines; "
            f"{env_error}) nor YAML ({yaml_error.message})",
        ) from None


# --- env files -----------------------------------------------------------------------------------


def _env_problem(text: str) -> str | None:
    """None when every line is blank, a comment, or NAME=value; else what is wrong first."""
    assignments = 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if not match:
            return f"line {number} is not NAME=value"
        if match.group("rest"):
            assignments += 1
    if assignments == 0:
        return "no NAME=value line"
    return None


def _parse_env(name: str, text: str) -> ParsedFile:
    parsed = ParsedFile(name=name, kind="env file")
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        var = match.group("name")
        rest = match.group("rest")
        location = f"line {number}"
        if rest is None:
            # `NAME` alone: Docker passes the variable through from its own environment.
            _add_variable(parsed, var, None, location, number, "env", reference="the environment")
            continue
        raw = rest[1:]
        if match.group("export"):
            parsed.kind = "shell env file"
            try:
                raw = values.shell_value(raw)
            except ValueError:
                raise AuditInputError(name, f"line {number}: a quote is not closed") from None
        parsed.variables[var] = raw
        _add_variable(parsed, var, raw, location, number, "env")
    return parsed


# --- HOCON ---------------------------------------------------------------------------------------


def _hocon_root(name: str) -> str | None:
    stem = Path(name).name.lower()
    for suffix in (".conf", ".hocon"):
        stem = stem.removesuffix(suffix)
    last = re.split(r"[-_.]", stem)[-1]
    return last if last in HOCON_ROOTS else None


def _parse_hocon_file(name: str, text: str) -> ParsedFile:
    root = _hocon_root(name)
    if root is None:
        raise AuditInputError(
            name,
            "is a config file whose name does not say its section; the server reads "
            "secure.conf, apiserver.conf, fileserver.conf, ... (rename it or pass it as "
            "secure.conf)",
        )
    parsed = ParsedFile(name=name, kind=f"HOCON config ({root}.conf)")
    try:
        items = read_hocon(text, prefix=root)
    except HoconError as exc:
        raise AuditInputError(name, f"is not valid HOCON: {exc}") from None
    for item in items:
        _add_config_value(parsed, item.path, item.text, f"line {item.line}", item.line, "hocon")
    return parsed


# --- YAML ----------------------------------------------------------------------------------------


def _load_yaml_docs(name: str, text: str) -> list[yaml.Node]:
    try:
        check_yaml_budget(text, name, max_nodes=MAX_YAML_VALUES)
    except YamlBudgetExceeded as exc:
        raise AuditInputError(name, str(exc).removeprefix(f"{name}: ")) from None
    try:
        return [doc for doc in yaml.compose_all(text, Loader=_YAML_LOADER) if doc is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        # Only the parser's description: its snippet of the line could show a secret.
        problem = exc.problem or exc.context or "syntax error"
        raise AuditInputError(name, f"is not valid YAML: {where}{problem}") from None
    except yaml.YAMLError as exc:
        raise AuditInputError(name, f"is not valid YAML: {type(exc).__name__}") from None


def _parse_yaml(name: str, text: str) -> ParsedFile:
    docs = _load_yaml_docs(name, text)
    if not docs:
        raise AuditInputError(name, "is empty")
    parsed = ParsedFile(name=name, kind="")
    kinds, skipped = [], []
    for index, doc in enumerate(docs):
        label = f"[document {index + 1}] " if len(docs) > 1 else ""
        if not isinstance(doc, yaml.MappingNode):
            raise AuditInputError(
                name,
                f"{label}line {doc.start_mark.line + 1}: the top level is not a mapping, so this "
                "is not a Helm values file, compose file or Kubernetes Secret",
            )
        top = _mapping(doc)
        kind_node = top.get("kind")
        if kind_node is not None and _scalar(kind_node[1]) == "Secret":
            _parse_k8s_secret(parsed, doc, label)
            kinds.append("Kubernetes Secret")
        elif "services" in top and isinstance(top["services"][1], yaml.MappingNode):
            _parse_compose(parsed, top["services"][1], label)
            kinds.append("compose")
        elif HELM_TOP_KEYS & set(top):
            _parse_helm(parsed, top, label)
            kinds.append("Helm values")
        elif kind_node is not None:
            skipped.append(f"{label}a Kubernetes {_scalar(kind_node[1]) or 'object'}")
        else:
            raise AuditInputError(
                name,
                f"{label}is YAML but not a Helm values file (no clearml/apiserver/fileserver/"
                "webserver key), compose file (no services) or Kubernetes Secret",
            )
    if not kinds:
        raise AuditInputError(
            name,
            f"is {', '.join(skipped)}, not a Helm values file, compose file or Kubernetes Secret "
            "(the audit reads the values the chart renders from, not rendered manifests)",
        )
    if skipped:
        kinds.append(f"{len(skipped)} other Kubernetes object(s), not audited")
    parsed.kind = " + ".join(dict.fromkeys(kinds))
    return parsed


def _mapping(node: yaml.MappingNode, depth: int = 0) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """key -> (key node, value node), with `<<` merge keys expanded (explicit keys win)."""
    result: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    merged: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge" and depth < 10:
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            for src in sources:
                if isinstance(src, yaml.MappingNode):
                    for k, v in _mapping(src, depth + 1).items():
                        merged.setdefault(k, v)
            continue
        if isinstance(key_node, yaml.ScalarNode):
            result[str(key_node.value)] = (key_node, value_node)
    return {**merged, **result}


def _scalar(node: yaml.Node) -> str | None:
    """A scalar's text as an environment variable would carry it; None for null/non-scalars."""
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        return None
    if node.tag == "tag:yaml.org,2002:bool":
        return str(node.value).lower()
    return str(node.value)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _parse_helm(parsed: ParsedFile, top: dict, label: str) -> None:
    parsed.helm = True
    clearml = top.get("clearml")
    if clearml is not None and isinstance(clearml[1], yaml.MappingNode):
        for key, (_k, node) in _mapping(clearml[1]).items():
            location = f"{label}clearml.{key}"
            if key == "existingSecret":
                secret_name = _scalar(node)
                if secret_name:
                    parsed.existing_secret = (secret_name, _line(node))
                continue
            if key not in catalog.CHART_KEYS:
                continue
            text = _scalar(node)
            if text is None or text == "":
                continue  # empty: the chart generates a random value (templates/clearml-secrets)
            parsed.chart_keys.add(key)
            setting = catalog.CHART_KEYS[key]
            kind = setting.kind if setting else dict(catalog.CHART_ONLY_SECRETS)[key]
            parsed.occurrences.append(
                Occurrence(
                    file=parsed.name,
                    location=location,
                    line=_line(node),
                    path=setting.path if setting else "",
                    name=f"clearml.{key}",
                    via="helm-chart",
                    value=text,
                    candidates=(text,),
                    service="apiserver",
                    kind=kind,
                )
            )
    for component, (_k, node) in top.items():
        if not isinstance(node, yaml.MappingNode):
            continue
        section = _mapping(node)
        extra = section.get("extraEnvs")
        if extra is not None and isinstance(extra[1], yaml.SequenceNode):
            _parse_extra_envs(parsed, component, extra[1], label)
        configs = section.get("additionalConfigs")
        if configs is not None and isinstance(configs[1], yaml.MappingNode):
            for filename, (_fk, fnode) in _mapping(configs[1]).items():
                _parse_embedded_hocon(
                    parsed, filename, fnode, f"{label}{component}.additionalConfigs.{filename}"
                )


def _parse_extra_envs(parsed: ParsedFile, component: str, seq: yaml.SequenceNode, label: str):
    for index, item in enumerate(seq.value):
        base = f"{label}{component}.extraEnvs[{index}]"
        if not isinstance(item, yaml.MappingNode):
            continue
        entry = _mapping(item)
        if "name" not in entry:
            continue
        var = _scalar(entry["name"][1]) or ""
        if "valueFrom" in entry:
            ref = _secret_key_ref(entry["valueFrom"][1])
            _add_variable(
                parsed,
                var,
                None,
                f"{base}.valueFrom",
                _line(entry["valueFrom"][1]),
                "helm-env",
                reference=ref or "valueFrom",
                service=component,
            )
            continue
        value_node = entry.get("value")
        text = _scalar(value_node[1]) if value_node else None
        line = _line(value_node[1]) if value_node else _line(item)
        _add_variable(parsed, var, text or "", f"{base}.value", line, "helm-env", service=component)


def _secret_key_ref(node: yaml.Node) -> str:
    if not isinstance(node, yaml.MappingNode):
        return ""
    ref = _mapping(node).get("secretKeyRef")
    if ref is None or not isinstance(ref[1], yaml.MappingNode):
        return ""
    fields = _mapping(ref[1])
    name = _scalar(fields["name"][1]) if "name" in fields else ""
    key = _scalar(fields["key"][1]) if "key" in fields else ""
    return f"secretKeyRef {name}/{key}"


def _parse_embedded_hocon(parsed: ParsedFile, filename: str, node: yaml.Node, location: str):
    text = _scalar(node)
    root = _hocon_root(filename)
    if text is None or root is None:
        return
    try:
        items = read_hocon(text, prefix=root)
    except HoconError as exc:
        parsed.unread.append((location, _line(node), f"not valid HOCON ({exc})"))
        return
    # A block scalar's content starts on the line after its `|`.
    first = _line(node) + (1 if node.style in ("|", ">") else 0)
    for item in items:
        line = first + item.line - 1
        _add_config_value(
            parsed, item.path, item.text, f"{location} line {item.line}", line, "hocon"
        )


def _parse_k8s_secret(parsed: ParsedFile, doc: yaml.MappingNode, label: str) -> None:
    import base64
    import binascii

    top = _mapping(doc)
    meta = top.get("metadata")
    name = ""
    if meta is not None and isinstance(meta[1], yaml.MappingNode):
        name_node = _mapping(meta[1]).get("name")
        name = (_scalar(name_node[1]) if name_node else "") or ""
    secret = SecretDocument(file=parsed.name, name=name)
    for section in ("data", "stringData"):
        entry = top.get(section)
        if entry is None or not isinstance(entry[1], yaml.MappingNode):
            continue
        for key, (_k, node) in _mapping(entry[1]).items():
            text = _scalar(node) or ""
            if section == "data":
                try:
                    text = base64.b64decode(text, validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    parsed.unread.append(
                        (f"{label}{section}.{key}", _line(node), "not base64 of UTF-8 text")
                    )
                    continue
            secret.entries[key] = (text, f"{label}{section}.{key}", _line(node))
    parsed.secrets.append(secret)


def _parse_compose(parsed: ParsedFile, services: yaml.MappingNode, label: str) -> None:
    parsed.compose = True
    for service, (_k, node) in _mapping(services).items():
        if not isinstance(node, yaml.MappingNode):
            continue
        parsed.compose_services.add(service)
        section = _mapping(node)
        env_file = section.get("env_file")
        if env_file is not None:
            files = (
                env_file[1].value if isinstance(env_file[1], yaml.SequenceNode) else [env_file[1]]
            )
            for f in files:
                target = _scalar(f) or (
                    _scalar(_mapping(f)["path"][1])
                    if isinstance(f, yaml.MappingNode) and "path" in _mapping(f)
                    else None
                )
                if target:
                    parsed.env_files.append(f"{service}: {target}")
        env = section.get("environment")
        if env is None:
            continue
        base = f"{label}services.{service}.environment"
        env_node = env[1]
        if isinstance(env_node, yaml.MappingNode):
            for var, (_vk, vnode) in _mapping(env_node).items():
                text = _scalar(vnode)
                reference = "the shell environment" if text is None else ""
                _add_compose_variable(
                    parsed, var, text, f"{base}.{var}", _line(vnode), service, reference
                )
        elif isinstance(env_node, yaml.SequenceNode):
            for index, item in enumerate(env_node.value):
                text = _scalar(item)
                if not text:
                    continue
                var, sep, raw = text.partition("=")
                _add_compose_variable(
                    parsed,
                    var.strip(),
                    raw if sep else None,
                    f"{base}[{index}]",
                    _line(item),
                    service,
                    "" if sep else "the shell environment",
                )


def _add_compose_variable(parsed, var, text, location, line, service, reference):
    if text is not None and reference == "":
        interpolation = values.compose_interpolation(text)
        if interpolation is not None:
            name, default = interpolation
            reference = f"${{{name}}}"
            _add_variable(
                parsed,
                var,
                None,
                location,
                line,
                "compose",
                reference=reference,
                service=service,
                default=default,
            )
            return
        text = text.replace("$$", "$")
    _add_variable(
        parsed, var, text, location, line, "compose", reference=reference, service=service
    )


# --- occurrences ---------------------------------------------------------------------------------


def _add_variable(
    parsed: ParsedFile,
    var: str,
    text: str | None,
    location: str,
    line: int | None,
    via: str,
    *,
    reference: str = "",
    service: str = "",
    default: str | None = None,
) -> None:
    path = catalog.setting_path(var)
    if path is None:
        return
    _record_web_login(parsed, path, text, location)
    kind = catalog.secret_kind(path)
    if kind is None and path not in SWITCH_PATHS:
        return
    occurrence = Occurrence(
        file=parsed.name,
        location=location,
        line=line,
        path=path,
        name=var,
        via=via,
        reference=reference,
        service=service,
        kind=kind,
    )
    if text is not None and not reference:
        occurrence.value, occurrence.candidates, occurrence.note = values.readings(text)
    elif default is not None:
        # `${NAME:-default}`: compose uses the default when NAME is unset; audit the default.
        occurrence.candidates = values.readings(default)[1]
        occurrence.note = f"the default of {reference}"
    parsed.occurrences.append(occurrence)


def _add_config_value(parsed, path, text, location, line, via) -> None:
    """A value from a HOCON file: already unquoted, read exactly."""
    _record_web_login(parsed, path, text, location)
    kind = catalog.secret_kind(path)
    if kind is None and path not in SWITCH_PATHS:
        return
    parsed.occurrences.append(
        Occurrence(
            file=parsed.name,
            location=location,
            line=line,
            path=path,
            name=path,
            via=via,
            value=text,
            candidates=(text,),
            kind=kind,
        )
    )


def _record_web_login(parsed: ParsedFile, path: str, text: str | None, location: str) -> None:
    """Web login: fixed users enabled, or an identity provider configured (SSO or LDAP)."""
    if path == "apiserver.auth.fixed_users.enabled" and (text is None or values.is_true(text)):
        parsed.web_login.append(f"{location} (fixed users)")
    elif ".login.sso." in f".{path}." or "fixed_user_providers" in path:
        parsed.web_login.append(f"{location} (identity provider)")


# --- entry points --------------------------------------------------------------------------------


def parse_inputs(inputs: Iterable[tuple[str, bytes]]) -> list[ParsedFile]:
    """Parse every (name, bytes); raise AuditInputError listing every unreadable file."""
    parsed, errors = [], []
    items = list(inputs)
    if not items:
        raise AuditInputError("(no files)", "give at least one Helm values, compose or env file")
    if len(items) > MAX_FILES:
        raise AuditInputError("(files)", f"{len(items)} files; the audit takes at most {MAX_FILES}")
    for name, data in items:
        try:
            parsed.append(parse_file(name, decode_text(name, data)))
        except AuditInputError as exc:
            errors.append(exc)
    if errors:
        raise AuditInputErrors(errors)
    return parsed


def input_errors(inputs: list[tuple[str, bytes]]) -> list[AuditInputError]:
    """Every problem parse_inputs would raise for these files (empty list when all are fine)."""
    if not inputs:
        return []
    try:
        parse_inputs(inputs)
    except AuditInputErrors as exc:
        return exc.errors
    except AuditInputError as exc:
        return [exc]
    return []


class AuditInputErrors(AuditInputError):
    """Several files could not be read; `.errors` has one AuditInputError per file."""

    def __init__(self, errors: list[AuditInputError]):
        self.errors = errors
        super().__init__(errors[0].file, "; ".join(str(e) for e in errors))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)
