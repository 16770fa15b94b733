"""How the apiserver reads a variable's text, without pyhocon at run time.

The server parses `<path>: <text>` as HOCON (docs/snippets.md): a JSON-quoted string is read
exactly; unquoted text ends at `#` or `//` (a comment). The audit compares what the server reads,
not the text as written, so `"abc"` in a Docker env file and `abc` in a compose file are the same.
"""

import json
import re
import shlex

FALSE_WORDS = {"false", "no", "off", "0"}
TRUE_WORDS = {"true", "yes", "on", "1"}


def hocon_read(text: str) -> tuple[str, str]:
    """(the string the server reads, a note when that differs from what a reader expects)."""
    t = text.strip()
    if t.startswith('"""') and t.endswith('"""') and len(t) >= 6:
        return t[3:-3], ""
    if t.startswith('"'):
        try:
            value, end = json.JSONDecoder().raw_decode(t)
        except ValueError:
            return t, "the quotes are not balanced; the server cannot parse this value"
        rest = t[end:].strip()
        if isinstance(value, str) and (not rest or rest.startswith(("#", "//"))):
            return value, ""
        return t, "text follows the closing quote; the server reads a concatenation"
    cuts = [i for i in (t.find("#"), t.find("//")) if i >= 0]
    if cuts:
        cut = min(cuts)
        marker = "#" if t[cut] == "#" else "//"
        return t[:cut].rstrip(), f"the server reads only the text before '{marker}' (a comment)"
    return t, ""


def strip_matching_quotes(text: str) -> str:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    return t


def readings(text: str) -> tuple[str, tuple[str, ...], str]:
    """(primary value, every plausible reading, note) of a variable's text.

    Tools differ on quotes (Docker's --env-file keeps them, compose's .env removes them), so a
    known default is matched against every reading; lengths use the primary one.
    """
    primary, note = hocon_read(text)
    candidates = {primary, text.strip(), strip_matching_quotes(text)}
    candidates.add(hocon_read(strip_matching_quotes(text))[0])
    return primary, tuple(sorted(c for c in candidates if c)), note


def is_false(text: str) -> bool:
    return hocon_read(text)[0].strip().lower() in FALSE_WORDS


def is_true(text: str) -> bool:
    return hocon_read(text)[0].strip().lower() in TRUE_WORDS


def shell_value(text: str) -> str:
    """The value of `export NAME=<text>` after a POSIX shell's quote removal."""
    parts = shlex.split(text, comments=True, posix=True)
    return "".join(parts)


_INTERPOLATION = re.compile(
    r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<default>.*))?\}$|"
    r"^\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)$"
)


def compose_interpolation(text: str) -> tuple[str, str | None] | None:
    """For `${NAME}`, `${NAME:-default}` or `$NAME`: (NAME, default or None); else None.

    Text with `$` elsewhere (other than the `$$` escape) is reported as a reference too, with no
    default, because its value depends on the environment compose runs in.
    """
    t = text.strip()
    match = _INTERPOLATION.match(t)
    if match:
        name = match.group("name") or match.group("bare")
        default = match.group("default") if match.group("op") in (":-", "-") else None
        return name, default
    if "$" in t.replace("$$", ""):
        found = re.search(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", t)
        return (found.group(1) if found else "?"), None
    return None
