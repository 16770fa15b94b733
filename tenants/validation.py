"""The one validation layer for a tenant: the create form, the edit form and SPEC files use it.

Input is a plain mapping shaped like a SPEC's `tenants[]` entry; every problem is reported at
once with its field path (`admins[0].email`, or `tenants[2].admins[0].email` in a SPEC).
"""

import unicodedata
from dataclasses import dataclass, field

from console.identifiers import normalize_email
from console.validation import ErrorCollector, FieldError, InvalidInput, join_path, shown, too_long
from tenants.features import validate_feature_names
from tenants.models import MAX_ADMIN_NAME, MAX_TENANT_NAME, Tenant, TenantAdmin

MAX_ALLOWED_USERS = 1_000_000
MAX_ADMINS = 20
TENANT_KEYS = ("name", "allowed_users", "features", "exclude_features", "admins", "login", "sso")
ADMIN_KEYS = ("name", "email", "internal")


@dataclass
class AdminInput:
    name: str
    email: str
    internal: bool = True

    def as_spec(self) -> dict:
        return {"name": self.name, "email": self.email, "internal": self.internal}


@dataclass
class TenantInput:
    """A validated tenant. `login`/`sso` are None when the input did not mention them."""

    name: str
    allowed_users: int | None = None
    features: list[str] = field(default_factory=list)
    exclude_features: list[str] = field(default_factory=list)
    admins: list[AdminInput] = field(default_factory=list)
    login: object | None = None  # sso.routing RoutingSet
    sso: object | None = None  # sso.multitenant's validated settings
    path: str = ""
    tenant_id: int | None = None
    warnings: list[FieldError] = field(default_factory=list)
    # The keys the input gave: a SPEC manages only the settings it names.
    given: set[str] = field(default_factory=set)


def fold(text: str) -> str:
    return text.strip().casefold()


NAME_REQUIRED = (
    f"The tenant name is required; give the tenant a name of at most {MAX_TENANT_NAME} characters."
)


def kind_of(value) -> str:
    """What a value of the wrong type is, as a message says it."""
    if isinstance(value, bool):
        return "true/false"
    return {dict: "a mapping", list: "a list", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def clean_name(value, path: str, errors: ErrorCollector) -> str:
    if not isinstance(value, str):
        errors.add(
            path,
            NAME_REQUIRED
            if value is None
            else f"The tenant name must be text, not {kind_of(value)}; quote it in YAML.",
        )
        return ""
    name = " ".join(value.split())
    if not name:
        errors.add(path, NAME_REQUIRED)
    elif len(name) > MAX_TENANT_NAME:
        errors.add(path, too_long("The tenant name", name, MAX_TENANT_NAME))
    elif any(unicodedata.category(ch).startswith("C") for ch in name):
        errors.add(
            path,
            f"The tenant name {shown(name)} contains control or invisible characters; retype it "
            "without them.",
        )
    return name


def clean_allowed_users(value, path: str, errors: ErrorCollector) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(
            path,
            f"Allowed users must be a whole number from 1 to {MAX_ALLOWED_USERS:,}, not "
            f"{shown(value)}; leave it empty for the server's default.",
        )
        return None
    if value < 1:
        errors.add(
            path,
            f"Allowed users must be at least 1, not {value}; leave it empty for the server's "
            "default.",
        )
        return None
    if value > MAX_ALLOWED_USERS:
        errors.add(
            path, f"Allowed users must be at most {MAX_ALLOWED_USERS:,}, not {value:,}; lower it."
        )
        return None
    return value


def clean_features(data: dict, path: str, errors: ErrorCollector) -> tuple[list, list]:
    lists = {}
    for key in ("features", "exclude_features"):
        try:
            lists[key] = validate_feature_names(data.get(key), join_path(path, key))
        except InvalidInput as exc:
            errors.extend(exc)
            lists[key] = []
    added = set(lists["features"])
    for index, name in enumerate(lists["exclude_features"]):
        if name in added:
            errors.add(
                join_path(path, f"exclude_features[{index}]"),
                f"The feature '{name}' is both added and excluded; choose one of the two.",
            )
    return lists["features"], lists["exclude_features"]


def clean_admins(value, path: str, errors: ErrorCollector) -> list[AdminInput]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(
            path,
            f"The admins must be a list of admins (each with name, email and internal), not "
            f"{kind_of(value)}.",
        )
        return []
    if len(value) > MAX_ADMINS:
        errors.add(
            path,
            f"A tenant has at most {MAX_ADMINS} admins; {len(value)} are listed, so remove "
            f"{len(value) - MAX_ADMINS}.",
        )
    admins: list[AdminInput] = []
    first_seen: dict[str, str] = {}
    for index, item in enumerate(value):
        item_path = join_path(path, f"[{index}]")
        if not isinstance(item, dict):
            errors.add(
                item_path,
                f"An admin must be a mapping with name, email and internal, not {kind_of(item)}.",
            )
            continue
        for key in item:
            if key not in ADMIN_KEYS:
                errors.add(
                    join_path(item_path, str(key)),
                    f"{shown(str(key))} is an unknown key for an admin; the known keys are "
                    f"{', '.join(ADMIN_KEYS)}.",
                )
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.add(
                join_path(item_path, "name"), "The admin's name is required; write their name."
            )
            name = ""
        elif len(name.strip()) > MAX_ADMIN_NAME:
            errors.add(
                join_path(item_path, "name"),
                too_long("The admin's name", name.strip(), MAX_ADMIN_NAME),
            )
        email_path = join_path(item_path, "email")
        email = ""
        raw_email = item.get("email")
        if not isinstance(raw_email, str):
            errors.add(
                email_path,
                "The admin's email address is required; write one like name@example.com.",
            )
        else:
            try:
                email = normalize_email(raw_email, email_path)
            except InvalidInput as exc:
                errors.extend(exc)
        if email and email in first_seen:
            errors.add(
                email_path,
                f"The email address '{email}' is listed twice (also at {first_seen[email]}); "
                "give each admin their own address.",
            )
            email = ""
        elif email:
            first_seen[email] = email_path
        internal = item.get("internal", True)
        if internal is None:
            internal = True
        if not isinstance(internal, bool):
            errors.add(
                join_path(item_path, "internal"),
                f"Internal must be true or false, not {shown(internal)}.",
            )
            internal = True
        admins.append(AdminInput(name=(name or "").strip(), email=email, internal=internal))
    return admins


def refuse_admins_of_other_tenants(
    admins: list[AdminInput],
    path: str,
    errors: ErrorCollector,
    *,
    tenant_name: str,
    tenant_id: int | None,
    others: dict[str, str] | None = None,
    console_admins: dict[str, tuple[int, str]] | None = None,
) -> None:
    """An admin email belongs to one tenant (auth.create_user needs a unique email).

    `console_admins`: `{email: (tenant id, tenant name)}` of the console's admins, read once for
    a whole SPEC (admin_owners); without it, the emails are looked up here."""
    emails = [a.email for a in admins if a.email]
    if not emails:
        return
    if console_admins is None:
        console_admins = admin_owners(emails)
    owners = {
        email: name
        for email, (owner_id, name) in (
            (e, console_admins[e]) for e in emails if e in console_admins
        )
        if owner_id != tenant_id
    }
    for index, admin in enumerate(admins):
        other = owners.get(admin.email) or (others or {}).get(admin.email)
        if other and fold(other) != fold(tenant_name):
            errors.add(
                join_path(path, f"[{index}].email"),
                f"The email address '{admin.email}' is already an admin of tenant '{other}'; a "
                f"user belongs to one tenant, so give {shown(tenant_name)} another admin address.",
            )


def admin_owners(emails: list[str]) -> dict[str, tuple[int, str]]:
    """`{email: (tenant id, tenant name)}` of the console's admins with these emails."""
    rows = TenantAdmin.objects.filter(email__in=emails, released=False)
    return {e: (t, n) for e, t, n in rows.values_list("email", "tenant_id", "tenant__name")}


def name_taken_by(name: str, tenant_id: int | None) -> Tenant | None:
    if len(name) > MAX_TENANT_NAME:  # no tenant has it; and SQLite refuses long LIKE patterns
        return None
    rows = Tenant.objects.filter(name__iexact=name, deleted_at__isnull=True)
    if tenant_id is not None:
        rows = rows.exclude(pk=tenant_id)
    # SQLite's iexact folds ASCII only; compare with casefold() for the rest.
    for tenant in rows.only("id", "name")[:1]:
        return tenant
    wanted = fold(name)
    if not name.isascii():
        for tenant in Tenant.objects.filter(deleted_at__isnull=True).only("id", "name"):
            if fold(tenant.name) == wanted and tenant.pk != tenant_id:
                return tenant
    return None


def validate_tenant(
    data,
    path: str = "",
    *,
    tenant_id: int | None = None,
    check_name: bool = True,
    require_admin: bool = False,
    others: dict[str, str] | None = None,
    other_admins: dict[str, str] | None = None,
    console_admins: dict[str, tuple[int, str]] | None = None,
) -> TenantInput:
    """Check one tenant; raise InvalidInput with every problem and its field path.

    `check_name`: refuse a name another tenant has (ignoring case). A SPEC passes False since
    there a matching name *is* the same tenant. `others`/`other_admins`: routing keys and admin
    emails of the other tenants of the same SPEC, `{key: tenant name}`. The `login` and `sso`
    sections are checked by the change pipeline (changes.tenant_input), which hangs them off this.
    """
    errors = ErrorCollector()
    if not isinstance(data, dict):
        raise InvalidInput(
            FieldError(path, f"A tenant must be a mapping (name, admins, …), not {kind_of(data)}.")
        )
    for key in data:
        if key not in TENANT_KEYS:
            errors.add(
                join_path(path, str(key)),
                f"{shown(str(key))} is an unknown key for a tenant; the known keys are "
                f"{', '.join(TENANT_KEYS)}.",
            )
    before = len(errors.errors)
    name = clean_name(data.get("name"), join_path(path, "name"), errors)
    if name and check_name and len(errors.errors) == before:
        other = name_taken_by(name, tenant_id)
        if other is not None:
            errors.add(
                join_path(path, "name"),
                f"A tenant named '{other.name}' already exists (names are compared ignoring "
                "case); choose another name.",
            )
    allowed = clean_allowed_users(
        data.get("allowed_users"), join_path(path, "allowed_users"), errors
    )
    features, excluded = clean_features(data, path, errors)
    admins_path = join_path(path, "admins")
    admins = clean_admins(data.get("admins"), admins_path, errors)
    if require_admin and not admins:
        errors.add(
            join_path(admins_path, "[0].email"),
            "A tenant needs at least one admin; add one with a name and an email address.",
        )
    if allowed is not None and len(admins) > allowed:
        # The apiserver refuses to create a user past the limit: say so before any call.
        errors.add(
            join_path(path, "allowed_users"),
            f"{allowed} is fewer than the {len(admins)} admins listed; allow at least "
            f"{len(admins)} users or list fewer admins",
        )
    refuse_admins_of_other_tenants(
        admins,
        admins_path,
        errors,
        tenant_name=name,
        tenant_id=tenant_id,
        others=other_admins,
        console_admins=console_admins,
    )
    result = TenantInput(
        name=name,
        allowed_users=allowed,
        features=features,
        exclude_features=excluded,
        admins=admins,
        path=path,
        tenant_id=tenant_id,
        given={k for k, v in data.items() if v is not None},
    )
    errors.raise_if_any()
    return result
