"""Validating sign-in routing: one checker for forms, bulk imports and SPEC files.

Every domain and email goes through `console.identifiers` (trim, lower case, IDNA). A key may
belong to one tenant only; the checker looks other tenants up with one query per kind (not one per
line), and the database's unique constraints settle any race that slips past it.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from console.identifiers import email_domain, normalize_domain, normalize_email
from console.validation import FieldError, InvalidInput, join_path

# login.set_domains sends the whole list in one call, and the apiserver (like the sandbox)
# accepts at most this many items per login.* call.
MAX_DOMAINS = 500
# Keys per `IN (...)` lookup: one query for any realistic import, under every backend's limit.
LOOKUP_CHUNK = 20_000


@dataclass
class RoutingSet:
    """A tenant's validated routing: normalised domains and whitelist emails, one role each."""

    tenant_name: str
    domains: list[str] = field(default_factory=list)
    admins: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)
    path: str = ""
    # Where each key came from when that is not a list index (a bulk import's "line 7").
    locations: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def whitelist(self) -> dict[str, bool]:
        """email -> is_admin."""
        entries = dict.fromkeys(self.users, False)
        entries.update(dict.fromkeys(self.admins, True))
        return entries

    def keys(self) -> set[str]:
        return set(self.domains) | set(self.admins) | set(self.users)

    def others(self) -> dict[str, str]:
        """`{key: tenant name}`, to pass as `others` when checking the next tenant of a SPEC."""
        return dict.fromkeys(self.keys(), self.tenant_name)

    def as_spec(self) -> dict:
        return {
            "domains": list(self.domains),
            "whitelist": {"admins": list(self.admins), "users": list(self.users)},
        }

    def path_of(self, key: str) -> str:
        if key in self.locations:
            return self.locations[key]
        for name, items in (
            ("domains", self.domains),
            ("whitelist.admins", self.admins),
            ("whitelist.users", self.users),
        ):
            if key in items:
                return join_path(self.path, f"{name}[{items.index(key)}]")
        return self.path

    @classmethod
    def from_whitelist(
        cls, tenant_name: str, domains: Iterable[str], whitelist: dict[str, bool], path: str = ""
    ) -> "RoutingSet":
        admins = sorted(e for e, a in whitelist.items() if a)
        users = sorted(e for e, a in whitelist.items() if not a)
        return cls(tenant_name, sorted(domains), admins, users, path=path)


@dataclass
class Preloaded:
    """The database's owners of a batch's routing keys, read once for many checkers.

    A SPEC is checked one tenant at a time, and each tenant's checker would look its keys up
    (one indexed query per kind) and scan the whitelist for other tenants' emails at its new
    domains (a LIKE '%@domain' query cannot use an index). For n tenants over a whitelist of W
    entries that is n scans of W rows. `preload_owners` reads the owners of every key of the batch
    in a few indexed queries and which tenants whitelist emails at the batch's domains in one
    scan; checkers inside it answer from that and query only for what it does not cover.
    """

    domains: dict[str, tuple[int, str]] = field(default_factory=dict)  # domain -> (tenant, name)
    emails: dict[str, tuple[int, str]] = field(default_factory=dict)
    covered_domains: frozenset[str] = frozenset()
    covered_emails: frozenset[str] = frozenset()
    # domain -> the tenants that whitelist an email at it (for covered_domains only)
    whitelisted_at: dict[str, set[int]] = field(default_factory=dict)

    def owners(self, field_name: str, keys: list[str], tenant_id: int | None):
        """`{key: tenant name}` of other tenants' keys, or None if the batch did not cover them."""
        known, covered = (
            (self.domains, self.covered_domains)
            if field_name == "domain"
            else (self.emails, self.covered_emails)
        )
        if not covered.issuperset(keys):
            return None
        found = {}
        for key in keys:
            owner = known.get(key)
            if owner is not None and owner[0] != tenant_id:
                found[key] = owner[1]
        return found


_PRELOADED: ContextVar[Preloaded | None] = ContextVar("routing_preloaded", default=None)


@contextmanager
def preload_owners(*, domains: Iterable[str], emails: Iterable[str]) -> Iterator[Preloaded]:
    """Within the block, routing checks of these keys read the database's owners from one look-up.

    `domains`/`emails`: normalised keys (other values are ignored). The email addresses' domains
    are looked up as well (for the cross-routing warning).
    """
    from django.db.models import F, Value
    from django.db.models.functions import StrIndex, Substr

    from sso.models import LoginDomain, WhitelistEntry

    emails = sorted(set(emails))
    domains = sorted(set(domains) | {email_domain(e) for e in emails})
    data = Preloaded(covered_domains=frozenset(domains), covered_emails=frozenset(emails))
    for model, field_name, keys, into in (
        (LoginDomain, "domain", domains, data.domains),
        (WhitelistEntry, "email", emails, data.emails),
    ):
        for start in range(0, len(keys), LOOKUP_CHUNK):
            rows = model.objects.filter(**{f"{field_name}__in": keys[start : start + LOOKUP_CHUNK]})
            for key, tenant_id, name in rows.order_by().values_list(
                field_name, "tenant_id", "tenant__name"
            ):
                into[key] = (tenant_id, name)
    # One scan of the whitelist for all the batch's domains (emails hold exactly one @).
    at = Substr("email", StrIndex("email", Value("@")) + 1)
    for start in range(0, len(domains), LOOKUP_CHUNK):
        chunk = domains[start : start + LOOKUP_CHUNK]
        rows = (
            WhitelistEntry.objects.annotate(at_domain=at)
            .filter(at_domain__in=chunk)
            .order_by()
            .values_list(F("at_domain"), "tenant_id")
            .distinct()
        )
        for domain, tenant_id in rows:
            data.whitelisted_at.setdefault(domain, set()).add(tenant_id)
    token = _PRELOADED.set(data)
    try:
        yield data
    finally:
        _PRELOADED.reset(token)


@dataclass
class Item:
    """One input value with where it came from (a field path or a file line)."""

    raw: object
    path: str
    kind: str  # "domain" | "admin" | "user"
    key: str = ""


class RoutingChecker:
    """Collects every problem with a batch of routing items, then reports them all at once."""

    def __init__(
        self,
        *,
        tenant_name: str,
        tenant_id: int | None = None,
        others: dict[str, str] | None = None,
    ):
        self.tenant_name = tenant_name
        self.tenant_id = tenant_id
        # `is None`, not `or`: a mapping's truth value may cost a walk over every key.
        self.others = others if others is not None else {}
        self.errors: list[FieldError] = []
        self.warnings: list[FieldError] = []
        # Domains already looked up in the database: {domain: owning tenant's name or None}.
        self._domain_owner_cache: dict[str, str | None] = {}

    # -- per item -------------------------------------------------------------------------------
    def normalise(self, items: list[Item]) -> list[Item]:
        """Normalise each item; invalid ones get an error and are left out of the result."""
        good = []
        for item in items:
            if not isinstance(item.raw, str):
                self.errors.append(FieldError(item.path, "must be a text value"))
                continue
            try:
                if item.kind == "domain":
                    item.key = normalize_domain(item.raw, item.path)
                else:
                    item.key = normalize_email(item.raw, item.path)
            except InvalidInput as exc:
                self.errors.extend(exc.errors)
                continue
            good.append(item)
        return good

    def refuse_repeats(self, items: list[Item], where=None) -> list[Item]:
        """A key may appear once; an email may not be both admin and user (one role per email).

        `where(first)` says where the first occurrence is ("also at line 3" by default).
        """
        where = where or (lambda seen: f"also at {seen.path}")
        first: dict[str, Item] = {}
        unique = []
        for item in items:
            seen = first.get(item.key)
            if seen is None:
                first[item.key] = item
                unique.append(item)
            elif seen.kind == item.kind:
                self.errors.append(
                    FieldError(item.path, f"'{item.key}' is listed twice ({where(seen)})")
                )
            else:
                self.errors.append(
                    FieldError(
                        item.path,
                        f"'{item.key}' is also a whitelisted {seen.kind} ({where(seen)}): "
                        "an email has one role in a tenant, admin or user, not both",
                    )
                )
        return unique

    # -- against other tenants ------------------------------------------------------------------
    def refuse_conflicts(self, items: list[Item]) -> None:
        from sso.models import WhitelistEntry

        domains = [i.key for i in items if i.kind == "domain"]
        emails = [i.key for i in items if i.kind != "domain"]
        owners = {}
        if domains:
            # The emails' domains ride along in the same indexed query: warn_about_cross_routing
            # needs them next and then finds them in the cache.
            found = self._domain_owners([*domains, *(email_domain(e) for e in emails)])
            owners.update((d, found[d]) for d in domains if d in found)
        owners.update(self._owners(WhitelistEntry, "email", emails))
        for item in items:
            other = owners.get(item.key) or self.others.get(item.key)
            if other is None:
                continue
            self.errors.append(FieldError(item.path, self.conflict_message(item.key, other)))

    def conflict_message(self, key: str, other: str) -> str:
        if "@" in key:
            what = f"'{key}' is already whitelisted for tenant '{other}'"
            kind = "an email"
        else:
            what = f"'{key}' is already a sign-in domain of tenant '{other}'"
            kind = "a domain"
        return (
            f"{what}; {kind} can route to one tenant only, "
            f"so it cannot also route to '{self.tenant_name}'"
        )

    def _owners(self, model, field_name: str, keys: list[str]) -> dict[str, str]:
        """`{key: owning tenant's name}` for keys that belong to another tenant."""
        preloaded = _PRELOADED.get()
        if preloaded is not None:
            known = preloaded.owners(field_name, keys, self.tenant_id)
            if known is not None:
                return known
        found: dict[str, str] = {}
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start : start + LOOKUP_CHUNK]
            rows = model.objects.filter(**{f"{field_name}__in": chunk}).order_by()
            if self.tenant_id is not None:
                rows = rows.exclude(tenant_id=self.tenant_id)
            found.update(rows.values_list(field_name, "tenant__name"))
        return found

    def _domain_owners(self, domains: Iterable[str]) -> dict[str, str]:
        """`{domain: owning tenant's name}` for domains another tenant has in the database; each
        domain is looked up once per checker (one indexed `IN` query for the new ones)."""
        from sso.models import LoginDomain

        domains = list(domains)
        cache = self._domain_owner_cache
        missing = sorted({d for d in domains if d not in cache})
        if missing:
            found = self._owners(LoginDomain, "domain", missing)
            for domain in missing:
                cache[domain] = found.get(domain)
        return {d: cache[d] for d in domains if cache.get(d) is not None}

    # -- warnings -------------------------------------------------------------------------------
    def warn_about_cross_routing(self, items: list[Item]) -> None:
        """Whitelisting an email whose domain routes to another tenant is allowed, but visible.

        The console assumes the whitelist wins over the domain (the docs are silent), so the
        warning says where the user will go.
        """
        emails = [i for i in items if i.kind != "domain"]
        own_domains = {i.key for i in items if i.kind == "domain"}
        wanted = sorted({email_domain(i.key) for i in emails} - own_domains)
        # Look up only these domains (never walk the other tenants' keys: a SPEC checks every
        # tenant, and a walk per tenant would grow with the square of the tenants).
        routes = {}
        for domain in wanted:
            owner = self.others.get(domain)
            if owner is not None:
                routes[domain] = owner
        routes.update(self._domain_owners(wanted))
        for item in emails:
            domain = email_domain(item.key)
            other = routes.get(domain)
            if other and other != self.tenant_name:
                self.warnings.append(
                    FieldError(
                        item.path,
                        f"the domain {domain} of '{item.key}' routes to tenant '{other}'; "
                        f"the whitelist entry is assumed to win, so this user goes to "
                        f"'{self.tenant_name}'",
                    )
                )
        self._warn_about_emails_elsewhere([i for i in items if i.kind == "domain"])

    def _warn_about_emails_elsewhere(self, domains: list[Item]) -> None:
        """A new domain whose emails other tenants whitelist: those users keep going there."""
        from django.db.models import Q

        from sso.models import WhitelistEntry

        preloaded = _PRELOADED.get()
        if preloaded is not None and preloaded.covered_domains.issuperset(i.key for i in domains):
            # Only the domains at which some other tenant whitelists an email need the query.
            domains = [
                i for i in domains if preloaded.whitelisted_at.get(i.key, set()) - {self.tenant_id}
            ]
        if not domains:
            return
        query = Q()
        for item in domains:
            query |= Q(email__endswith=f"@{item.key}")
        rows = WhitelistEntry.objects.filter(query)
        if self.tenant_id is not None:
            rows = rows.exclude(tenant_id=self.tenant_id)
        by_domain: dict[str, list[tuple[str, str]]] = {}
        for email, tenant in rows.values_list("email", "tenant__name")[:1000]:
            by_domain.setdefault(email_domain(email), []).append((email, tenant))
        for item in domains:
            found = by_domain.get(item.key)
            if not found:
                continue
            email, tenant = found[0]
            more = f" and {len(found) - 1} more" if len(found) > 1 else ""
            self.warnings.append(
                FieldError(
                    item.path,
                    f"{email} (tenant '{tenant}'){more} at {item.key} are whitelisted for other "
                    "tenants; the whitelist is assumed to win, so they keep going there",
                )
            )

    def raise_if_errors(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)


def _as_list(value, path: str, checker: RoutingChecker) -> list:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable) or isinstance(value, dict):
        checker.errors.append(FieldError(path, "must be a list"))
        return []
    return list(value)


def routing_validate(
    *,
    tenant_name: str,
    domains,
    admins,
    users,
    path: str,
    tenant_id: int | None = None,
    others: dict[str, str] | None = None,
) -> RoutingSet:
    """Normalise and check one tenant's routing; raise InvalidInput listing every problem.

    Refuses invalid items (with the reason), a key listed twice, an email that is both admin and
    user, and a key that another tenant already has — in the database (other than `tenant_id`)
    or in `others` (`{normalised key: tenant name}`, for the tenants of the same SPEC). Errors
    name paths such as `{path}.domains[0]` and `{path}.whitelist.admins[1]`. Warnings (an email
    whose domain routes to another tenant) are returned on the RoutingSet.
    """
    checker = RoutingChecker(tenant_name=tenant_name, tenant_id=tenant_id, others=others)
    paths = {
        "domain": join_path(path, "domains"),
        "admin": join_path(path, "whitelist.admins"),
        "user": join_path(path, "whitelist.users"),
    }
    items: list[Item] = []
    for kind, values in (("domain", domains), ("admin", admins), ("user", users)):
        for index, raw in enumerate(_as_list(values, paths[kind], checker)):
            items.append(Item(raw, f"{paths[kind]}[{index}]", kind))
    if sum(1 for i in items if i.kind == "domain") > MAX_DOMAINS:
        checker.errors.append(
            FieldError(
                paths["domain"],
                f"at most {MAX_DOMAINS} domains per tenant (login.set_domains sends the whole "
                "list in one call)",
            )
        )
    items = checker.normalise(items)
    items = checker.refuse_repeats(items)
    checker.refuse_conflicts(items)
    checker.raise_if_errors()
    checker.warn_about_cross_routing(items)
    return RoutingSet(
        tenant_name=tenant_name,
        domains=[i.key for i in items if i.kind == "domain"],
        admins=[i.key for i in items if i.kind == "admin"],
        users=[i.key for i in items if i.kind == "user"],
        warnings=checker.warnings,
        path=path,
    )


def spec_login_validate(
    login,
    *,
    tenant_name: str,
    path: str,
    tenant_id: int | None = None,
    others: dict[str, str] | None = None,
) -> RoutingSet:
    """Check a SPEC tenant's `login:` section (`{domains: [...], whitelist: {admins, users}}`)."""
    if login is None:
        login = {}
    if not isinstance(login, dict):
        raise InvalidInput(FieldError(path, "must be a mapping with domains and whitelist"))
    errors = [
        FieldError(join_path(path, str(key)), "unknown key (known keys: domains, whitelist)")
        for key in login
        if key not in ("domains", "whitelist")
    ]
    whitelist = login.get("whitelist") or {}
    if not isinstance(whitelist, dict):
        errors.append(FieldError(join_path(path, "whitelist"), "must be a mapping"))
        whitelist = {}
    errors += [
        FieldError(join_path(path, f"whitelist.{key}"), "unknown key (known keys: admins, users)")
        for key in whitelist
        if key not in ("admins", "users")
    ]
    try:
        routing = routing_validate(
            tenant_name=tenant_name,
            domains=login.get("domains"),
            admins=whitelist.get("admins"),
            users=whitelist.get("users"),
            path=path,
            tenant_id=tenant_id,
            others=others,
        )
    except InvalidInput as exc:
        raise InvalidInput(errors + exc.errors) from None
    if errors:
        raise InvalidInput(errors)
    return routing
