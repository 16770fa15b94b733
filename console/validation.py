"""Validation errors that name the field path, shared by forms, specs and commands.

A path looks like `tenants[2].admins[0].email`; the same message is shown in a page next to the
field and printed by `plan`/`apply` (exit code 2).
"""

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# How much of a value a message repeats: enough to recognise it, never a 60,000-character wall.
SHOWN_CHARACTERS = 60


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InvalidInput(Exception):
    """One or more field errors; raised by validators, caught by views and commands."""

    def __init__(self, errors: list[FieldError] | FieldError):
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))

    def prefixed(self, prefix: str) -> "InvalidInput":
        return InvalidInput([FieldError(join_path(prefix, e.path), e.message) for e in self.errors])


def join_path(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def shown(
    value: object, limit: int = SHOWN_CHARACTERS, *, length: bool = True, visible: bool = False
) -> str:
    """A value as a message quotes it: `'acme.io'`; a long one is cut (and its length given).

    `visible`: Python's repr, which writes white space and control characters as escapes
    (`'\\tacme'`), for messages about them. A value holding a control or invisible character
    (a line break) is always written so: a message is one line, fit for a terminal."""
    if isinstance(value, str):
        text = value
        if not visible and any(unicodedata.category(ch).startswith("C") for ch in text):
            visible = True
        quote = repr if visible else (lambda t: f"'{t}'")
    else:  # a number, true/false, a list: as Python writes it, without quotes
        text, quote = repr(value), str
    if len(text) <= limit:
        return quote(text)
    cut = quote(text[: limit - 1]) + "…"
    return f"{cut} ({len(text):,} characters)" if length else cut


def too_long(what: str, value: str, limit: int) -> str:
    """The one message for a value past its length limit: the field, the value, what to do."""
    quoted = shown(value, length=False)
    return f"{what} {quoted} is {len(value):,} characters long; shorten it to at most {limit:,}."


class ErrorCollector:
    """Collects field errors so a form or spec reports every problem at once."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self.errors: list[FieldError] = []

    def add(self, path: str, message: str) -> None:
        self.errors.append(FieldError(join_path(self.prefix, path), message))

    def extend(self, exc: InvalidInput, prefix: str = "") -> None:
        for e in exc.errors:
            self.errors.append(
                FieldError(join_path(join_path(self.prefix, prefix), e.path), e.message)
            )

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)

    def __bool__(self) -> bool:
        return bool(self.errors)


@dataclass(frozen=True)
class SummaryItem:
    """One line of a form's error summary (templates/console/_error_summary.html): the message,
    and the DOM id of the field it links to ("" when no one field is at fault)."""

    target: str
    message: str


def summary_items(
    errors: Mapping[str, Iterable[str]], targets: Mapping[str, str], default: str = ""
) -> list[SummaryItem]:
    """The messages of `errors` ({field key: messages}) as summary items, in the order of
    `targets` ({field key: DOM id}); keys without a target link to `default`."""
    order = {key: i for i, key in enumerate(targets)}
    keys = sorted(errors, key=lambda k: order.get(k, len(order)))
    return [
        SummaryItem(targets.get(key, default), message) for key in keys for message in errors[key]
    ]
