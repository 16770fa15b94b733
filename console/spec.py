"""Loading a tenants-as-code SPEC file (docs/spec.md): YAML in, a checked top-level mapping out.

Each app validates its own sections and reports full field paths; this module only reads the file
and checks the top level, so `plan`, `apply` and `snippets` read a SPEC the same way.
"""

import unicodedata
from pathlib import Path

import yaml

from .validation import FieldError, InvalidInput
from .yaml_budget import YamlBudgetExceeded, check_yaml_budget

SPEC_VERSION = 1
MAX_SPEC_BYTES = 10 * 1024 * 1024
SECTIONS = {
    "version": int,
    "tenants": list,
    "groups": list,
    "builtin_groups": dict,
    "organization": dict,
    "identity_providers": list,
    "multi_tenant_login": dict,
}


class SpecFileError(InvalidInput):
    """The file itself cannot be read or parsed; the message names the file."""


# libyaml's parser (PyYAML's C extension) when it is there: the pure-Python one takes most of a
# plan's time on a SPEC of a thousand tenants. Both build only plain types (a safe loader).
_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeBase):
    """A safe loader that refuses a key given twice in one mapping instead of keeping the last."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "a key must be a plain value (text or a number), not a list or a mapping",
                key_node.start_mark,
            )
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"the key '{key}' appears twice", mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_spec_text(text: str, source: str = "SPEC") -> dict:
    try:
        check_yaml_budget(text, source)
    except YamlBudgetExceeded as exc:
        raise SpecFileError(FieldError("", str(exc))) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecFileError(FieldError("", f"{source}: not valid YAML{where}: {problem}")) from None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        # PyYAML's constructors of explicitly tagged scalars (`!!float .nanx`, `!!timestamp x`,
        # `!!int 0b2`) fail with these instead of a YAMLError, and without a position.
        raise SpecFileError(
            FieldError(
                "",
                f"{source}: not valid YAML: a value written with a type tag (!!float, !!int, "
                f"!!timestamp, …) is not of that type ({str(exc)[:200]}); remove the tag or "
                "fix the value",
            )
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecFileError(
            FieldError("", f"{source}: the top level must be a mapping (version, tenants, …)")
        )
    errors = []
    for key, value in data.items():
        expected = SECTIONS.get(key)
        if expected is None:
            known = ", ".join(SECTIONS)
            errors.append(FieldError(_key_path(key), f"unknown key (known keys: {known})"))
        elif value is not None and not isinstance(value, expected) or isinstance(value, bool):
            kind = {int: "a number", list: "a list", dict: "a mapping"}[expected]
            errors.append(FieldError(str(key), f"must be {kind}"))
    if "version" not in data:
        errors.append(FieldError("version", f"is required (use version: {SPEC_VERSION})"))
    elif data.get("version") != SPEC_VERSION:
        errors.append(FieldError("version", f"must be {SPEC_VERSION}"))
    errors.extend(_nul_errors(data, ""))
    if errors:
        raise InvalidInput(errors)
    return data


NUL_MESSAGE = "holds a NUL character (\\0), which the console cannot store; remove it"


def _nul_errors(value, path: str) -> list[FieldError]:
    """Every key or text value holding NUL (a YAML "\\0" or a JSON "\\u0000"): PostgreSQL
    cannot store one. The budget has already bounded the depth, so recursion is safe."""
    if isinstance(value, str):
        return [FieldError(path, NUL_MESSAGE)] if "\x00" in value else []
    errors = []
    if isinstance(value, dict):
        for key, item in value.items():
            item_path = f"{path}.{_key_path(key)}" if path else _key_path(key)
            if isinstance(key, str) and "\x00" in key:
                errors.append(FieldError(item_path, "this key " + NUL_MESSAGE))
            errors.extend(_nul_errors(item, item_path))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            errors.extend(_nul_errors(item, f"{path}[{index}]"))
    return errors


def load_spec(path: str | Path) -> dict:
    """Read and parse a SPEC file; raise SpecFileError/InvalidInput naming the file and field."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecFileError(
                FieldError("", f"{file}: {size} bytes is over the {MAX_SPEC_BYTES} byte limit")
            )
        raw = file.read_bytes()
    except FileNotFoundError:
        raise SpecFileError(FieldError("", f"{file}: no such file")) from None
    except IsADirectoryError:
        raise SpecFileError(FieldError("", f"{file}: is a directory, not a SPEC file")) from None
    except PermissionError:
        raise SpecFileError(FieldError("", f"{file}: cannot be read (permission denied)")) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecFileError(FieldError("", f"{file}: is not UTF-8 text")) from None
    return parse_spec_text(text, source=str(file))


def spec_error_lines(exc: InvalidInput, source: str) -> list[str]:
    """Lines for the command line: every error with the file and the field path, one line each.
    Control characters a path or a message carries from the SPEC (a value's line breaks, a
    terminal escape in a key) are written as escapes (`\\n`, `\\x1b`)."""
    lines = []
    for error in exc.errors:
        if isinstance(exc, SpecFileError):
            line = error.message
        elif error.path:
            line = f"{source}: {error.path}: {error.message}"
        else:
            line = f"{source}: {error.message}"
        lines.append(printable(line))
    return lines


# Control characters, and the line and paragraph separators (U+2028, U+2029) that terminals and
# str.splitlines() also break lines at: each message must stay on its one line.
_UNPRINTABLE = frozenset({"Cc", "Zl", "Zp"})


def printable(text: str) -> str:
    """`text` with its control characters and line separators written as Python escapes."""
    if not any(unicodedata.category(ch) in _UNPRINTABLE for ch in text):
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in _UNPRINTABLE
        else ch
        for ch in text
    )


def _key_path(key) -> str:
    """A top-level key as an error's path: as written, or quoted when it is empty or not text
    (`''`, `0.5`, `None`), so the line still says which key it is."""
    return key if isinstance(key, str) and key.strip() else repr(key)
