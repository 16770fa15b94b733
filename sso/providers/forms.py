"""Browser forms generated from field definitions (catalog.FieldDef), not written per provider.

A form is read into the SPEC's shape and checked by the same code as a SPEC (spec.py); errors
come back with field paths and are shown next to their field. Secret fields are write-only: the
page shows whether a value is set, an empty input keeps it, typing replaces it, and a 'clear'
box removes it. Values typed into a form that fails are shown again as typed, except secrets.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from console.validation import InvalidInput, SummaryItem, shown
from tenants.models import Tenant

from . import catalog
from .catalog import FieldDef
from .spec import env_reference

BOOL_CHOICES = [("", "Not set (server default)"), ("true", "true"), ("false", "false")]
MAP_LINE = re.compile(r"^\s*([^=:\s]+)\s*[=:]\s*(.*?)\s*$")


@dataclass
class BoundField:
    f: FieldDef
    name: str
    dom_id: str
    widget: str  # text | url | textarea | select | secret | nullable_text
    value: str = ""
    errors: list[str] = field(default_factory=list)
    choices: list[tuple[str, str]] = field(default_factory=list)
    variable: str = ""
    secret_state: str = ""  # unset | set | env
    env_name: str = ""
    disabled_empty: bool = False  # nullable_text: "disabled" (an empty value) is ticked

    @property
    def label(self) -> str:
        return self.f.label

    @property
    def required(self) -> bool:
        return self.f.required


class BoundGroups(list):
    """[(fieldset legend, [BoundField, …]), …] as bind() returns them; `summary` is the form's
    error summary (templates/console/_error_summary.html): each message links to its input."""

    def summary(self) -> list[SummaryItem]:
        return [
            SummaryItem(bf.dom_id, message)
            for _, fields in self
            for bf in fields
            for message in bf.errors
        ]


def dom_id(prefix: str, key: str) -> str:
    return "f-" + (prefix + key).replace(".", "-").replace("_", "-")


def to_raw(f: FieldDef, value: object) -> str:
    """A stored value as the text its input shows."""
    if value is None:
        return ""
    if f.type == catalog.BOOL:
        return "true" if value else "false"
    if f.type == catalog.LIST:
        return "\n".join(str(v) for v in value)
    if f.type == catalog.MAP:
        return "\n".join(f"{k} = {v}" for k, v in dict(value).items())
    return str(value)


def raw_from_values(fields: Iterable[FieldDef], values: Mapping[str, object]) -> dict[str, str]:
    raw = {}
    for f in fields:
        if f.key in values and not f.is_secret:
            raw[f.key] = to_raw(f, values[f.key])
            if f.allow_empty and values[f.key] == "":
                raw[f.key + ".disabled"] = "on"
    return raw


def raw_from_post(fields: Iterable[FieldDef], post: Mapping[str, str], prefix: str = "") -> dict:
    raw = {}
    for f in fields:
        if f.is_secret:
            continue
        raw[f.key] = post.get(prefix + f.key, "")
        if f.allow_empty and post.get(prefix + f.key + ".disabled"):
            raw[f.key + ".disabled"] = "on"
    return raw


def parse_post(
    fields: Iterable[FieldDef],
    post: Mapping[str, str],
    *,
    existing_secrets: Mapping[str, str],
    prefix: str = "",
) -> tuple[dict[str, object], dict[str, list[str]], list[str]]:
    """(values by field key, errors by field key, notes). Empty inputs leave a key out."""
    values: dict[str, object] = {}
    errors: dict[str, list[str]] = {}
    for f in fields:
        name = prefix + f.key
        text = post.get(name, "")
        if f.is_secret:
            if post.get(name + ".clear"):
                continue
            if text.strip():
                values[f.key] = text.strip()
            elif existing_secrets.get(f.key):
                values[f.key] = existing_secrets[f.key]
            continue
        if f.allow_empty and post.get(name + ".disabled"):
            values[f.key] = ""
            continue
        if not text.strip():
            continue
        if f.type == catalog.BOOL:
            if text not in ("true", "false"):
                errors.setdefault(f.key, []).append(
                    f"{f.label} must be true, false or not set, not {shown(text)}; choose one."
                )
            else:
                values[f.key] = text == "true"
        elif f.type == catalog.LIST:
            values[f.key] = [line.strip() for line in text.splitlines() if line.strip()]
        elif f.type == catalog.MAP:
            mapping: dict[str, str] = {}
            for n, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                m = MAP_LINE.match(line)
                if not m or not m.group(2):
                    errors.setdefault(f.key, []).append(
                        f"{f.label}, line {n}: {shown(line.strip())} is not a mapping line; "
                        "write name = attribute."
                    )
                    continue
                if m.group(1) in mapping:
                    errors.setdefault(f.key, []).append(
                        f"{f.label}, line {n}: '{m.group(1)}' is given twice; keep one line."
                    )
                mapping[m.group(1)] = m.group(2)
            values[f.key] = mapping
        else:
            values[f.key] = text.strip()
    return values, errors, []


def nest(values: Mapping[str, object]) -> dict:
    """{"groups.enabled": True} -> {"groups": {"enabled": True}}."""
    out: dict = {}
    for key, value in values.items():
        node = out
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def errors_by_field(
    exc: InvalidInput, fields: Iterable[FieldDef], base: str = ""
) -> tuple[dict[str, list[str]], list[str]]:
    """Split a validation error's paths onto the form's fields (longest key wins)."""
    keys = sorted((f.key for f in fields), key=len, reverse=True)
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for error in exc.errors:
        path = error.path
        if base and path.startswith(base):
            path = path[len(base) :].lstrip(".")
        match = next(
            (k for k in keys if path == k or path.startswith(k + ".") or path.startswith(k + "[")),
            None,
        )
        if match is None:
            other.append(str(error) if error.path else error.message)
            continue
        detail = path[len(match) :].lstrip(".")
        message = f"{detail}: {error.message}" if detail else error.message
        by_field.setdefault(match, []).append(message)
    return by_field, other


def bind(
    fields: Iterable[FieldDef],
    *,
    raw: Mapping[str, str],
    errors: Mapping[str, list[str]],
    secrets: Mapping[str, str],
    company_choices: list[tuple[str, str]] = (),
    variable=None,
    prefix: str = "",
) -> BoundGroups:
    """Fields grouped by fieldset, ready for templates/sso/providers/_field.html."""
    groups: dict[str, list[BoundField]] = {}
    for f in fields:
        bf = BoundField(
            f=f,
            name=prefix + f.key,
            dom_id=dom_id(prefix, f.key),
            widget="text",
            value=raw.get(f.key, ""),
            errors=list(errors.get(f.key, [])),
            variable=variable(f) if variable else "",
        )
        if f.type == catalog.URL:
            bf.widget = "url"
        elif f.type in (catalog.LIST, catalog.MAP):
            bf.widget = "textarea"
        elif f.type == catalog.BOOL:
            bf.widget = "select"
            bf.choices = list(BOOL_CHOICES)
        elif f.type == catalog.CHOICE:
            bf.widget = "select"
            bf.choices = [("", "Not set")] + [(c, c) for c in f.choices]
        elif f.type == catalog.COMPANY:
            bf.widget = "select"
            bf.choices = [("", "None: only whitelisted or invited users")] + list(company_choices)
            if bf.value and bf.value not in {c for c, _ in bf.choices}:
                if bf.value.startswith("tenant:"):  # a SPEC's reference, resolved on export
                    label = f"{bf.value} (SPEC reference)"
                else:
                    label = f"{bf.value} (not a console tenant)"
                bf.choices.append((bf.value, label))
        elif f.is_secret:
            bf.widget = "secret"
            stored = secrets.get(f.key, "")
            name = env_reference(stored) if stored else None
            bf.secret_state = "env" if name else ("set" if stored else "unset")
            bf.env_name = name or ""
            bf.value = ""
        elif f.allow_empty:
            bf.widget = "nullable_text"
            bf.disabled_empty = bool(raw.get(f.key + ".disabled"))
        groups.setdefault(f.group, []).append(bf)
    return BoundGroups(groups.items())


def tenant_company_choices() -> list[tuple[str, str]]:
    """Console tenants that have a ClearML company. The form stores the company id (a rename of
    the tenant does not break it); a SPEC may write tenant:<name> instead."""
    rows = Tenant.objects.filter(deleted_at__isnull=True).exclude(company_id="").order_by("name")
    return [(t.company_id, f"{t.name} ({t.company_id})") for t in rows]
