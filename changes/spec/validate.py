"""Checking a whole SPEC at once: every section, every tenant, conflicts between tenants.

Each app checks its own sections (tenants here, routing and SSO in sso/, groups in tenants/groups);
this module runs them all and reports every problem together with its full field path.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from console.identifiers import normalize_domain, normalize_email
from console.validation import ErrorCollector, FieldError, InvalidInput
from sso.routing.validation import preload_owners
from tenants.models import Tenant
from tenants.validation import TenantInput, fold
from tenants.validation import admin_owners as tenant_admin_owners

from ..tenant_input import validate_tenant_entry


@dataclass
class ServerSections:
    """The sections that become server configuration (snippets), not apiserver calls."""

    groups: list = field(default_factory=list)
    builtin_groups: dict = field(default_factory=dict)
    organization: object | None = None
    identity_providers: list = field(default_factory=list)
    multi_tenant_login: dict = field(default_factory=dict)
    present: set[str] = field(default_factory=set)


@dataclass
class SpecModel:
    raw: dict
    source: str = "SPEC"
    tenants: list[TenantInput] = field(default_factory=list)
    server: ServerSections = field(default_factory=ServerSections)
    warnings: list[FieldError] = field(default_factory=list)


class OthersView(Mapping):
    """`{key: tenant name}` of every SPEC tenant but one, without copying the whole map.

    `owners` maps a key to `[(folded name, name), ...]`; iteration stays cheap because the
    routing checker walks the whole mapping once per tenant.
    """

    def __init__(self, owners: dict[str, list[tuple[str, str]]], exclude: str):
        self.owners = owners
        self.exclude = fold(exclude)

    def _owner(self, key: str) -> str | None:
        for folded, name in self.owners.get(key, ()):
            if folded != self.exclude:
                return name
        return None

    def __getitem__(self, key: str) -> str:
        owner = self._owner(key)
        if owner is None:
            raise KeyError(key)
        return owner

    def get(self, key, default=None):
        owner = self._owner(key)
        return default if owner is None else owner

    def __contains__(self, key) -> bool:
        return self._owner(key) is not None

    def items(self):
        exclude = self.exclude
        for key, names in self.owners.items():
            for folded, name in names:
                if folded != exclude:
                    yield key, name
                    break

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self.items())

    def __len__(self) -> int:
        return sum(1 for _ in self.items())

    def __bool__(self) -> bool:
        # Without this, `others or {}` would count every key (__len__) for every tenant.
        return next(iter(self.items()), None) is not None


def _lenient(value, normalise) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return normalise(value)
    except InvalidInput:
        return None


def _routing_keys(entry: dict) -> list[str]:
    login = entry.get("login")
    if not isinstance(login, dict):
        return []
    keys = []
    domains = login.get("domains")
    for value in domains if isinstance(domains, list) else []:
        keys.append(_lenient(value, normalize_domain))
    whitelist = login.get("whitelist")
    if isinstance(whitelist, dict):
        for role in ("admins", "users"):
            values = whitelist.get(role)
            for value in values if isinstance(values, list) else []:
                keys.append(_lenient(value, normalize_email))
    return [k for k in keys if k]


def _admin_emails(entry: dict) -> list[str]:
    admins = entry.get("admins")
    if not isinstance(admins, list):
        return []
    return [
        e
        for e in (_lenient(a.get("email"), normalize_email) for a in admins if isinstance(a, dict))
        if e
    ]


def validate_tenants_section(items, errors: ErrorCollector) -> list[TenantInput]:
    if items is None:
        return []
    if not isinstance(items, list):
        errors.add("tenants", "must be a list of tenants")
        return []
    existing = {
        fold(name): pk
        for pk, name in Tenant.objects.filter(deleted_at__isnull=True).values_list("pk", "name")
    }
    first_at: dict[str, int] = {}
    routing_owners: dict[str, list[tuple[str, str]]] = {}
    admin_owners: dict[str, list[tuple[str, str]]] = {}
    for index, entry in enumerate(items):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        name = " ".join(entry["name"].split())
        key = fold(name)
        if key in first_at and key:
            errors.add(
                f"tenants[{index}].name",
                f"'{name}' is listed twice (also tenants[{first_at[key]}]; names are compared "
                "ignoring case)",
            )
            continue
        first_at[key] = index
        for routing_key in _routing_keys(entry):
            routing_owners.setdefault(routing_key, []).append((key, name))
        for email in _admin_emails(entry):
            admin_owners.setdefault(email, []).append((key, name))
    result = []
    # The console's admins with the SPEC's admin emails, read once for all its tenants.
    console_admins = tenant_admin_owners(list(admin_owners))
    # The database's owners of every routing key of the SPEC, read once for all its tenants.
    with preload_owners(
        domains=[k for k in routing_owners if "@" not in k],
        emails=[k for k in routing_owners if "@" in k],
    ):
        for index, entry in enumerate(items):
            path = f"tenants[{index}]"
            name = entry.get("name") if isinstance(entry, dict) else None
            name = " ".join(name.split()) if isinstance(name, str) else ""
            try:
                tenant = validate_tenant_entry(
                    entry,
                    path,
                    tenant_id=existing.get(fold(name)),
                    check_name=False,
                    others=OthersView(routing_owners, name),
                    other_admins=OthersView(admin_owners, name),
                    console_admins=console_admins,
                )
            except InvalidInput as exc:
                errors.errors.extend(exc.errors)
                continue
            result.append(tenant)
    try:
        from sso.multitenant.spec import check_external_tenants_unique

        check_external_tenants_unique(items)
    except InvalidInput as exc:
        errors.errors.extend(exc.errors)
    except ImportError:
        pass
    return result


def validate_server_sections(raw: dict, errors: ErrorCollector) -> ServerSections:
    sections = ServerSections(present={k for k in raw if raw.get(k) is not None})
    if {"groups", "builtin_groups", "organization"} & sections.present:
        from tenants.groups.validation import validate_server_sections as validate_groups

        try:
            sections.groups, sections.builtin_groups, sections.organization = validate_groups(raw)
        except InvalidInput as exc:
            errors.errors.extend(exc.errors)
    if "identity_providers" in sections.present:
        from sso.providers.spec import spec_tenant_names, validate_identity_providers

        try:
            sections.identity_providers = validate_identity_providers(
                raw.get("identity_providers"), spec_tenant_names=spec_tenant_names(raw)
            )
        except InvalidInput as exc:
            errors.errors.extend(exc.errors)
    if "multi_tenant_login" in sections.present:
        from sso.multitenant.spec import validate_multi_tenant_login

        try:
            sections.multi_tenant_login = validate_multi_tenant_login(raw.get("multi_tenant_login"))
        except InvalidInput as exc:
            errors.errors.extend(exc.errors)
    return sections


def validate_spec(raw: dict, source: str = "SPEC") -> SpecModel:
    """Check every section of a loaded SPEC (console.spec.load_spec); raise InvalidInput with all
    problems, each with its full field path (`tenants[2].admins[0].email`)."""
    errors = ErrorCollector()
    tenants = validate_tenants_section(raw.get("tenants"), errors)
    server = validate_server_sections(raw, errors)
    errors.raise_if_any()
    warnings = [w for t in tenants for w in t.warnings]
    return SpecModel(raw=raw, source=source, tenants=tenants, server=server, warnings=warnings)
