"""Validation errors that name the field path, shared by forms, specs and commands.

A path looks like `tenants[2].admins[0].email`; the same message is shown in a page next to the
field and printed by `plan`/`apply` (exit code 2).
"""

from dataclasses import dataclass


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
