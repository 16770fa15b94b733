"""Reading the tenant forms into the SPEC-shaped mapping that tenants.validation checks.

The forms are plain HTML (no Django Form classes): the validation layer is shared with SPEC
files, so a form only turns POST data into `{"name": …, "admins": [{…}], "login": {…}}` and
hands the field-path errors back to the template next to the right input.
"""

import re
from dataclasses import dataclass, field

from console.validation import FieldError, SummaryItem, summary_items
from tenants.features import FEATURES

FEATURE_CHOICES = (("default", "Server default"), ("add", "Add"), ("exclude", "Exclude"))
MAX_ADMIN_ROWS = 20
# One entry per line (or separated by commas / semicolons); spaces inside an entry are kept so
# that "bad domain" is reported as one entry with a space, not as two.
SPLIT = re.compile(r"[\r\n,;]+")


def parse_int(text: str):
    """'' -> None; '12' -> 12; anything else is kept so validation can say what is wrong."""
    text = (text or "").strip().replace("_", "")
    if not text:
        return None
    if re.fullmatch(r"[+-]?\d{1,30}", text):
        return int(text)
    return text


def split_lines(text: str) -> list[str]:
    return [item.strip() for item in SPLIT.split(text or "") if item.strip()]


@dataclass
class FeatureRow:
    name: str
    description: str
    notes: str
    deprecated: bool
    choice: str = "default"
    errors: list[str] = field(default_factory=list)


@dataclass
class AdminRow:
    name: str = ""
    email: str = ""
    internal: bool = True
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def blank(self) -> bool:
        return not self.name.strip() and not self.email.strip()


@dataclass
class TenantForm:
    """What the admin typed, kept for re-rendering, plus errors grouped by field."""

    name: str = ""
    allowed_users: str = ""
    features: list[FeatureRow] = field(default_factory=list)
    admins: list[AdminRow] = field(default_factory=list)
    domains: str = ""
    whitelist_admins: str = ""
    whitelist_users: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def blank(cls, features=(), exclude_features=(), allowed_users=None) -> "TenantForm":
        form = cls(allowed_users="" if allowed_users is None else str(allowed_users))
        form.features = feature_rows(features, exclude_features)
        form.admins = [AdminRow()]
        return form

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(r.errors for r in self.admins + self.features)

    def summary(self) -> list[SummaryItem]:
        """The error summary: every message in the page's order, each linking to its field (the
        ids of templates/tenants/create.html and edit.html)."""

        def field(key: str, target: str) -> list[SummaryItem]:
            return summary_items({key: self.errors.get(key, [])}, {key: target})

        first_feature = f"feature-{self.features[0].name}-default" if self.features else ""
        items = field("general", "") + field("name", "id_name")
        items += field("allowed_users", "id_allowed_users") + field("features", first_feature)
        for row in self.features:
            target = f"feature-{row.name}-{row.choice}"
            items += [SummaryItem(target, message) for message in row.errors]
        items += field("admins", "id_admin-0-name")
        for index, row in enumerate(self.admins):
            for key, messages in row.errors.items():
                target = f"id_admin-{index}-{key}"
                items += [SummaryItem(target, f"Admin {index + 1}: {m}") for m in messages]
        for key in ("domains", "whitelist_admins", "whitelist_users"):
            items += field(key, f"id_{key}")
        known = {"general", "name", "allowed_users", "features", "admins", "domains"}
        known |= {"whitelist_admins", "whitelist_users"}
        others = {k: v for k, v in self.errors.items() if k not in known}
        return items + summary_items(others, {})

    @property
    def feature_summary(self) -> str:
        """The feature choices in a few words: "2 added, 1 excluded; the rest at the server's
        default"."""
        added, excluded = len(self.chosen("add")), len(self.chosen("exclude"))
        if not added and not excluded:
            return "all at the server's default"
        parts = [f"{n} {what}" for n, what in ((added, "added"), (excluded, "excluded")) if n]
        return ", ".join(parts) + "; the rest at the server's default"

    @property
    def features_open(self) -> bool:
        """Whether the features section starts open: a choice was made, or one has an error."""
        return bool(self.errors.get("features")) or any(
            row.errors or row.choice != "default" for row in self.features
        )

    def chosen(self, choice: str) -> list[str]:
        return [row.name for row in self.features if row.choice == choice]

    def as_data(self, *, with_admins: bool = True, with_login: bool = True) -> dict:
        data: dict = {
            "name": self.name,
            "allowed_users": parse_int(self.allowed_users),
            "features": self.chosen("add"),
            "exclude_features": self.chosen("exclude"),
        }
        if with_admins:
            data["admins"] = [
                {"name": row.name, "email": row.email, "internal": row.internal}
                for row in self.admins
            ]
        if with_login:
            domains = split_lines(self.domains)
            admins = split_lines(self.whitelist_admins)
            users = split_lines(self.whitelist_users)
            if domains or admins or users:
                data["login"] = {
                    "domains": domains,
                    "whitelist": {"admins": admins, "users": users},
                }
        return data

    def add_errors(self, errors: list[FieldError]) -> None:
        """Put each error next to its field (by the field path the validation layer gave)."""
        rows = {row.name: row for row in self.features}
        for error in errors:
            path, message = error.path, error.message
            admin = re.match(r"admins\[(\d+)\]\.(\w+)", path)
            feature = re.match(r"(features|exclude_features)\[(\d+)\]", path)
            if admin and int(admin.group(1)) < len(self.admins):
                row = self.admins[int(admin.group(1))]
                row.errors.setdefault(admin.group(2), []).append(message)
            elif feature:
                chosen = self.chosen("add" if feature.group(1) == "features" else "exclude")
                index = int(feature.group(2))
                if index < len(chosen):
                    rows[chosen[index]].errors.append(message)
                else:
                    self.errors.setdefault("features", []).append(message)
            else:
                self.errors.setdefault(field_key(path), []).append(message)


def field_key(path: str) -> str:
    if path.startswith("login.domains"):
        return "domains"
    if path.startswith("login.whitelist.admins"):
        return "whitelist_admins"
    if path.startswith("login.whitelist.users"):
        return "whitelist_users"
    if path.startswith("login"):
        return "domains"
    if path.startswith(("features", "exclude_features")):
        return "features"
    head = re.split(r"[.\[]", path, maxsplit=1)[0]
    return head or "general"


def feature_rows(features=(), exclude_features=(), post=None) -> list[FeatureRow]:
    rows = []
    for feature in FEATURES:
        if post is not None:
            choice = post.get(f"feature__{feature.name}", "default")
            choice = choice if choice in ("add", "exclude") else "default"
        elif feature.name in features:
            choice = "add"
        elif feature.name in exclude_features:
            choice = "exclude"
        else:
            choice = "default"
        rows.append(
            FeatureRow(feature.name, feature.description, feature.notes, feature.deprecated, choice)
        )
    return rows


def form_from_post(post, *, with_admins: bool = True) -> TenantForm:
    form = TenantForm(
        name=post.get("name", ""),
        allowed_users=post.get("allowed_users", ""),
        domains=post.get("domains", ""),
        whitelist_admins=post.get("whitelist_admins", ""),
        whitelist_users=post.get("whitelist_users", ""),
    )
    form.features = feature_rows(post=post)
    if with_admins:
        try:
            count = min(int(post.get("admin_rows", "1")), MAX_ADMIN_ROWS)
        except ValueError:
            count = 1
        rows = [
            AdminRow(
                name=post.get(f"admin-{i}-name", ""),
                email=post.get(f"admin-{i}-email", ""),
                internal=post.get(f"admin-{i}-internal") == "on",
            )
            for i in range(max(count, 1))
        ]
        # Blank rows are dropped so the rows shown again match the paths of the errors.
        form.admins = [row for row in rows if not row.blank] or [AdminRow()]
    return form
