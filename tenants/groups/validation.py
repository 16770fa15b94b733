"""Validating groups, built-in group features and organization settings: one layer for the forms
and the SPEC's `groups`, `builtin_groups` and `organization` sections (docs/spec.md).

Every function reports every problem at once, as InvalidInput with full field paths
(`groups[1].features[0]`).

Nothing is trimmed: a name, display name or id with white space at the start or end is refused
with the value and what to do, so what is stored (and exported) is exactly what was written.
"""

import re
import uuid
from dataclasses import dataclass, field

from console.snippets.encoding import check_text
from console.validation import ErrorCollector, FieldError, InvalidInput, join_path, shown, too_long
from tenants.features import UI_FEATURE_NAMES, UI_ROLES, validate_feature_names

from .models import BUILTIN_GROUPS, MAX_DISPLAY_NAME, MAX_GROUP_NAME

GROUP_KEYS = ("name", "display_name", "id", "features", "assignable", "system")
ORGANIZATION_KEYS = ("features", "unique_company_names", "ui_features_per_role")
UUID_TEXT = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
DOCS_EXAMPLE_ID = "abcd-1234-abcd-1234"
NAME_CHARS = re.compile(r"[^A-Za-z0-9_]")


@dataclass
class GroupInput:
    name: str
    display_name: str = ""
    group_id: str | None = None  # None: generate (or keep the stored one)
    features: list[str] = field(default_factory=list)
    assignable: bool = False

    def as_spec(self) -> dict:
        out: dict = {"name": self.name}
        if self.display_name:
            out["display_name"] = self.display_name
        if self.group_id:
            out["id"] = self.group_id
        out["features"] = list(self.features)
        out["assignable"] = self.assignable
        return out


@dataclass
class OrganizationInput:
    features: list[str] = field(default_factory=list)
    unique_company_names: bool | None = None
    ui_features_per_role: dict[str, dict[str, bool]] = field(default_factory=dict)


def _keys_of(data: dict, allowed, path: str, errors: ErrorCollector, what: str) -> None:
    for key in data:
        if key not in allowed:
            errors.add(
                join_path(path, str(key)),
                f"{shown(str(key))} is an unknown key for {what}; the known keys are "
                f"{', '.join(allowed)}.",
            )


def surrounding_space_problem(text: str, why: str, blank_fix: str, what: str = "") -> str:
    """Why `text` cannot be used because of white space at its start or end, or "" when it can.

    `why` says why the spaces matter, `blank_fix` what to write instead of only white space,
    `what` names the field ("The display name").
    """
    if text == text.strip():
        return ""
    quoted = shown(text, visible=True)
    subject = f"{what} {quoted}" if what else quoted
    if not text.strip():
        return f"{subject} is only white space; {blank_fix}."
    first, last = text[0].isspace(), text[-1].isspace()
    where = "starts and ends" if first and last else ("starts" if first else "ends")
    return f"{subject} {where} with white space; remove it ({why})."


GROUP_NAME_REQUIRED = (
    "A group name is required; use letters, digits and single underscores, like data_scientists."
)


def group_name_problem(name: object) -> str:
    """Why `name` cannot be a group name in a variable path, or "" when it can."""
    if not isinstance(name, str) or not name:
        return GROUP_NAME_REQUIRED
    if len(name) > MAX_GROUP_NAME:
        return too_long("The group name", name, MAX_GROUP_NAME)
    subject = f"The group name {shown(name)}"
    bad = NAME_CHARS.search(name)
    if bad:
        char = "a space" if bad.group().isspace() else shown(bad.group())
        return (
            f"{subject} contains {char}; use only letters, digits and single underscores "
            "(it is part of the variable name CLEARML__services__auth__default_groups__<name>__…)."
        )
    if name[0].isdigit():
        return f"{subject} starts with a digit; start it with a letter."
    if name.startswith("_"):
        return f"{subject} starts with '_'; start it with a letter."
    if "__" in name:
        return (
            f"{subject} contains '__', which separates the parts of the variable name; use a "
            "single underscore."
        )
    if name.endswith("_"):
        return (
            f"{subject} ends with '_', which before the '__' separator would make '___'; remove it."
        )
    return ""


def validate_group_name(
    name: object,
    path: str = "name",
    *,
    taken: dict[str, str] | None = None,
) -> str:
    """A valid cross-tenant group name, or InvalidInput saying which rule is broken.

    `taken` maps lower-cased names already in use to their spelling (the server lower-cases
    variable paths, so `Team` and `team` would be one group).
    """
    problem = ""
    if isinstance(name, str) and name:
        problem = surrounding_space_problem(
            name,
            "the name is part of the variable names CLEARML__services__auth__default_groups__"
            "<name>__…",
            "write a name like data_scientists",
            "The group name",
        )
    problem = problem or group_name_problem(name)
    if problem:
        raise InvalidInput(FieldError(path, problem))
    if name.lower() in BUILTIN_GROUPS:
        raise InvalidInput(
            FieldError(
                path,
                f"The group name '{name}' is a built-in group's; set its features under Built-in "
                "groups (builtin_groups in a SPEC), or choose another name.",
            )
        )
    other = (taken or {}).get(name.lower())
    if other is not None:
        same = "" if other == name else f" as '{other}'"
        raise InvalidInput(
            FieldError(
                path,
                f"The group name '{name}' is already used{same}; the server lower-cases group "
                "names, so names that differ only in case are the same group. Choose another "
                "name.",
            )
        )
    return name


def validate_group_id(value: object, path: str = "id") -> str | None:
    """A UUID in its canonical lower-case form (a UUID's case carries no meaning); None when not
    given. White space around it is refused, not trimmed."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(
            FieldError(
                path,
                f"The group id must be a UUID written as text, not {shown(value)}; leave it out "
                "to have one generated.",
            )
        )
    problem = surrounding_space_problem(
        value,
        "an id is 8-4-4-4-12 hexadecimal digits and nothing else",
        "leave it out (or empty) to have one generated",
        "The group id",
    )
    if problem:
        raise InvalidInput(FieldError(path, problem))
    text = value
    if not UUID_TEXT.match(text):
        example = str(uuid.uuid4())
        if text.lower() == DOCS_EXAMPLE_ID:
            why = f"The group id '{text}' is the docs' example, which is not a UUID"
        else:
            why = f"The group id {shown(text)} is not a UUID (8-4-4-4-12 hexadecimal digits)"
        raise InvalidInput(
            FieldError(
                path, f"{why}; use the form {example}, or leave it empty to have one generated."
            )
        )
    return str(uuid.UUID(text))


def validate_display_name(value: object, path: str = "display_name") -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(
            FieldError(path, f"The display name must be text, not {shown(value)}; quote it.")
        )
    text = value
    if len(text) > MAX_DISPLAY_NAME:
        raise InvalidInput(FieldError(path, too_long("The display name", text, MAX_DISPLAY_NAME)))
    problem = surrounding_space_problem(
        text,
        "the ClearML web app shows the display name exactly as written",
        "leave display_name out (or empty) to show the group name",
        "The display name",
    )
    if problem:
        raise InvalidInput(FieldError(path, problem))
    try:
        check_text(text, "the display name")
    except ValueError as exc:
        raise InvalidInput(FieldError(path, str(exc))) from None
    return text


def _bool(
    value: object, path: str, errors: ErrorCollector, default: bool | None = False, what: str = ""
):
    if value is None:
        return default
    if not isinstance(value, bool):
        errors.add(path, f"{what or 'The value'} must be true or false, not {shown(value)}.")
        return default
    return value


def validate_group(
    data: object, path: str = "", *, taken: dict[str, str] | None = None
) -> GroupInput:
    """One group, shaped like a SPEC `groups[]` entry."""
    if not isinstance(data, dict):
        raise InvalidInput(
            FieldError(path, f"A group must be a mapping (name, features, …), not {shown(data)}.")
        )
    errors = ErrorCollector()
    _keys_of(data, GROUP_KEYS, path, errors, "a group")
    result = GroupInput(name="")
    for key, check in (
        ("name", lambda v, p: validate_group_name(v, p, taken=taken)),
        ("display_name", validate_display_name),
        ("id", validate_group_id),
        ("features", validate_feature_names),
    ):
        try:
            value = check(data.get(key), join_path(path, key))
        except InvalidInput as exc:
            errors.extend(exc)
            continue
        setattr(result, {"id": "group_id"}.get(key, key), value)
    result.assignable = _bool(
        data.get("assignable"), join_path(path, "assignable"), errors, what="Assignable"
    )
    if data.get("system") not in (None, False):
        errors.add(
            join_path(path, "system"),
            f"System is always false for cross-tenant groups, not {shown(data.get('system'))}; "
            "remove it or write false.",
        )
    errors.raise_if_any()
    return result


def validate_groups_section(section: object, path: str = "groups") -> list[GroupInput]:
    """The SPEC's `groups` list: valid groups, unique names (ignoring case) and unique ids."""
    if section is None:
        return []
    if not isinstance(section, list):
        raise InvalidInput(
            FieldError(path, f"The groups must be a list of groups, not {shown(section)}.")
        )
    errors = ErrorCollector()
    taken: dict[str, str] = {}
    ids: dict[str, int] = {}
    groups = []
    for index, item in enumerate(section):
        item_path = f"{path}[{index}]"
        try:
            group = validate_group(item, item_path, taken=taken)
        except InvalidInput as exc:
            errors.extend(exc)
            continue
        taken[group.name.lower()] = group.name
        if group.group_id:
            if group.group_id in ids:
                errors.add(
                    join_path(item_path, "id"),
                    f"The group id {group.group_id} is also the id of "
                    f"{path}[{ids[group.group_id]}]; give each group its own id.",
                )
            ids[group.group_id] = index
        groups.append(group)
    errors.raise_if_any()
    return groups


def validate_builtin_groups_section(
    section: object, path: str = "builtin_groups"
) -> dict[str, list[str] | None]:
    """{users|admins|queue_admins: feature list}; an empty list is kept, `null` means not set."""
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise InvalidInput(
            FieldError(
                path,
                f"The built-in groups must be a mapping (users, admins, queue_admins), not "
                f"{shown(section)}.",
            )
        )
    errors = ErrorCollector()
    result: dict[str, list[str] | None] = {}
    for name, features in section.items():
        item_path = join_path(path, str(name))
        if name not in BUILTIN_GROUPS:
            errors.add(
                item_path,
                f"{shown(str(name))} is an unknown built-in group; the built-in groups are "
                f"{', '.join(BUILTIN_GROUPS)} (define other groups under groups).",
            )
            continue
        if features is None:
            result[name] = None
            continue
        try:
            result[name] = validate_feature_names(features, item_path)
        except InvalidInput as exc:
            errors.extend(exc)
    errors.raise_if_any()
    return result


def validate_ui_features_per_role(value: object, path: str) -> dict[str, dict[str, bool]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(
            FieldError(
                path,
                f"The UI features per role must be a mapping of role to UI features, not "
                f"{shown(value)}.",
            )
        )
    errors = ErrorCollector()
    result: dict[str, dict[str, bool]] = {}
    for role, features in value.items():
        role_path = join_path(path, str(role))
        if role not in UI_ROLES:
            errors.add(
                role_path,
                f"{shown(str(role))} is an unknown role; the known roles are "
                f"{', '.join(UI_ROLES)}.",
            )
            continue
        if not isinstance(features, dict):
            errors.add(
                role_path,
                f"The UI features of role '{role}' must be a mapping of UI feature to true or "
                f"false, not {shown(features)}.",
            )
            continue
        result[role] = {}
        for feature, enabled in features.items():
            feature_path = join_path(role_path, str(feature))
            if feature not in UI_FEATURE_NAMES:
                errors.add(
                    feature_path,
                    f"{shown(str(feature))} is an unknown UI feature; the known ones are "
                    f"{', '.join(UI_FEATURE_NAMES)}.",
                )
            elif not isinstance(enabled, bool):
                errors.add(
                    feature_path,
                    f"The UI feature {feature} of role '{role}' must be true or false, not "
                    f"{shown(enabled)}.",
                )
            else:
                result[role][feature] = enabled
        if not result[role]:
            del result[role]
    errors.raise_if_any()
    return result


def validate_organization_section(section: object, path: str = "organization") -> OrganizationInput:
    if section is None:
        return OrganizationInput()
    if not isinstance(section, dict):
        raise InvalidInput(
            FieldError(
                path,
                f"The organization settings must be a mapping ({', '.join(ORGANIZATION_KEYS)}), "
                f"not {shown(section)}.",
            )
        )
    errors = ErrorCollector()
    _keys_of(section, ORGANIZATION_KEYS, path, errors, "the organization settings")
    result = OrganizationInput()
    try:
        result.features = validate_feature_names(
            section.get("features"), join_path(path, "features")
        )
    except InvalidInput as exc:
        errors.extend(exc)
    result.unique_company_names = _bool(
        section.get("unique_company_names"),
        join_path(path, "unique_company_names"),
        errors,
        default=None,
        what="Unique company names",
    )
    try:
        result.ui_features_per_role = validate_ui_features_per_role(
            section.get("ui_features_per_role"), join_path(path, "ui_features_per_role")
        )
    except InvalidInput as exc:
        errors.extend(exc)
    errors.raise_if_any()
    return result


def validate_server_sections(spec: dict) -> tuple[list[GroupInput], dict, OrganizationInput]:
    """The three sections of a parsed SPEC this module owns, all problems reported at once."""
    errors = ErrorCollector()
    groups: list[GroupInput] = []
    builtin: dict = {}
    organization = OrganizationInput()
    try:
        groups = validate_groups_section(spec.get("groups"))
    except InvalidInput as exc:
        errors.extend(exc)
    try:
        builtin = validate_builtin_groups_section(spec.get("builtin_groups"))
    except InvalidInput as exc:
        errors.extend(exc)
    try:
        organization = validate_organization_section(spec.get("organization"))
    except InvalidInput as exc:
        errors.extend(exc)
    errors.raise_if_any()
    return groups, builtin, organization
