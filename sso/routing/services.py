"""Changing sign-in routing: validate, save with an audit entry, push, pull.

The browser pages, bulk imports and the SPEC's `login` section all go through these functions,
so a domain or an email is validated, saved and pushed the same way whatever the face.
"""

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from console.audit import audit_record
from console.prepared import Prepared
from console.validation import FieldError, InvalidInput
from sso.models import LoginDomain, RoutingPushJob, WhitelistEntry
from tenants.models import Tenant

from .push import (
    STALE_PLAN,
    PushResult,
    RoutingDiff,
    RoutingPushFailed,
    push_batch_size,
    push_invalidate,
    push_start,
    push_step,
    routing_diff,
    routing_push,
    routing_push_calls,
    tenant_act_as,
)
from .queries import tenant_routing
from .validation import (
    ALLOW_PUBLIC_KEY,
    CONFIRM_BEFORE_PULL,
    CONFIRM_IN_FORM,
    MAX_DOMAINS,
    Item,
    RoutingChecker,
    RoutingSet,
    routing_validate,
    spec_login_validate,
)

__all__ = [
    "KINDS",
    "PushResult",
    "RoutingChange",
    "RoutingDiff",
    "RoutingPushFailed",
    "RoutingSet",
    "push_batch_size",
    "push_start",
    "push_step",
    "routing_add",
    "routing_diff",
    "routing_order_changes",
    "routing_push",
    "routing_push_calls",
    "routing_remove",
    "routing_save",
    "routing_save_locked",
    "routing_save_new",
    "routing_validate",
    "spec_login_validate",
    "tenant_act_as",
]

# What an inline form edits: the domains, the admin whitelist or the user whitelist.
KINDS = {"domain": "domains", "admin": "whitelist.admins", "user": "whitelist.users"}
WRITE_CHUNK = 5_000
LIST_LABELS = {"domains": "domains", "admins": "whitelisted admins", "users": "whitelisted users"}


@dataclass
class RoutingChange:
    """What a save changed; empty when the tenant already had exactly this routing."""

    domains_added: list[str] = field(default_factory=list)
    domains_removed: list[str] = field(default_factory=list)
    whitelist_added: dict[str, bool] = field(default_factory=dict)
    whitelist_removed: dict[str, bool] = field(default_factory=dict)
    role_changed: dict[str, bool] = field(default_factory=dict)  # email -> new is_admin
    warnings: list[FieldError] = field(default_factory=list)
    # Public mail domains among domains_added that the admin confirmed (recorded in the audit).
    public_confirmed: list[str] = field(default_factory=list)
    # List name (domains, admins, users) -> (its order before, its order after) for each list
    # whose new order is not simply the old one with the additions at the end: a reorder alone
    # is a change.
    reordered: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (
            self.domains_added
            or self.domains_removed
            or self.whitelist_added
            or self.whitelist_removed
            or self.role_changed
            or self.reordered
        )

    def audit_lists(self) -> tuple[dict, dict]:
        """What was removed (before) and what was added (after), as plain lists of keys, in the
        lists' order; a list whose order changed is under `order` too, whole, before and after.

        An email whose role changed is in both: under its old role before, its new one after.
        """
        old = {**self.whitelist_removed, **{e: not a for e, a in self.role_changed.items()}}
        new = {**self.whitelist_added, **self.role_changed}
        before = {
            "domains": self.domains_removed,
            "admins": [e for e, a in old.items() if a],
            "users": [e for e, a in old.items() if not a],
        }
        after = {
            "domains": self.domains_added,
            "admins": [e for e, a in new.items() if a],
            "users": [e for e, a in new.items() if not a],
        }
        if self.reordered:
            before["order"] = {name: was for name, (was, _) in self.reordered.items()}
            after["order"] = {name: now for name, (_, now) in self.reordered.items()}
        return before, after

    def summary(self) -> str:
        parts = []
        for count, text in (
            (len(self.domains_added), "domain(s) added"),
            (len(self.domains_removed), "domain(s) removed"),
            (len(self.whitelist_added), "email(s) whitelisted"),
            (len(self.whitelist_removed), "email(s) removed from the whitelist"),
            (len(self.role_changed), "role change(s)"),
        ):
            if count:
                parts.append(f"{count:,} {text}")
        parts += [f"new order of {LIST_LABELS[name]}" for name in self.reordered]
        return ", ".join(parts) or "no change"


def routing_order_changes(
    current: RoutingSet, wanted: RoutingSet
) -> dict[str, tuple[list[str], list[str]]]:
    """`{list name: (current order, wanted order)}` for each list (domains, admins, users) whose
    wanted order is not the current one with its new entries at the end: saving `wanted` gives
    it a new order, a change of its own."""
    out = {}
    for name, now in wanted.lists().items():
        was = current.lists()[name]
        kept = set(now)
        appended = [k for k in was if k in kept]
        held = set(appended)
        appended += [k for k in now if k not in held]
        if appended != now:
            out[name] = (list(was), list(now))
    return out


def _roles_in_order(routing: RoutingSet) -> dict[str, bool]:
    """email -> is_admin: the admins, then the users, each in its list's order."""
    roles = routing.whitelist
    return {e: roles[e] for e in [*routing.admins, *routing.users]}


def _diff(current: RoutingSet, wanted: RoutingSet) -> RoutingChange:
    """What makes `current` `wanted`, each list of keys in its list's order."""
    old, new = _roles_in_order(current), _roles_in_order(wanted)
    old_domains, new_domains = set(current.domains), set(wanted.domains)
    added = [d for d in wanted.domains if d not in old_domains]
    confirmed = set(wanted.public_confirmed)
    return RoutingChange(
        domains_added=added,
        domains_removed=[d for d in current.domains if d not in new_domains],
        whitelist_added={e: a for e, a in new.items() if e not in old},
        whitelist_removed={e: a for e, a in old.items() if e not in new},
        role_changed={e: a for e, a in new.items() if e in old and old[e] != a},
        warnings=list(wanted.warnings),
        public_confirmed=[d for d in added if d in confirmed],
        reordered=routing_order_changes(current, wanted),
    )


def _audit_row(
    tenant: Tenant, change: RoutingChange, *, actor: str, action: str, source: str
) -> dict:
    """The entry `routing_save` writes for a change, as `audit_record` keyword arguments."""
    before, after = change.audit_lists()
    _audit_after(change, after, source)
    return {
        "actor": actor,
        "action": action,
        "target_type": "tenant",
        "target_id": str(tenant.pk),
        "target_repr": tenant.name,
        "before": before,
        "after": after,
    }


def _audit_after(change: RoutingChange, after: dict, source: str) -> dict:
    if change.public_confirmed:
        after[ALLOW_PUBLIC_KEY] = list(change.public_confirmed)
    if source:
        after["source"] = source
    return after


def _chunks(items: list, size: int = WRITE_CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _lock_tenant(tenant: Tenant) -> None:
    """Serialise routing changes of one tenant (a no-op on SQLite, which serialises writers)."""
    _TENANT_LOCK.fetch(pk=tenant.pk)


_TENANT_LOCK = Prepared(
    lambda pk: Tenant.objects.select_for_update().filter(pk=pk).values_list("pk", flat=True)
)


def routing_save(
    *,
    tenant: Tenant,
    routing: RoutingSet,
    actor: str,
    action: str = "login.routing.update",
    calls=(),
    source: str = "",
    locked: RoutingSet | None = None,
) -> RoutingChange:
    """Make the tenant's routing in the database exactly `routing`, with one audit entry.

    Only the difference is written (bulk inserts, one transaction). A domain or an email that
    another tenant took in the meantime makes the database's unique constraint refuse the write;
    that is reported as InvalidInput naming the other tenant, and nothing is saved.

    `locked`: the routing as the caller read it after locking the tenant in its own, still
    open, transaction (routing_add); then it is neither locked nor read again.
    """
    try:
        with transaction.atomic():
            if locked is None:
                _lock_tenant(tenant)
            change = _diff(locked if locked is not None else tenant_routing(tenant), routing)
            if change.empty:
                return change
            _write(tenant, change, routing)
            push_invalidate(tenant)
            audit_record(
                **_audit_row(tenant, change, actor=actor, action=action, source=source),
                calls=calls,
            )
    except IntegrityError:
        raise _conflict_error(tenant, routing) from None
    return change


def routing_save_new(
    pairs: list[tuple[Tenant, RoutingSet]],
    *,
    actor: str,
    action: str = "login.routing.update",
    source: str = "",
) -> list[dict]:
    """`routing_save` for tenants created in the caller's transaction, all at once.

    Such a tenant has no routing and no push yet (nobody else can see it before the caller
    commits), so there is nothing to read, lock or stop: every domain and email of every tenant
    goes in with two bulk INSERTs. Returns the audit entries `routing_save` would have written
    (`audit_record` keyword arguments); the caller appends them with
    `console.audit.bulk.bulk_append` inside the same transaction. A key that another tenant took
    in the meantime is refused as in `routing_save`, naming that tenant, and nothing is saved.
    """
    domains: list[LoginDomain] = []
    entries: list[WhitelistEntry] = []
    rows: list[dict] = []
    for tenant, routing in pairs:
        change = _diff(RoutingSet(tenant_name=tenant.name), routing)
        if change.empty:
            continue
        domains += [
            LoginDomain(tenant=tenant, domain=d, position=i) for i, d in enumerate(routing.domains)
        ]
        for is_admin, emails in ((True, routing.admins), (False, routing.users)):
            entries += [
                WhitelistEntry(tenant=tenant, email=e, is_admin=is_admin, position=i)
                for i, e in enumerate(emails)
            ]
        rows.append(_audit_row(tenant, change, actor=actor, action=action, source=source))
    try:
        with transaction.atomic():
            LoginDomain.objects.bulk_create(domains, batch_size=WRITE_CHUNK)
            WhitelistEntry.objects.bulk_create(entries, batch_size=WRITE_CHUNK)
    except IntegrityError:
        errors = [error for tenant, routing in pairs for error in _conflicts(tenant, routing)]
        if not errors:
            path = pairs[0][1].path if len(pairs) == 1 else ""
            errors = [FieldError(path, "another change was saved at the same time; retry")]
        raise InvalidInput(errors) from None
    return rows


def routing_save_locked(
    triples: list[tuple[Tenant, RoutingSet, RoutingSet]],
    *,
    actor: str,
    action: str = "login.routing.update",
    source: str = "",
) -> list[dict]:
    """`routing_save(..., locked=current)` for many existing tenants at once: `triples` holds
    (tenant, wanted routing, its routing as the caller read it after locking the tenant in its
    own, still open, transaction).

    Writes what one `routing_save` per tenant, in the order given, would write (the same rows,
    positions and running pushes stopped), with a fixed number of queries whatever the number
    of tenants: the changed tenants' rows read once, one DELETE per list, one UPDATE per list
    for the rows whose role or place changes, one INSERT per list, one UPDATE of their running
    pushes. A tenant whose routing is already `wanted` writes nothing. Returns the audit entries
    `routing_save` would have written, in order (`audit_record` keyword arguments); the caller
    appends them with `console.audit.bulk.bulk_append` inside the same transaction, where
    `routing_save` would have written them. A domain or an email another tenant took in the
    meantime is refused as in `routing_save` (InvalidInput naming that tenant, for the first
    tenant in order that meets one) and nothing is saved.
    """
    changes = []
    for tenant, wanted, current in triples:
        change = _diff(current, wanted)
        if not change.empty:
            changes.append((tenant, wanted, change))
    if not changes:
        return []
    try:
        with transaction.atomic():
            _write_many(changes)
            _invalidate_pushes([tenant.pk for tenant, _, _ in changes])
    except IntegrityError:
        raise _first_conflict(changes) from None
    return [
        _audit_row(tenant, change, actor=actor, action=action, source=source)
        for tenant, _, change in changes
    ]


def _invalidate_pushes(tenant_ids: list[int]) -> None:
    """`push_invalidate` for many tenants: one UPDATE per chunk of tenants."""
    now = timezone.now()
    for chunk in _chunks(tenant_ids):
        RoutingPushJob.objects.filter(
            tenant_id__in=chunk, status=RoutingPushJob.Status.RUNNING
        ).update(status=RoutingPushJob.Status.FAILED, error=STALE_PLAN, updated_at=now)


def _stored_rows(model, key: str, tenant_ids: list[int]) -> dict[int, dict[str, tuple]]:
    """`{tenant id: {key: (row id, is_admin, position)}}` of the tenants' rows of one model."""
    out: dict[int, dict[str, tuple]] = {pk: {} for pk in tenant_ids}
    admin = "is_admin" if model is WhitelistEntry else "pk"
    for chunk in _chunks(tenant_ids):
        rows = model.objects.filter(tenant_id__in=chunk).order_by()
        for pk, tenant_id, value, is_admin, position in rows.values_list(
            "pk", "tenant_id", key, admin, "position"
        ):
            out[tenant_id][value] = (pk, is_admin is True, position)
    return out


def _list_positions(
    stored: dict[str, int], wanted: list[str], fresh: list[str], renumber: bool
) -> dict[str, int]:
    """`_positions` for a list whose stored rows were read already (`stored`: key -> position)."""
    if renumber:
        return {k: i for i, k in enumerate(wanted) if stored.get(k) != i}
    if not fresh:
        return {}
    start = max(stored.values()) + 1 if stored else 0
    return {k: start + i for i, k in enumerate(fresh)}


def _write_many(changes: list[tuple[Tenant, RoutingSet, RoutingChange]]) -> None:
    """`_write` for many tenants, each list's rows read, deleted, updated and inserted at once."""
    ids = [tenant.pk for tenant, _, _ in changes]
    domain_rows = _stored_rows(LoginDomain, "domain", ids)
    email_rows = _stored_rows(WhitelistEntry, "email", ids)
    gone_domains: list[int] = []
    gone_emails: list[int] = []
    moved_domains: list[LoginDomain] = []
    moved_emails: list[WhitelistEntry] = []
    new_domains: list[LoginDomain] = []
    new_emails: list[WhitelistEntry] = []
    for tenant, wanted, change in changes:
        # Positions are worked out from the rows as they are, before anything is written.
        domains, emails = domain_rows[tenant.pk], email_rows[tenant.pk]
        domain_at = _list_positions(
            {d: position for d, (_, _, position) in domains.items()},
            wanted.domains,
            change.domains_added,
            "domains" in change.reordered,
        )
        new = {**change.whitelist_added, **change.role_changed}
        email_at: dict[str, int] = {}
        for name, is_admin in (("admins", True), ("users", False)):
            email_at |= _list_positions(
                {e: position for e, (_, a, position) in emails.items() if a is is_admin},
                wanted.lists()[name],
                [e for e, a in new.items() if a is is_admin],
                name in change.reordered,
            )
        gone_domains += [domains[d][0] for d in change.domains_removed]
        gone_emails += [emails[e][0] for e in change.whitelist_removed]
        added = set(change.domains_added)
        moved_domains += [
            LoginDomain(pk=domains[d][0], position=p)
            for d, p in domain_at.items()
            if d not in added
        ]
        # A role change always gives the email a place in its new list, so it is among these.
        moved_emails += [
            WhitelistEntry(pk=emails[e][0], is_admin=new.get(e, emails[e][1]), position=p)
            for e, p in email_at.items()
            if e not in change.whitelist_added
        ]
        new_domains += [
            LoginDomain(tenant=tenant, domain=d, position=domain_at[d])
            for d in change.domains_added
        ]
        new_emails += [
            WhitelistEntry(tenant=tenant, email=e, is_admin=a, position=email_at[e])
            for e, a in change.whitelist_added.items()
        ]
    for model, pks in ((LoginDomain, gone_domains), (WhitelistEntry, gone_emails)):
        for chunk in _chunks(pks):
            model.objects.filter(pk__in=chunk).delete()
    LoginDomain.objects.bulk_update(moved_domains, ["position"], batch_size=1_000)
    WhitelistEntry.objects.bulk_update(moved_emails, ["is_admin", "position"], batch_size=1_000)
    LoginDomain.objects.bulk_create(new_domains, batch_size=WRITE_CHUNK)
    WhitelistEntry.objects.bulk_create(new_emails, batch_size=WRITE_CHUNK)


def _first_conflict(changes: list[tuple[Tenant, RoutingSet, RoutingChange]]) -> InvalidInput:
    """After a unique-constraint failure of a bulk save: the error `routing_save` would have
    raised, for the first tenant in order whose keys another tenant has (in the database, or
    an earlier tenant of the same save, whose rows one save per tenant would have written)."""
    claimed: dict[str, str] = {}  # key an earlier tenant of this save adds -> its name
    for tenant, routing, change in changes:
        added = [*change.domains_added, *change.whitelist_added]
        errors = _conflicts(tenant, routing, {k: claimed[k] for k in added if k in claimed})
        if errors:
            return InvalidInput(errors)
        claimed |= dict.fromkeys(added, tenant.name)
    return _conflict_error(changes[0][0], changes[0][1])


def _positions(rows, key: str, wanted: list[str], fresh: list[str], renumber: bool) -> dict:
    """`{key: position}` to write for one list (`rows`: the list's rows as stored, before the
    write): every key whose place changes when the list is renumbered in the wanted order, else
    only `fresh` (keys new to the list), after the list's last position."""
    if renumber:
        have = dict(rows.values_list(key, "position"))
        return {k: i for i, k in enumerate(wanted) if have.get(k) != i}
    if not fresh:
        return {}
    top = rows.aggregate(top=Max("position"))["top"]
    start = 0 if top is None else top + 1
    return {k: start + i for i, k in enumerate(fresh)}


def _move(model, tenant: Tenant, key: str, positions: dict[str, int]) -> None:
    """Give rows that stay their new positions."""
    for chunk in _chunks(list(positions)):
        rows = list(model.objects.filter(tenant=tenant, **{f"{key}__in": chunk}))
        for row in rows:
            row.position = positions[getattr(row, key)]
        model.objects.bulk_update(rows, ["position"], batch_size=1_000)


def _write(tenant: Tenant, change: RoutingChange, wanted: RoutingSet) -> None:
    # Positions are worked out from the rows as they are, before anything is written.
    domains = LoginDomain.objects.filter(tenant=tenant)
    emails = WhitelistEntry.objects.filter(tenant=tenant)
    new = {**change.whitelist_added, **change.role_changed}
    domain_at = _positions(
        domains, "domain", wanted.domains, change.domains_added, "domains" in change.reordered
    )
    email_at = {}
    for name, is_admin in (("admins", True), ("users", False)):
        fresh = [e for e, a in new.items() if a is is_admin]
        email_at |= _positions(
            emails.filter(is_admin=is_admin),
            "email",
            wanted.lists()[name],
            fresh,
            name in change.reordered,
        )
    if change.domains_removed:
        domains.filter(domain__in=change.domains_removed).delete()
    for chunk in _chunks(list(change.whitelist_removed)):
        emails.filter(email__in=chunk).delete()
    for is_admin in (True, False):
        changed = [e for e, a in change.role_changed.items() if a is is_admin]
        for chunk in _chunks(changed):
            emails.filter(email__in=chunk).update(is_admin=is_admin)
    added = set(change.domains_added)
    _move(LoginDomain, tenant, "domain", {d: p for d, p in domain_at.items() if d not in added})
    _move(
        WhitelistEntry,
        tenant,
        "email",
        {e: p for e, p in email_at.items() if e not in change.whitelist_added},
    )
    LoginDomain.objects.bulk_create(
        [LoginDomain(tenant=tenant, domain=d, position=domain_at[d]) for d in change.domains_added]
    )
    WhitelistEntry.objects.bulk_create(
        [
            WhitelistEntry(tenant=tenant, email=e, is_admin=a, position=email_at[e])
            for e, a in change.whitelist_added.items()
        ],
        batch_size=WRITE_CHUNK,
    )


def _conflicts(
    tenant: Tenant, routing: RoutingSet, pending: dict[str, str] | None = None
) -> list[FieldError]:
    """After a unique-constraint failure: which keys another tenant won, and who (`pending`:
    keys other tenants were saving in the same failed write, and theirs)."""
    checker = RoutingChecker(tenant_name=tenant.name, tenant_id=tenant.pk)
    domains = checker._owners(LoginDomain, "domain", list(routing.domains))
    emails = checker._owners(WhitelistEntry, "email", list(routing.whitelist))
    return [
        FieldError(routing.path_of(key), checker.conflict_message(key, owner))
        for key, owner in sorted({**(pending or {}), **domains, **emails}.items())
    ]


def _conflict_error(tenant: Tenant, routing: RoutingSet) -> InvalidInput:
    errors = _conflicts(tenant, routing)
    if not errors:
        errors = [FieldError(routing.path, "another change was saved at the same time; retry")]
    return InvalidInput(errors)


def _label(value) -> str:
    return (value.strip() if isinstance(value, str) else "") or "value"


def routing_add(
    *, tenant: Tenant, kind: str, values: list[str], actor: str, allow_public=()
) -> RoutingChange:
    """Add domains (kind "domain") or whitelist emails ("admin"/"user") to a tenant.

    Errors carry the typed value as their path, for an inline form. An email already whitelisted
    in the tenant with the other role is refused (one role per email), and so is a public mail
    domain that `allow_public` (the domains the admin confirmed) does not list.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    with transaction.atomic():
        _lock_tenant(tenant)
        current = tenant_routing(tenant)
        checker = RoutingChecker(tenant_name=tenant.name, tenant_id=tenant.pk)
        items = [Item(v, _label(v), kind) for v in values]
        if not items:
            raise InvalidInput(FieldError("value", "type a domain or an email address first"))
        items = checker.normalise(items)
        items = checker.refuse_repeats(items, where=lambda seen: "earlier in this form")
        existing = {d: "domain" for d in current.domains}
        existing.update({e: "admin" if a else "user" for e, a in current.whitelist.items()})
        new_items = []
        for item in items:
            had = existing.get(item.key)
            if had == item.kind:
                checker.errors.append(FieldError(item.path, f"'{item.key}' is already listed"))
            elif had:
                checker.errors.append(
                    FieldError(
                        item.path,
                        f"'{item.key}' is already a whitelisted {had} of this tenant: an email "
                        f"has one role in a tenant; remove it from the {had}s first",
                    )
                )
            else:
                new_items.append(item)
        confirmed = checker.refuse_public_domains(new_items, allow_public, CONFIRM_IN_FORM)
        checker.refuse_conflicts(new_items)
        if kind == "domain" and len(current.domains) + len(new_items) > MAX_DOMAINS:
            checker.errors.append(
                FieldError("value", f"a tenant can have at most {MAX_DOMAINS} domains")
            )
        checker.raise_if_errors()
        checker.warn_about_cross_routing(new_items)
        keys = [i.key for i in new_items]
        wanted = RoutingSet(
            tenant_name=tenant.name,
            domains=current.domains + (keys if kind == "domain" else []),
            admins=current.admins + (keys if kind == "admin" else []),
            users=current.users + (keys if kind == "user" else []),
            warnings=checker.warnings,
            public_confirmed=confirmed,
        )
        return routing_save(tenant=tenant, routing=wanted, actor=actor, locked=current)


def routing_remove(*, tenant: Tenant, kind: str, key: str, actor: str) -> RoutingChange:
    """Remove one domain or whitelisted email (the stored, normalised key) from a tenant."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    with transaction.atomic():
        _lock_tenant(tenant)
        current = tenant_routing(tenant)
        lists = {"domain": current.domains, "admin": current.admins, "user": current.users}
        if key not in lists[kind]:
            raise InvalidInput(FieldError("value", f"'{key}' is not in this list any more"))
        lists[kind].remove(key)
        return routing_save(tenant=tenant, routing=current, actor=actor)


def server_routing_checked(*, tenant: Tenant, server) -> RoutingSet:
    """The server's routing (`login.get_settings`, parsed) checked like any other input before the
    console takes it: a domain or an email another tenant has in the console is refused (raises
    InvalidInput naming that tenant), and so is a public mail domain the console does not hold
    for this tenant already (held ones were confirmed when they were added)."""
    return routing_validate(
        tenant_name=tenant.name,
        domains=server.domains,
        admins=[e for e, a in server.whitelist.items() if a],
        users=[e for e, a in server.whitelist.items() if not a],
        path="server",
        tenant_id=tenant.pk,
        allow_public=tenant_routing(tenant).domains,
        confirm_hint=CONFIRM_BEFORE_PULL,
    )
