"""Planning a SPEC: what `apply` would do, found with read calls only.

Reads: one `system.get_companies`; for tenants whose company exists, `users.get_all` for admins
the console has no user id for, and `login.get_settings` (as the tenant's first admin) when the
SPEC has a `login` section. Independent tenants are read concurrently. The result lists, per
tenant, the ordered calls apply will make (the same StepSpecs apply records and runs) and what
apply stores in the console without a call.

Removals: what the console or the server holds in a section the SPEC contains but the SPEC no
longer lists (a cross-tenant group, an identity provider, a tenant's login domain or whitelisted
email). They are listed in `Plan.removals`; apply makes them only with `prune=True`, otherwise it
keeps them (a tenant's routing is then the SPEC's plus the kept entries).
"""

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime

from console.apiserver import ApiClient, ApiError, CallRecord
from console.identifiers import normalize_domain, normalize_email
from console.validation import InvalidInput
from sso.models import LoginDomain, WhitelistEntry
from sso.multitenant.services import tenant_sso_calls
from sso.providers.spec import env_reference
from sso.routing.push import parse_server_state
from sso.routing.queries import tenant_routing, tenants_routing
from sso.routing.services import RoutingSet, routing_order_changes, routing_push_calls
from tenants.models import Tenant, TenantAdmin
from tenants.provisioning import calls as build
from tenants.provisioning import lookups
from tenants.provisioning.engine import (
    DEFAULT_CONCURRENCY,
    admins_with_credentials_outstanding,
    credentials_outstanding,
)
from tenants.validation import AdminInput, TenantInput, fold

from .server_config import Removal, server_removals
from .server_reads import SnapshotReads
from .validate import SpecModel

__all__ = ["AdminPlan", "Plan", "PlanError", "Removal", "TenantPlan", "build_plan", "plan_lines"]

SETTINGS_KEYS = ("allowed_users", "features", "exclude_features")
ClientFactory = Callable[[Callable[[CallRecord], None]], ApiClient]
# (read, total): how many of the tenants' read calls have finished, as they finish.
ReadProgress = Callable[[int, int], None]


class PlanError(Exception):
    """The apiserver could not be read, or disagrees with the console in a way apply cannot fix."""


@dataclass
class AdminPlan:
    input: AdminInput
    console: TenantAdmin | None = None
    user_id: str = ""  # known on the server
    adopt: bool = False  # found on the server with a read call; apply records the id
    create: bool = False
    credentials: bool = False


@dataclass
class TenantPlan:
    """One SPEC tenant's plan. `input` is what apply stores: the SPEC's tenant, its `login`
    widened by the kept routing entries when planned without prune (`spec_login` is the SPEC's
    own); `push_login` is the routing the calls make the server hold."""

    input: TenantInput
    console: Tenant | None = None
    company: dict | None = None
    adopt_company: bool = False
    settings_changes: dict = field(default_factory=dict)
    admins: list[AdminPlan] = field(default_factory=list)
    steps: list[build.StepSpec] = field(default_factory=list)
    console_changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    server_login: dict | None = None
    users_found: dict[str, dict] = field(default_factory=dict)
    spec_login: RoutingSet | None = None
    push_login: RoutingSet | None = None
    console_login: RoutingSet | None = None  # the console's routing of the tenant, as read
    # Ids of the console's admins still waiting for credentials (None: not preloaded).
    outstanding_admins: set[int] | None = None
    removals: list[Removal] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.input.name

    @property
    def company_id(self) -> str:
        return (self.company or {}).get("id", "")

    @property
    def action(self) -> str:
        if self.console is None and self.company is None:
            return "create"
        if self.steps or self.console_changes:
            return "update"
        return "unchanged"

    def secrets(self) -> dict[int, dict[str, str]]:
        return {i: s.secret_values for i, s in enumerate(self.steps, start=1) if s.secret_values}


@dataclass
class Plan:
    spec: SpecModel
    api_url: str
    tenants: list[TenantPlan] = field(default_factory=list)
    read_calls: list[CallRecord] = field(default_factory=list)
    snippets: object | None = None  # changes.spec.server_config.SnippetDiff
    prune: bool = False
    # Each tenant's routing removals (in tenant order), then groups and identity providers.
    removals: list[Removal] = field(default_factory=list)
    # When the plan read the snapshot instead of the server: the time of that refresh.
    as_of: datetime | None = None

    @property
    def call_count(self) -> int:
        return sum(len(t.steps) for t in self.tenants)

    @property
    def kept(self) -> list[Removal]:
        """The removals apply leaves alone (planned without prune)."""
        return [r for r in self.removals if not r.applied]

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "unchanged": 0}
        for t in self.tenants:
            out[t.action] += 1
        return out


def build_plan(
    spec: SpecModel,
    *,
    client_factory: ClientFactory,
    api_url: str = "",
    concurrency: int = DEFAULT_CONCURRENCY,
    resolve_secrets: bool = True,
    prune: bool = False,
    reads: SnapshotReads | None = None,
    on_read: ReadProgress | None = None,
) -> Plan:
    """Raise PlanError when a read call fails; InvalidInput for an unset env: secret on apply.

    `prune`: removals (see the module's docstring) are made; without it they are kept.
    `reads`: the server as last refreshed (server_reads.fresh_snapshot): the plan reads it
    instead of calling the server, unless it lacks something a tenant needs.
    `on_read(read, total)`: told, in the calling thread, as the tenants' read calls finish.
    """
    plan = Plan(spec=spec, api_url=api_url, prune=prune)
    if reads is not None:
        plan.as_of = reads.as_of
        companies = reads.companies
    else:
        client = client_factory(plan.read_calls.append)
        try:
            companies = lookups.get_companies(client)
        except ApiError as exc:
            raise PlanError(f"reading the companies failed: {exc}") from None
    by_id = {c["id"]: c for c in companies}
    by_name: dict[str, dict] = {}
    for company in companies:
        by_name.setdefault(fold(str(company.get("name", ""))), company)
    console = {
        t.pk: t
        for t in Tenant.objects.filter(
            pk__in=[t.tenant_id for t in spec.tenants if t.tenant_id]
        ).prefetch_related("admins")
    }
    problems = []
    for item in spec.tenants:
        tp = TenantPlan(input=item, console=console.get(item.tenant_id))
        if tp.console is not None and tp.console.company_id:
            tp.company = by_id.get(tp.console.company_id)
            if tp.company is None:
                problems.append(
                    f"{item.path} ({item.name}): the console's company id "
                    f"{tp.console.company_id} is not on the apiserver (deleted outside the "
                    "console?). Delete the tenant in the console (runbook) or remove it from "
                    "the SPEC."
                )
        else:
            tp.company = by_name.get(fold(item.name))
            tp.adopt_company = tp.company is not None
        plan.tenants.append(tp)
    if problems:
        raise PlanError("\n".join(problems))
    if reads is None or not _read_snapshot(plan, reads):
        _read_tenants(plan, client_factory, concurrency, on_read)
    _preload_console_state(plan)
    claimed = _spec_routing_owners(spec)
    for tp in plan.tenants:
        _plan_routing(tp, prune=prune, claimed=claimed)
        _plan_tenant(tp, resolve_secrets=resolve_secrets)
    plan.removals = [r for tp in plan.tenants for r in tp.removals]
    plan.removals += server_removals(spec, prune=prune)
    return plan


# --- reads --------------------------------------------------------------------------------------


def _needs_read(tp: TenantPlan) -> bool:
    return tp.company is not None and (
        any(
            not _console_admin(tp, a.email) or not _console_admin(tp, a.email).user_id
            for a in tp.input.admins
        )
        or tp.input.login is not None
    )


def _console_admin(tp: TenantPlan, email: str) -> TenantAdmin | None:
    if tp.console is None:
        return None
    for admin in tp.console.admins.all():
        if admin.email == email:
            return admin
    return None


def _read_tenant(tp: TenantPlan, client: ApiClient) -> None:
    """Read calls for one tenant (no database access: runs in a worker thread)."""
    company_id = tp.company_id
    missing = [
        a.email
        for a in tp.input.admins
        if not (_console_admin(tp, a.email) and _console_admin(tp, a.email).user_id)
    ]
    if missing:
        data = client.call("users.get_all", {"email": missing, "company": [company_id]})
        for user in data.get("users") or []:
            email = fold(str(user.get("email", "")))
            if user.get("id") and user.get("company") in (None, "", company_id):
                tp.users_found[email] = user
    if tp.input.login is not None:
        act_as = _act_as_user_id(tp)
        if act_as:
            tp.server_login = lookups.login_settings(client, act_as)


def _preload_console_state(plan: Plan) -> None:
    """What planning reads of the console for each tenant, read for all of them at once: their
    routing and which admins still wait for credentials (a few queries, whatever the number)."""
    known = [tp for tp in plan.tenants if tp.console is not None]
    routing = tenants_routing(tp.console for tp in known if tp.input.login is not None)
    admin_ids = [a.pk for tp in known for a in tp.console.admins.all()]
    outstanding = admins_with_credentials_outstanding(admin_ids)
    for tp in known:
        tp.console_login = routing.get(tp.console.pk)
        tp.outstanding_admins = outstanding


def _read_snapshot(plan: Plan, reads: SnapshotReads) -> bool:
    """The reads of _read_tenant, from the snapshot; False when it lacks a row a tenant needs
    (the caller then reads the server, and says so by `as_of` being None)."""
    todo = [tp for tp in plan.tenants if _needs_read(tp)]
    found: dict[int, tuple[dict, dict | None]] = {}
    for tp in todo:
        company_id = tp.company_id
        users = reads.users.get(company_id)
        if users is None:
            plan.as_of = None
            return False
        by_email = {fold(str(u.get("email", ""))): u for u in users if u.get("id")}
        server_login = None
        if tp.input.login is not None:
            server_login = reads.routing.get(company_id)
            if server_login is None:
                plan.as_of = None
                return False
        found[id(tp)] = (by_email, server_login)
    for tp in todo:
        by_email, server_login = found[id(tp)]
        for admin in tp.input.admins:
            user = by_email.get(admin.email)
            console = _console_admin(tp, admin.email)
            if user is not None and not (console and console.user_id):
                tp.users_found[admin.email] = user
        if tp.input.login is not None and _act_as_user_id(tp):
            tp.server_login = {k: v for k, v in server_login.items() if k != "_error"}
    return True


def _read_tenants(
    plan: Plan, client_factory: ClientFactory, concurrency: int, on_read: ReadProgress | None
) -> None:
    todo = [tp for tp in plan.tenants if _needs_read(tp)]
    if not todo:
        return
    told = on_read or (lambda read, total: None)
    told(0, len(todo))
    # Tenant admins are loaded before the threads start; workers make HTTP calls only.
    for tp in todo:
        if tp.console is not None:
            list(tp.console.admins.all())

    def one(tp: TenantPlan) -> str:
        records: list[CallRecord] = []
        try:
            _read_tenant(tp, client_factory(records.append))
        except ApiError as exc:
            return f"{tp.input.path} ({tp.name}): a read call failed: {exc}"
        finally:
            plan.read_calls.extend(records)
        return ""

    if concurrency <= 1 or len(todo) == 1:
        failures = []
        for count, tp in enumerate(todo, 1):
            failures.append(one(tp))
            told(count, len(todo))
    else:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="plan") as pool:
            futures = [pool.submit(one, tp) for tp in todo]
            for count, _ in enumerate(as_completed(futures), 1):
                told(count, len(todo))
            failures = [future.result() for future in futures]
    failures = [f for f in failures if f]
    if failures:
        raise PlanError("\n".join(failures))


def _first_admin_email(tp: TenantPlan) -> str:
    """login.* calls act as the tenant's first admin: the console's first, else the SPEC's."""
    if tp.console is not None:
        admins = sorted(tp.console.admins.all(), key=lambda a: a.pk)
        with_id = [a for a in admins if a.user_id]
        if with_id:
            return with_id[0].email
        if admins:
            return admins[0].email
    return tp.input.admins[0].email if tp.input.admins else ""


def _act_as_user_id(tp: TenantPlan) -> str:
    email = _first_admin_email(tp)
    admin = _console_admin(tp, email)
    if admin is not None and admin.user_id:
        return admin.user_id
    found = tp.users_found.get(email)
    return str(found["id"]) if found else ""


# --- routing removals ---------------------------------------------------------------------------

LOOKUP_CHUNK = 500


def _spec_routing_owners(spec: SpecModel) -> dict[str, str]:
    """`{routing key: tenant name}` of the `login` sections of every tenant of the SPEC."""
    owners: dict[str, str] = {}
    for item in spec.tenants:
        if item.login is not None:
            owners.update(dict.fromkeys(item.login.keys(), item.name))
    return owners


def _is_normalised(key: str) -> bool:
    try:
        return (normalize_email(key) if "@" in key else normalize_domain(key)) == key
    except InvalidInput:
        return False


def _not_recordable(tp: TenantPlan, keys: list[str], claimed: dict[str, str]) -> dict[str, str]:
    """`{key: why}` for entries only the server holds that the console cannot record for this
    tenant: another tenant has them (in the console or in this SPEC), or they are not valid."""
    out = {k: "it is not a valid domain or email address" for k in keys if not _is_normalised(k)}
    for key in keys:
        if key not in out and key in claimed:
            out[key] = f"this SPEC gives it to tenant '{claimed[key]}'"
    for model, field_name, wanted in (
        (LoginDomain, "domain", [k for k in keys if "@" not in k and k not in out]),
        (WhitelistEntry, "email", [k for k in keys if "@" in k and k not in out]),
    ):
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            rows = model.objects.filter(
                **{f"{field_name}__in": wanted[start : start + LOOKUP_CHUNK]}
            ).order_by()
            if tp.console is not None:
                rows = rows.exclude(tenant_id=tp.console.pk)
            for key, name in rows.values_list(field_name, "tenant__name"):
                out[key] = f"tenant '{name}' has it in the console"
    return out


def _widened(login: RoutingSet, domains: list[str], whitelist: dict[str, bool]) -> RoutingSet:
    """The SPEC's routing plus kept entries after it, in the order given (the console's, then the
    server's); the SPEC's paths and warnings stay."""
    return replace(
        login,
        domains=[*login.domains, *domains],
        admins=[*login.admins, *(e for e, a in whitelist.items() if a)],
        users=[*login.users, *(e for e, a in whitelist.items() if not a)],
    )


def _plan_routing(tp: TenantPlan, *, prune: bool, claimed: dict[str, str]) -> None:
    """The tenant's routing removals: domains and whitelisted emails the console or the server
    holds for it that the SPEC's `login` lacks (a role change is not a removal).

    With prune, apply makes the routing exactly the SPEC's. Without, the kept entries join the
    SPEC's in what apply stores (`input.login`) and pushes (`push_login`), so no call removes
    them; a kept email keeps the console's role (the server's when the console lacks it). An entry
    only the server holds is recorded in the console too, unless the console cannot take it (see
    `_not_recordable`): it is then kept on the server only, with a note.
    """
    login = tp.spec_login = tp.push_login = tp.input.login
    if login is None:
        return
    if tp.console is not None and tp.console_login is None:
        tp.console_login = tenant_routing(tp.console)
    console = tp.console_login
    server = parse_server_state(tp.server_login) if tp.server_login is not None else None
    wanted_domains, wanted_emails = set(login.domains), login.whitelist
    domains: dict[str, bool] = {}  # kept domain -> the console holds it
    emails: dict[str, tuple[bool, bool]] = {}  # kept email -> (is_admin, the console holds it)
    if console is not None:
        domains.update((d, True) for d in console.domains if d not in wanted_domains)
        emails.update(
            (e, (a, True)) for e, a in console.whitelist.items() if e not in wanted_emails
        )
    if server is not None:
        for domain in server.domains:
            if domain not in wanted_domains:
                domains.setdefault(domain, False)
        for email, is_admin in server.whitelist.items():
            if email not in wanted_emails:
                emails.setdefault(email, (is_admin, False))
    target = f"tenant:{tp.name}"
    tp.removals = [Removal("routing.domain.remove", target, d, prune) for d in sorted(domains)]
    tp.removals += [Removal("routing.whitelist.remove", target, e, prune) for e in sorted(emails)]
    if prune or not tp.removals:
        return
    server_only = [d for d, held in domains.items() if not held]
    server_only += [e for e, (_, held) in emails.items() if not held]
    elsewhere = _not_recordable(tp, server_only, claimed)
    for key, why in sorted(elsewhere.items()):
        tp.notes.append(
            f"the server routes {key} to this tenant but {why}: it is kept on the server only "
            "(--prune removes it)"
        )
    roles = {e: a for e, (a, _) in emails.items()}
    tp.push_login = _widened(login, list(domains), roles)
    kept_login = _widened(
        login,
        [d for d in domains if d not in elsewhere],
        {e: a for e, a in roles.items() if e not in elsewhere},
    )
    tp.input = replace(tp.input, login=kept_login)


# --- steps --------------------------------------------------------------------------------------


def _settings_changes(tp: TenantPlan) -> dict:
    item = tp.input
    wanted = {
        "allowed_users": item.allowed_users,
        "features": list(item.features),
        "exclude_features": list(item.exclude_features),
    }
    company = tp.company or {}
    if "defaults" in company:
        current = dict(company.get("defaults") or {})
    elif tp.console is not None:
        current = {
            "allowed_users": tp.console.allowed_users,
            "features": tp.console.features,
            "exclude_features": tp.console.exclude_features,
        }
    else:
        current = {}
    changes = {}
    for key in SETTINGS_KEYS:
        if key not in item.given:
            continue  # a SPEC manages only the settings it names
        have = current.get(key)
        want = wanted[key]
        if key == "allowed_users":
            have = int(have) if isinstance(have, int | str) and str(have).isdigit() else None
        else:
            have, want = sorted(have or []), sorted(want)
        if have != want:
            changes[key] = wanted[key]
    return changes


def _credentials_outstanding(tp: TenantPlan, admin: TenantAdmin) -> bool:
    if tp.outstanding_admins is None:
        return credentials_outstanding(admin)
    return admin.pk in tp.outstanding_admins


def _plan_admins(tp: TenantPlan) -> None:
    creating = tp.company is None
    for item in tp.input.admins:
        ap = AdminPlan(input=item, console=_console_admin(tp, item.email))
        if ap.console is not None and ap.console.user_id:
            ap.user_id = ap.console.user_id
        elif not creating and item.email in tp.users_found:
            ap.user_id = str(tp.users_found[item.email]["id"])
            ap.adopt = True
        else:
            ap.create = True
        if ap.create:
            ap.credentials = True
        elif ap.console is not None and _credentials_outstanding(tp, ap.console):
            ap.credentials = True
        tp.admins.append(ap)


def _placeholder_tenant(tp: TenantPlan) -> Tenant:
    """An unsaved Tenant with the company id known so far (or the placeholder), for builders."""
    tenant = Tenant(name=tp.name, company_id=tp.company_id or build.COMPANY_ID)
    if tp.console is not None:
        tenant.pk = tp.console.pk
    return tenant


class OrderChange(str):
    """A console change that gives a routing list a new order: it reads as its plan line and
    carries the list before and after (the changeset step's before/after)."""

    before: dict
    after: dict

    def __new__(cls, text: str, *, before: dict, after: dict) -> "OrderChange":
        change = super().__new__(cls, text)
        change.before, change.after = before, after
        return change


ORDER_PATHS = {
    "domains": "login.domains",
    "admins": "login.whitelist.admins",
    "users": "login.whitelist.users",
}
SHOWN_KEYS = 10


def _shown_keys(keys: list[str]) -> str:
    more = len(keys) - SHOWN_KEYS
    text = ", ".join(keys[:SHOWN_KEYS]) or "(none)"
    return f"{text}, … ({more:,} more)" if more > 0 else text


def _order_changes(current: RoutingSet, wanted: RoutingSet) -> list[OrderChange]:
    """A reorder of a routing list is a change: apply stores the SPEC's order."""
    out = []
    for name, (was, now) in routing_order_changes(current, wanted).items():
        path = ORDER_PATHS[name]
        out.append(
            OrderChange(
                f"new order of {path}: {_shown_keys(was)} → {_shown_keys(now)}",
                before={path: was},
                after={path: now},
            )
        )
    return out


def _plan_login(tp: TenantPlan) -> list[build.StepSpec]:
    email = _first_admin_email(tp)
    if not email:
        return []
    act_as = _act_as_user_id(tp) or build.user_id_of(email)
    calls = routing_push_calls(
        tenant=_placeholder_tenant(tp),
        server_state=tp.server_login,
        routing=tp.push_login,
        act_as=act_as,
    )
    return [build.call_step(call) for call in calls]


def _reads_environment(sso) -> bool:
    """Whether a `tenants[].sso` section takes a value from the environment (its client secret,
    an `env:` client id): only then can `plan` not tell if what was pushed last is unchanged."""
    conf = getattr(sso, "configuration", None) or {}
    return any(key == "client_secret" or env_reference(value) for key, value in conf.items())


def _plan_sso(tp: TenantPlan, resolve_secrets: bool) -> list[build.StepSpec]:
    tenant = _placeholder_tenant(tp)
    # A section without a value from the environment is compared with what was pushed, as apply
    # does: resolving reads nothing then, and an unchanged section plans no call.
    resolve = resolve_secrets or not _reads_environment(tp.input.sso)
    try:
        calls = tenant_sso_calls(tenant=tenant, sso=tp.input.sso, resolve=resolve)
    except InvalidInput as exc:
        if resolve_secrets:
            raise
        tp.notes.append(str(exc))
        calls = tenant_sso_calls(tenant=tenant, sso=tp.input.sso, resolve=False)
    return [build.call_step(call) for call in calls]


def _plan_tenant(tp: TenantPlan, *, resolve_secrets: bool) -> None:
    item = tp.input
    if tp.company is None:
        tp.steps.append(
            build.company_create_step(
                name=item.name,
                allowed_users=item.allowed_users,
                features=item.features,
                exclude_features=item.exclude_features,
            )
        )
    else:
        if tp.adopt_company:
            tp.console_changes.append(
                f"adopt the existing company {tp.company_id} (found by name on the apiserver)"
            )
        tp.settings_changes = _settings_changes(tp)
        if tp.settings_changes:
            tp.steps.append(
                build.StepSpec(
                    kind="call",
                    endpoint="system.update_company_settings",
                    body={"company": tp.company_id, **tp.settings_changes},
                    description="Update the tenant's settings: " + ", ".join(tp.settings_changes),
                )
            )
    _plan_admins(tp)
    for ap in tp.admins:
        if ap.create:
            tp.steps.append(
                build.user_create_step(
                    name=ap.input.name, email=ap.input.email, internal=ap.input.internal
                )
            )
        elif ap.adopt:
            tp.console_changes.append(f"record the existing user {ap.input.email} ({ap.user_id})")
        if ap.credentials:
            tp.steps.append(build.credentials_step(email=ap.input.email))
        if ap.console is None and not ap.create:
            tp.console_changes.append(f"add the admin {ap.input.email}")
    if tp.console is not None:
        known = {a.input.email for a in tp.admins}
        for admin in tp.console.admins.all():
            if admin.email not in known:
                tp.notes.append(
                    f"the console's admin {admin.email} is not in the SPEC; it is kept "
                    "(the apiserver has no call that removes a user)"
                )
    if item.login is not None:
        tp.steps += _plan_login(tp)
        if tp.console is not None:
            current = tp.console_login or tenant_routing(tp.console)
            if (set(current.domains), current.whitelist) != (
                set(item.login.domains),
                item.login.whitelist,
            ):
                tp.console_changes.append("update the sign-in routing kept in the console")
            tp.console_changes += _order_changes(current, item.login)
    if item.sso is not None:
        tp.steps += _plan_sso(tp, resolve_secrets)
    if (
        tp.console is not None
        and not tp.steps
        and tp.console.status != Tenant.Status.ACTIVE
        and tp.company is not None
    ):
        tp.console_changes.append(
            "the apiserver already matches (checked with read calls): mark the tenant active"
        )
    if tp.console is None and tp.company is not None:
        tp.console_changes.insert(0, "import the tenant into the console")
    elif tp.console is not None:
        for key in SETTINGS_KEYS:
            if key in item.given and getattr(tp.console, key) != getattr(item, key):
                if key not in tp.settings_changes:
                    tp.console_changes.append(f"record {key} in the console")


def plan_lines(plan: Plan) -> list[str]:
    """The plan as `manage.py plan` prints it: every call in order, each tenant's routing
    removals, then the removals of groups and identity providers."""
    lines = [f"Plan for {plan.spec.source} against {plan.api_url or 'the apiserver'}", ""]
    number = 0
    for tp in plan.tenants:
        verb = {"create": "create", "update": "update", "unchanged": "no change"}[tp.action]
        lines.append(f'Tenant "{tp.name}" ({tp.input.path}): {verb}')
        for change in tp.console_changes:
            lines.append(f"  console: {change}")
        for note in tp.notes:
            lines.append(f"  note: {note}")
        for removal in tp.removals:
            lines.append(f"  {removal.line(tenant=False)}")
        for step in tp.steps:
            number += 1
            call = build.shown_call(step, company_id=tp.company_id)
            lines.append(f"  {number}. {call.endpoint} — {call.description}")
            for name, value in call.headers().items():
                lines.append(f"       {name}: {value}")
            lines.append(f"       {json.dumps(call.body, ensure_ascii=False, sort_keys=True)}")
        lines.append("")
    others = [r for r in plan.removals if not r.target.startswith("tenant:")]
    if others:
        lines.append("Server configuration not in the SPEC:")
        lines += [f"  {r.line()}" for r in others]
        lines.append("")
    counts = plan.counts()
    lines.append(
        f"{plan.call_count} changing call(s): {counts['create']} tenant(s) to create, "
        f"{counts['update']} to update, {counts['unchanged']} unchanged. "
        f"(Planning made {len(plan.read_calls)} read call(s).)"
    )
    if plan.removals:
        kept = len(plan.kept)
        lines.append(
            f"{len(plan.removals)} removal(s): "
            + (
                f"{kept} kept (not in the SPEC; --prune removes them)."
                if kept
                else "made because of --prune."
            )
        )
    return lines
