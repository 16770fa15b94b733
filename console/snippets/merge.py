"""Merging settings into an existing Helm values file or docker-compose override, keeping the rest.

`merge_file(text, settings, kind=...)` reads the uploaded file with ruamel.yaml's round-trip
loader, replaces the entries of the same variables (same name, or the same apiserver path: the
server lower-cases paths, so `…__Team__…` and `…__team__…` are one setting), appends the new ones
and writes the file back with its comments, key order and quoting kept. The result carries a
unified diff for review before downloading.

- helm: `<service>.extraEnvs`, a list of core/v1 EnvVars; an entry of the same variable is replaced
  in place (its `value`, with `$` written `$$` for the kubelet, or `valueFrom`), repeated entries
  of it are removed.
- compose: `services.<service>.environment`, either the mapping form (`NAME: value`) or the list
  form (`- NAME=value`), kept in the form the file uses; `$` is written `$$`.
"""

import difflib
import io
import re
from dataclasses import dataclass, field

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from console.yaml_budget import YamlBudgetExceeded, check_yaml_budget

from .encoding import server_path
from .escaping import compose_value, helm_env_value
from .render import (
    DEFAULT_SECRET_NAME,
    SERVICES,
    EnvSetting,
    by_service,
    check_options,
    check_settings,
    dump_yaml_documents,
    secret_document,
    secret_ref,
    yaml_quote_style,
)

KINDS = ("helm", "compose")
MAX_UPLOAD_BYTES = 1024 * 1024
# ruamel.yaml's round trip takes about 90 µs per node: a 1 MB file of short keys would take half a
# minute, twice (kind detection, then the merge). A Helm values or compose file holds a few
# thousand values; past this many the file is refused before ruamel reads it.
MAX_FILE_VALUES = 20_000


class MergeError(ValueError):
    """The uploaded file cannot be merged; the message names the line and column when known."""


@dataclass
class MergeResult:
    kind: str
    original: str
    merged: str
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed_duplicates: list[str] = field(default_factory=list)
    secret_document: str = ""  # with secrets="secret-ref": the v1 Secret to create separately

    @property
    def diff(self) -> list[str]:
        return list(
            difflib.unified_diff(
                self.original.splitlines(),
                self.merged.splitlines(),
                "uploaded",
                "merged",
                lineterm="",
            )
        )

    @property
    def changed(self) -> bool:
        return self.original != self.merged


def _kind_name(node) -> str:
    if isinstance(node, dict):
        return "a mapping"
    if isinstance(node, list):
        return "a list"
    if node is None:
        return "empty"
    if isinstance(node, str):
        return "a string"
    if isinstance(node, bool):
        return "a boolean"
    if isinstance(node, int | float):
        return "a number"
    return f"a {type(node).__name__}"


def _where(parent, key) -> str:
    """' (line L, column C)' of `parent[key]` in the uploaded file, when ruamel knows it."""
    try:
        if isinstance(parent, CommentedMap):
            line, col = parent.lc.key(key)
        elif isinstance(parent, CommentedSeq):
            line, col = parent.lc.item(key)
        else:
            return ""
    except (AttributeError, KeyError, IndexError, TypeError):
        return ""
    return f" (line {line + 1}, column {col + 1})"


def _quoted(text: str):
    cls = DoubleQuotedScalarString if yaml_quote_style(text) == '"' else SingleQuotedScalarString
    return cls(text)


def _same_setting(name: str, setting: EnvSetting) -> bool:
    if name == setting.name:
        return True
    if not setting.hocon or not isinstance(name, str):
        return False
    try:
        return server_path(name) == setting.path
    except ValueError:
        return False


def guess_indent(text: str) -> tuple[int, int]:
    """(mapping indent, sequence dash offset) the file uses, so untouched parts keep their look."""
    lines = [
        line
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "---", "..."))
    ]
    nested = [
        len(line) - len(line.lstrip(" ")) for line in lines if not line.lstrip().startswith("-")
    ]
    positive = [n for n in nested if n > 0]
    mapping = min(positive) if positive else 2
    offset = None
    for previous, line in zip(lines, lines[1:], strict=False):
        if line.lstrip().startswith("- ") and previous.rstrip().endswith(":"):
            offset = (len(line) - len(line.lstrip(" "))) - (
                len(previous) - len(previous.lstrip(" "))
            )
            break
    if offset is None or offset < 0:
        offset = mapping
    return max(mapping, 1), offset


def _load(text: str) -> tuple[YAML, object]:
    if len(text) > MAX_UPLOAD_BYTES:
        raise MergeError(
            f"the file is {len(text):,} characters long; at most {MAX_UPLOAD_BYTES:,} are accepted"
        )
    try:
        # Nesting, aliases and size first (libyaml's parser, nothing built): ruamel.yaml recurses
        # per level (RecursionError past about 300) and expands what aliases stand for.
        check_yaml_budget(text, "the file", max_nodes=MAX_FILE_VALUES, syntax_errors=True)
    except YamlBudgetExceeded as exc:
        raise MergeError(str(exc)) from None
    except pyyaml.MarkedYAMLError as exc:
        raise MergeError(_syntax_error(exc)) from None
    except pyyaml.YAMLError as exc:
        raise MergeError(f"the file is not valid YAML: {type(exc).__name__}") from None
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 30
    mapping, offset = guess_indent(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    if text.lstrip().startswith("---"):
        yaml.explicit_start = True
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        raise MergeError(_syntax_error(exc)) from None
    except YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "cannot be parsed"
        raise MergeError(f"the file is not valid YAML: {first}") from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise MergeError(
            f"the top level of the file is {_kind_name(data)} (line 1, column 1); "
            "a values or compose file must be a mapping"
        )
    return yaml, data


def _syntax_error(exc) -> str:
    """A parser's error (ruamel.yaml's or PyYAML's) with its line and column."""
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = exc.problem or exc.context or "cannot be parsed"
    return f"the file is not valid YAML{where}: {problem}"


def _mapping_child(parent: CommentedMap, key: str, path: str):
    node = parent.get(key)
    if node is None:
        node = CommentedMap()
        parent[key] = node
    elif not isinstance(node, CommentedMap):
        raise MergeError(f"{path} is {_kind_name(node)}{_where(parent, key)}, not a mapping")
    return node


def _helm_envs(data, service: str, create: bool):
    """`<service>.extraEnvs` of the file, checked; created when `create` and missing."""
    block = data.get(service)
    if block is None and not create:
        return None
    block = _mapping_child(data, service, service)
    envs = block.get("extraEnvs")
    if envs is None:
        if not create:
            return None
        envs = CommentedSeq()
        block["extraEnvs"] = envs
    elif not isinstance(envs, CommentedSeq):
        raise MergeError(
            f"{service}.extraEnvs is {_kind_name(envs)}{_where(block, 'extraEnvs')}, "
            "not a list of {name, value} entries"
        )
    for index, entry in enumerate(envs):
        if not isinstance(entry, CommentedMap) or not isinstance(entry.get("name"), str):
            raise MergeError(
                f"{service}.extraEnvs[{index}]{_where(envs, index)} is not an entry with a "
                "name (a mapping with name and value)"
            )
    return envs


def _merge_helm(data, settings, result: MergeResult, secrets: str, secret_name: str) -> None:
    grouped = by_service(settings)
    # Check the file's structure for every service first, even one with nothing to merge.
    envs_of = {service: _helm_envs(data, service, False) for service in SERVICES}
    for service, items in grouped.items():
        envs = envs_of[service] if envs_of[service] is not None else _helm_envs(data, service, True)
        for setting in items:
            if setting.secret and secrets == "secret-ref":
                wanted = {"valueFrom": secret_ref(setting, secret_name)}
            else:
                wanted = {"value": helm_env_value(setting.name, setting.env_value)}
            matches = [i for i, e in enumerate(envs) if _same_setting(e["name"], setting)]
            if not matches:
                entry = CommentedMap([("name", setting.name)])
                _set_entry(entry, wanted)
                envs.append(entry)
                result.added.append(setting.name)
                continue
            first = envs[matches[0]]
            current = {k: first[k] for k in ("value", "valueFrom") if k in first}
            if first["name"] == setting.name and _plain(current) == wanted:
                result.unchanged.append(setting.name)
            else:
                first["name"] = setting.name
                _set_entry(first, wanted)
                result.replaced.append(setting.name)
            for i in reversed(matches[1:]):
                result.removed_duplicates.append(str(envs[i]["name"]))
                del envs[i]
    if secrets == "secret-ref":
        document = secret_document(settings, secret_name)
        if document:
            result.secret_document = dump_yaml_documents([document])


def _plain(node):
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def _set_entry(entry: CommentedMap, wanted: dict) -> None:
    for key in ("value", "valueFrom"):
        if key in entry and key not in wanted:
            del entry[key]
    if "value" in wanted:
        entry["value"] = _quoted(wanted["value"])
    else:
        ref = wanted["valueFrom"]["secretKeyRef"]
        entry["valueFrom"] = CommentedMap(
            [("secretKeyRef", CommentedMap([("name", ref["name"]), ("key", ref["key"])]))]
        )


LIST_ITEM = re.compile(r"^([^=]*)(=?)(.*)$", re.S)


def _compose_environment(data, service: str, create: bool):
    services = data.get("services")
    if services is None and not create:
        return None
    services = _mapping_child(data, "services", "services")
    block = services.get(service)
    if block is None and not create:
        return None
    block = _mapping_child(services, service, f"services.{service}")
    env = block.get("environment")
    if env is None:
        if not create:
            return None
        env = CommentedMap()
        block["environment"] = env
    if isinstance(env, CommentedSeq):
        for index, item in enumerate(env):
            if not isinstance(item, str):
                raise MergeError(
                    f"services.{service}.environment[{index}]{_where(env, index)} is not a "
                    "NAME=value string"
                )
    elif not isinstance(env, CommentedMap):
        raise MergeError(
            f"services.{service}.environment is {_kind_name(env)}"
            f"{_where(block, 'environment')}, not a mapping or a list"
        )
    return env


def _merge_compose(data, settings, result: MergeResult) -> None:
    grouped = by_service(settings)
    env_of = {service: _compose_environment(data, service, False) for service in SERVICES}
    for service, items in grouped.items():
        env = env_of[service]
        if env is None:
            env = _compose_environment(data, service, True)
        if isinstance(env, CommentedMap):
            _merge_compose_mapping(env, items, result)
        else:
            _merge_compose_list(env, items, result)


def _merge_compose_mapping(env: CommentedMap, items, result: MergeResult) -> None:
    for setting in items:
        value = compose_value(setting.env_value)
        matches = [k for k in env if isinstance(k, str) and _same_setting(k, setting)]
        if not matches:
            env[setting.name] = _quoted(value)
            result.added.append(setting.name)
            continue
        first = matches[0]
        if first == setting.name and isinstance(env[first], str) and str(env[first]) == value:
            result.unchanged.append(setting.name)
        else:
            if first != setting.name:
                position = list(env).index(first)
                del env[first]
                env.insert(position, setting.name, _quoted(value))
            else:
                env[first] = _quoted(value)
            result.replaced.append(setting.name)
        for key in matches[1:]:
            result.removed_duplicates.append(key)
            del env[key]


def _merge_compose_list(env: CommentedSeq, items, result: MergeResult) -> None:
    names = [LIST_ITEM.match(item).group(1) for item in env]
    for setting in items:
        line = f"{setting.name}={compose_value(setting.env_value)}"
        matches = [i for i, n in enumerate(names) if _same_setting(n, setting)]
        if not matches:
            env.append(_quoted(line))
            names.append(setting.name)
            result.added.append(setting.name)
            continue
        first = matches[0]
        if str(env[first]) == line:
            result.unchanged.append(setting.name)
        else:
            env[first] = _quoted(line)
            names[first] = setting.name
            result.replaced.append(setting.name)
        for i in reversed(matches[1:]):
            result.removed_duplicates.append(names[i])
            del env[i]
            del names[i]


def detect_kind(text: str) -> str:
    """'compose' for a file whose top level has `services` and no `apiserver`, else 'helm'."""
    try:
        _, data = _load(text)
    except MergeError:
        return "helm"
    return "compose" if "services" in data and "apiserver" not in data else "helm"


def decode_upload(raw: bytes) -> str:
    if len(raw) > MAX_UPLOAD_BYTES:
        raise MergeError(f"the file is {len(raw)} bytes; at most {MAX_UPLOAD_BYTES} are accepted")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MergeError(f"the file is not UTF-8 text (byte {exc.start + 1})") from None
    # Browsers send a textarea's line breaks as CRLF: normalise so review and download agree.
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def merge_file(
    text: str,
    settings: list[EnvSetting],
    *,
    kind: str = "helm",
    secrets: str = "inline",
    secret_name: str = DEFAULT_SECRET_NAME,
) -> MergeResult:
    """Merge `settings` into the YAML `text` (a Helm values file or a compose override)."""
    if kind not in KINDS:
        raise MergeError(f"unknown file kind {kind!r}; choose helm or compose")
    check_options(kind, secrets, secret_name)
    check_settings(list(settings))
    yaml, data = _load(text)
    result = MergeResult(kind=kind, original=text, merged="")
    if kind == "helm":
        _merge_helm(data, settings, result, secrets, secret_name)
    else:
        _merge_compose(data, settings, result)
    out = io.StringIO()
    yaml.dump(data, out)
    result.merged = out.getvalue()
    return result
