"""Encoding values so the apiserver reads back exactly what the console means.

The apiserver turns every `CLEARML__a__b__c` variable into the text `a.b.c: <value>` and parses it
with pyhocon (apiserver/config/basic.py; docs/snippets.md). A value is therefore only correct
when pyhocon, given that line, yields exactly the intended Python value. The rules, each checked
against pyhocon in tests/test_snippets_roundtrip.py:

- booleans are `true`/`false`, None is `null`, integers and finite floats are written as numbers;
- a string is left bare only when it looks like an identifier (`abc`, `Data_Scientists`) and is not
  a HOCON keyword; anything else is put in double quotes (so `#`, `//`, `$`, `@`, spaces, an empty
  string, "true" and "10" all survive);
- inside double quotes only `\\`, `"`, newline, carriage return and tab are escaped. pyhocon decodes
  exactly those (it does not decode `\\uXXXX`, `\\b` or `\\f`), so every other character, non-ASCII
  included, is written as itself; a raw tab would be expanded into spaces by the parser;
- lists are JSON-like lists with every string quoted (`["applications", "pipelines"]`);
- an empty string inside a list is refused: pyhocon silently drops it (`["", "a"]` -> `["a"]`);
- mappings are `{key: value}` with identifier keys (pyhocon keeps the quotes of a quoted key);
- values that cannot be carried by an environment variable or read back reliably are refused with
  ValueError: NUL, other control characters, lone surrogates, NaN and infinities.
"""

import math
import re

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAPPING_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# Bare words pyhocon (or a stricter HOCON reader) would not read back as the same string.
KEYWORDS = {"true", "false", "null", "yes", "no", "on", "off", "include"}
ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# C0 controls other than tab/newline/CR, and DEL: invisible on a page and unsafe to copy.
FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HOCON_PREFIXES = ("CLEARML__", "TRAINS__")
# One segment of a dotted path: letters, digits and single inner underscores. A segment that
# starts or ends with "_" or contains "__" would make the variable name split differently.
PATH_SEGMENT = re.compile(r"^[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*$")


def check_text(value: str, what: str = "value") -> None:
    """Refuse text that no environment variable can carry or that would not read back exactly."""
    if "\x00" in value:
        raise ValueError(f"{what} contains a NUL character, which no environment variable can hold")
    bad = FORBIDDEN.search(value)
    if bad:
        raise ValueError(
            f"{what} contains the control character U+{ord(bad.group()):04X}, which cannot be "
            "shown or copied reliably"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid Unicode text (a lone surrogate)") from None


def quote(text: str) -> str:
    """A double-quoted HOCON string that pyhocon reads back as exactly `text`."""
    check_text(text)
    return '"' + "".join(ESCAPES.get(ch, ch) for ch in text) + '"'


def _scalar_or_container(value: object, bare_strings: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be written as a HOCON number")
        return repr(value)
    if isinstance(value, str):
        check_text(value)
        if bare_strings and IDENTIFIER.fullmatch(value) and value.lower() not in KEYWORDS:
            return value
        return quote(value)
    if isinstance(value, list | tuple):
        if any(v == "" for v in value):
            # pyhocon drops "" from a list (["", "a"] reads back as ["a"]); refuse, don't lose it.
            raise ValueError(
                "an empty string inside a list cannot be written: the apiserver's HOCON parser "
                "(pyhocon) drops it"
            )
        return "[" + ", ".join(_scalar_or_container(v, False) for v in value) + "]"
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            if not isinstance(key, str) or not MAPPING_KEY.fullmatch(key):
                raise ValueError(
                    f"mapping key {key!r} must be letters, digits, '_' or '-' "
                    "(pyhocon keeps the quotes of a quoted key)"
                )
            parts.append(f"{key}: {_scalar_or_container(item, False)}")
        return "{" + ", ".join(parts) + "}"
    raise ValueError(f"a {type(value).__name__} cannot be written as a HOCON value")


def hocon_value(value: object) -> str:
    """The text of an environment variable that the apiserver parses back into exactly `value`."""
    return _scalar_or_container(value, True)


def plain_value(value: object) -> str:
    """The text of a variable that is read as a plain string (e.g. the webserver's WEBSERVER__…)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value!r} is not a number a program can read")
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"a plain (non-HOCON) variable needs a string, not {type(value).__name__}")
    check_text(text)
    return text


def check_env_name(name: str) -> None:
    if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a valid environment variable name "
            "(letters, digits and '_', not starting with a digit)"
        )


def server_path(name: str) -> str:
    """The configuration path the apiserver derives from a variable name (basic.py): the part after
    the prefix, split on `__`, joined with `.`, lower-cased."""
    for prefix in HOCON_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :].replace("__", ".").lower()
    raise ValueError(f"{name!r} does not start with {' or '.join(HOCON_PREFIXES)}")


def check_hocon_name(name: str) -> str:
    """Validate a CLEARML__ variable name and return its server path."""
    check_env_name(name)
    path = server_path(name)
    segments = path.split(".")
    if not path or any(not s for s in segments):
        raise ValueError(f"{name!r} has an empty path segment")
    return path


def env_name_for_path(dotted_path: str, prefix: str = "CLEARML__") -> str:
    """`services.auth.default_groups.Data_Scientists.features` ->
    `CLEARML__services__auth__default_groups__Data_Scientists__features` (case kept)."""
    if not isinstance(dotted_path, str) or not dotted_path:
        raise ValueError("a configuration path is required")
    segments = dotted_path.split(".")
    for segment in segments:
        if not PATH_SEGMENT.fullmatch(segment):
            raise ValueError(
                f"path segment {segment!r} of {dotted_path!r} must be letters and digits joined "
                "by single underscores (no leading, trailing or double '_'), or the variable name "
                "would split into a different path"
            )
    return prefix + "__".join(segments)
