"""The feature catalog: every feature of the ClearML docs' "Available Features" table, in one place.

Forms (choices), SPEC validation (`validate_feature_names`), the effective-features matrix and the
snippet exporter all read this module, so a feature name is spelled and checked in one place only.
Source: reference/clearml-docs/multi_tenant_k8s.md, "Available Features".
"""

from collections.abc import Iterable
from dataclasses import dataclass
from difflib import get_close_matches

from console.validation import FieldError, InvalidInput, shown


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    notes: str = ""
    deprecated: bool = False
    # Oldest apiserver version that knows the feature ("3.25"); None: every supported version.
    min_server_version: str | None = None
    # A UI feature can also be switched per role (services.auth.ui_features_per_role).
    ui: bool = False

    @property
    def label(self) -> str:
        return self.name + (" (deprecated)" if self.deprecated else "")


FEATURES: tuple[Feature, ...] = (
    Feature(
        "user_management",
        "View tenant users and groups, and edit group memberships.",
        "Only effective if the group is assignable.",
    ),
    Feature(
        "user_management_advanced",
        "Create users directly (bypassing invites), for admins and system users.",
        "Often also needs enabling at the organization level.",
    ),
    Feature("permissions", "Edit role-based access control (RBAC) rules."),
    Feature(
        "applications",
        "Work with ClearML Applications (view, run).",
        "Excludes management operations (upload, delete).",
    ),
    Feature("app_management", "Manage applications: upload, delete, enable, disable."),
    Feature(
        "experiments",
        "Work with experiments.",
        "Deprecated, not used: all users have access regardless of this flag.",
        deprecated=True,
    ),
    Feature(
        "queues",
        "Work with queues.",
        "Deprecated, not used: all users have access regardless of this flag.",
        deprecated=True,
    ),
    Feature("queue_management", "Create, update and delete queues."),
    Feature(
        "data_management",
        "Access Hyper-Datasets.",
        "Access may also depend on apiserver.services.excluded.",
    ),
    Feature("config_vault", "Configuration vaults."),
    Feature("pipelines", "Pipelines (building and running)."),
    Feature("reports", "Reports."),
    Feature("resource_dashboard", "The orchestration dashboard."),
    Feature("sso_management", "The SSO (single sign-on) configuration wizard."),
    Feature("service_users", "Create and manage service accounts (API keys)."),
    Feature(
        "resource_policy",
        "Resource policies.",
        "May default to a trial feature if not explicitly enabled.",
    ),
    Feature("model_serving", "Model endpoints."),
    Feature("show_dashboard", 'Shows the "Dashboard" item in the UI sidebar.', ui=True),
    Feature("show_model_view", 'Shows the "Models" item in the UI sidebar.', ui=True),
    Feature("show_projects", 'Shows the "Projects" item in the UI sidebar.', ui=True),
    Feature(
        "show_orchestration",
        'Shows the "Orchestration" item in the UI sidebar.',
        "Available from apiserver version 3.25.",
        min_server_version="3.25",
        ui=True,
    ),
    Feature(
        "show_datasets",
        'Shows the "Datasets" item in the UI sidebar.',
        "Available from apiserver version 3.25.",
        min_server_version="3.25",
        ui=True,
    ),
)

FEATURES_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)

# services.auth.ui_features_per_role.<role>.<ui feature>: the docs only show role `user` with
# show_datasets/show_orchestration; the other sidebar items and roles follow the same pattern.
UI_FEATURES: tuple[Feature, ...] = tuple(f for f in FEATURES if f.ui)
UI_FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in UI_FEATURES)
UI_ROLES: tuple[str, ...] = ("user", "admin", "annotator", "guest")


def feature_choices(include_deprecated: bool = True) -> list[tuple[str, str]]:
    """(value, label) pairs for a form field, in catalog order."""
    return [(f.name, f.label) for f in FEATURES if include_deprecated or not f.deprecated]


def _unknown_message(name: object, known: Iterable[str], kind: str) -> str:
    if not isinstance(name, str):
        return (
            f"Each entry must be a {kind} name (a string), not {type(name).__name__} "
            f"{shown(name)}; write the name, like reports."
        )
    hint = get_close_matches(name.strip().lower(), list(known), n=1)
    if hint:
        return f"{shown(name)} is an unknown {kind}; did you mean '{hint[0]}'?"
    return f"{shown(name)} is an unknown {kind}; pick one of the names in the feature catalog."


def validate_feature_names(
    names: object, path: str = "", *, known: Iterable[str] = FEATURE_NAMES, kind: str = "feature"
) -> list[str]:
    """Check a list of feature names against the catalog and return it as a list of str.

    Raises InvalidInput with one error per problem: `path[i]` names an unknown feature (with a
    suggestion), a non-string entry or a feature listed twice; `path` itself when it is not a list.
    An empty list is valid (for a group it means "no features").
    """
    if names is None:
        return []
    if isinstance(names, str) or not isinstance(names, list | tuple):
        raise InvalidInput(
            FieldError(
                path,
                f"The features must be a list of feature names, like [reports, pipelines], not "
                f"{shown(names)}.",
            )
        )
    known = tuple(known)
    errors: list[FieldError] = []
    seen: set[str] = set()
    result: list[str] = []
    for index, name in enumerate(names):
        item_path = f"{path}[{index}]"
        if not isinstance(name, str) or name not in known:
            errors.append(FieldError(item_path, _unknown_message(name, known, kind)))
            continue
        if name in seen:
            errors.append(
                FieldError(
                    item_path, f"The {kind} '{name}' is listed twice; keep it once in the list."
                )
            )
            continue
        seen.add(name)
        result.append(name)
    if errors:
        raise InvalidInput(errors)
    return result


def sort_features(names: Iterable[str]) -> list[str]:
    """Catalog order, so exported lists and matrix columns are stable."""
    order = {name: i for i, name in enumerate(FEATURE_NAMES)}
    return sorted(set(names), key=lambda n: (order.get(n, len(order)), n))
