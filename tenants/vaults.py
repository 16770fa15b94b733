"""An admin vault's document, checked before it is sent (ClearML docs: "Administrator Vaults").

A client-configuration vault extends or overrides clearml.conf where a tenant's tasks run, so
its document must parse the way ClearML reads it: HOCON (with pyhocon, the parser of ClearML's
own server and SDK), JSON or YAML; it must be a mapping; and it must not set the keys the docs
say are machine or agent specific (`FORBIDDEN_KEYS`). A key is found however it is written:
nested (`agent { debug: true }`), dotted (`agent.debug: true`), or a dotted key in JSON/YAML.

Refused as well: HOCON `include` (it would read files or URLs where the document is parsed) and
documents past MAX_DOCUMENT characters. Substitutions (`${VAR}`) are left unresolved: the
document is checked, never evaluated. Nothing here keeps or logs the document: it may hold
storage credentials.
"""

import hashlib
import json
import re
from dataclasses import dataclass

import yaml
from pyhocon import ConfigFactory, ConfigTree
from pyhocon.exceptions import ConfigException
from pyparsing import ParseBaseException

from console.yaml_budget import YamlBudgetExceeded, check_yaml_budget

FORMATS = ("hocon", "json", "yaml")
FORBIDDEN_KEYS = (
    "agent.cuda_version",
    "agent.cudnn_version",
    "agent.default_python",
    "agent.worker_id",
    "agent.worker_name",
    "agent.debug",
)
MAX_DOCUMENT = 256 * 1024
MAX_DESCRIPTION = 200
# The "Users" group every user belongs to, as the ClearML docs' vault example names it.
ALL_USERS_GROUP = "30795571-a470-4717-a80d-e8705fc776bf"
_INCLUDE = re.compile(r"^\s*include\b", re.MULTILINE)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class VaultDocumentError(ValueError):
    """The document cannot be a vault; the message names the field or key and what to do."""


@dataclass(frozen=True)
class VaultDocument:
    text: str
    format: str
    keys: tuple[str, ...]  # every leaf key, dotted

    @property
    def fingerprint(self) -> str:
        return document_fingerprint(self.text)


def document_fingerprint(text: str) -> str:
    """What the audit log and the pages keep of a document: 16 hex digits of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16] if text else ""


def parse_vault_document(text: str, fmt: str, source: str = "the vault document") -> VaultDocument:
    """The document checked (see the module's docstring); VaultDocumentError otherwise."""
    fmt = (fmt or "").strip().lower()
    if fmt not in FORMATS:
        raise VaultDocumentError(
            f"Format {fmt[:20]!r}: choose one of {', '.join(FORMATS)} for {source}."
        )
    if len(text) > MAX_DOCUMENT:
        raise VaultDocumentError(
            f"{source} has {len(text):,} characters; a vault holds at most {MAX_DOCUMENT:,}."
        )
    if not text.strip():
        raise VaultDocumentError(f"{source} is empty; write the settings the vault should hold.")
    tree = _parse(text, fmt, source)
    if not isinstance(tree, dict):
        raise VaultDocumentError(
            f"{source} is a {type(tree).__name__}, not a mapping of settings; write it as "
            "`section { key: value }` (HOCON) or an object (JSON, YAML)."
        )
    keys = tuple(sorted(_leaf_keys(tree)))
    _refuse_forbidden(keys, source)
    return VaultDocument(text=text, format=fmt, keys=keys)


def _parse(text: str, fmt: str, source: str):
    if fmt == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise VaultDocumentError(f"{source} is not valid JSON: {exc}.") from None
    if fmt == "yaml":
        try:
            check_yaml_budget(text, source)
            return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
        except (YamlBudgetExceeded, yaml.YAMLError) as exc:
            raise VaultDocumentError(f"{source} is not valid YAML: {_first_line(exc)}.") from None
    if _INCLUDE.search(text):
        raise VaultDocumentError(
            f"{source} uses HOCON `include`; a vault must hold its settings itself (an include "
            "would be read where the document is parsed). Paste the included settings instead."
        )
    try:
        return ConfigFactory.parse_string(text, resolve=False)
    except (ConfigException, ParseBaseException, RecursionError) as exc:
        raise VaultDocumentError(f"{source} is not valid HOCON: {_first_line(exc)}.") from None


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _leaf_keys(tree, prefix: str = "", depth: int = 0) -> list[str]:
    """Every key path of the mapping, with dotted keys split (`"a.b": 1` is `a.b`)."""
    if depth > 100:
        raise VaultDocumentError("the vault document nests more than 100 levels deep.")
    found = []
    items = tree.items() if isinstance(tree, dict | ConfigTree) else []
    for key, value in items:
        path = f"{prefix}.{str(key).strip(chr(34))}" if prefix else str(key).strip('"')
        if isinstance(value, dict | ConfigTree) and value:
            found += _leaf_keys(value, path, depth + 1)
        else:
            found.append(path)
    return found


def _refuse_forbidden(keys: tuple[str, ...], source: str) -> None:
    for key in keys:
        folded = key.casefold()
        for forbidden in FORBIDDEN_KEYS:
            if folded == forbidden or folded.startswith(forbidden + "."):
                raise VaultDocumentError(
                    f"{source} sets {forbidden}, which each machine or agent sets for itself: "
                    "the ClearML docs say it cannot be set in a vault. Remove it."
                )


def check_description(value: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_DESCRIPTION or any(ord(ch) < 32 for ch in value):
        raise VaultDocumentError(
            f"Description {value[:60]!r}: use at most {MAX_DESCRIPTION} characters on one line."
        )
    return value
