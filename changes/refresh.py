"""Reading the apiserver's state into the snapshot that pages show (pages never call the server).

One refresh makes these read calls:

- `server.info` (version, whether it is the sandbox) and `system.get_companies`, once each;
- for each console tenant (not deleted, with a company the server lists): `login.get_settings`
  acting as the tenant's first admin that has a user id, and `users.get_all` by its company;
- for each of those tenants' users, `auth.get_credentials` impersonating the user, and, as the
  first admin, `auth.login` and `users.get_vaults` (changes/fleet_reads.py: the credentials
  inventory and the admin vaults, never a secret).

The tenant reads run a few at a time in a thread pool (each thread's client from
`client_from_settings`, over that thread's kept-alive session); the threads only talk to the
apiserver and every database write happens afterwards on the calling thread (SQLite has one
writer). When the server cannot be read at all (the first two calls fail), nothing in the
snapshot changes and the refresh is recorded as failed. When one tenant's read fails, the other
rows are still written and the failing row keeps what was read before, with the failure noted.

Run by `manage.py refresh_server_state`, by the Refresh button (web/refresh.py) and, later, by
the worker on a schedule; the change pipeline amends the snapshot after it changes the server.
"""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from console.apiserver import (
    ApiCannotConnect,
    ApiClient,
    ApiError,
    ApiTimeout,
    CallRecord,
    client_from_settings,
)
from console.snapshot import store
from console.validation import InvalidInput
from sso.routing.push import tenant_act_as
from tenants.models import IssuedCredential, Tenant
from tenants.provisioning import lookups

from . import fleet_reads

ClientFactory = Callable[[Callable[[CallRecord], None]], ApiClient]
CONCURRENCY = 8
SHOWN_FAILURES = 20


@dataclass
class TenantRead:
    """What the server answered for one tenant (filled in a worker thread, saved afterwards)."""

    tenant_id: int
    name: str
    company_id: str
    act_as: str = ""
    routing: dict | None = None
    users: list[dict] | None = None
    credentials: dict | None = None
    vaults: dict | None = None
    errors: dict[str, str] = field(default_factory=dict)  # snapshot kind -> failure


@dataclass
class RefreshResult:
    ok: bool = False
    reached: bool = False  # the server answered server.info and system.get_companies
    error: str = ""  # why the server could not be read at all, or the failed tenant reads
    companies: int = 0
    routing: int = 0  # tenants whose routing was read
    users: int = 0  # tenants whose users were read
    credentials: int = 0  # tenants whose users' credentials were read
    keys: int = 0  # access keys listed
    vaults: int = 0  # tenants whose admin vaults were read
    tenants: int = 0  # console tenants the refresh looked at
    failures: list[str] = field(default_factory=list)  # "<tenant>: <endpoint>: <error>"
    skipped: list[str] = field(default_factory=list)  # tenants not read, and why
    calls: int = 0
    duration_ms: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    version: str = ""

    def summary(self) -> str:
        if not self.reached:
            return f"could not read the apiserver: {self.error}"
        text = (
            f"{self.companies} compan{'y' if self.companies == 1 else 'ies'}, the routing of "
            f"{self.routing} and the users of {self.users} of {self.tenants} console tenant(s), "
            f"{self.calls} call(s) in {self.duration_ms} ms"
        )
        if self.credentials:
            text += f"; {self.keys} access key(s) of {self.credentials} tenant(s)"
        if self.failures:
            text += f"; {len(self.failures)} read(s) failed"
        return text


def refresh_server_state(
    *,
    client_factory: ClientFactory | None = None,
    tenant_ids: list[int] | None = None,
    concurrency: int = CONCURRENCY,
) -> RefreshResult:
    """Read the server into the snapshot and record the read (console.snapshot.ServerRead).

    `tenant_ids`: read only these tenants' routing and users (the companies are always read).
    `client_factory(on_call)` makes an apiserver client; by default the console's one factory,
    `client_from_settings` (a kept-alive session per thread).
    """
    factory = client_factory or client_from_settings
    started = time.monotonic()
    result = RefreshResult(started_at=timezone.now())
    records: list[CallRecord] = []
    store.read_started(result.started_at)

    client = factory(records.append)
    try:
        info = client.call("server.info", {})
        companies = lookups.get_companies(client)
        # The company the console's own key belongs to: the platform, never a tenant.
        me = client.call("users.get_current_user", {}).get("user") or {}
        platform = me.get("company") if isinstance(me.get("company"), dict) else {}
        info = {**info, "platform_company": {k: platform.get(k) for k in ("id", "name")}}
    except ApiError as exc:
        result.error = str(exc)
        return _finish(result, records, started)
    result.reached = True
    result.companies = len(companies)
    result.version = str(info.get("version") or info.get("server_version") or "")
    on_server = {str(c["id"]) for c in companies}

    reads = _tenant_reads(result, on_server, tenant_ids)
    _read_tenants(reads, factory, records, concurrency)

    at = timezone.now()
    routing = {r.company_id: r.routing for r in reads if r.routing is not None}
    users = {r.company_id: {"users": r.users} for r in reads if r.users is not None}
    credentials = _credentials_rows(reads)
    vaults = {r.company_id: _named(r, r.vaults) for r in reads if r.vaults is not None}
    for read in reads:
        result.failures += [f"{read.name}: {message}" for message in read.errors.values()]
        result.failures += _user_failures(read)
    result.routing, result.users = len(routing), len(users)
    result.credentials, result.vaults = len(credentials), len(vaults)
    result.keys = sum(len(row["credentials"]) for row in credentials.values())
    with transaction.atomic():
        store.snapshot_put(store.SERVER, "", info, at)
        store.snapshot_put(store.COMPANIES, "", {"companies": companies}, at)
        store.snapshot_put_many(store.ROUTING, routing, at)
        store.snapshot_put_many(store.USERS, users, at)
        store.snapshot_put_many(store.CREDENTIALS, credentials, at)
        store.snapshot_put_many(store.VAULTS, vaults, at)
        for kind in (store.ROUTING, store.USERS, store.CREDENTIALS, store.VAULTS):
            store.snapshot_note_errors(
                kind, {r.company_id: r.errors[kind] for r in reads if kind in r.errors}, at
            )
        if result.failures:
            shown = result.failures[:SHOWN_FAILURES]
            more = len(result.failures) - len(shown)
            result.error = "; ".join(shown) + (f"; and {more} more" if more else "")
        return _finish(result, records, started)


def _finish(result: RefreshResult, records: list, started: float) -> RefreshResult:
    result.ok = result.reached and not result.failures
    result.calls = len(records)
    result.duration_ms = int((time.monotonic() - started) * 1000)
    result.finished_at = timezone.now()
    store.read_finished(
        result.ok, result.error, result.calls, result.duration_ms, at=result.finished_at
    )
    return result


def _tenant_reads(
    result: RefreshResult, on_server: set[str], tenant_ids: list[int] | None
) -> list[TenantRead]:
    """The console tenants to read, each with the admin its login.* call acts as (DB only)."""
    tenants = Tenant.objects.filter(deleted_at__isnull=True).exclude(company_id="")
    if tenant_ids is not None:
        tenants = tenants.filter(pk__in=tenant_ids)
    reads = []
    for tenant in tenants.order_by("name", "pk"):
        result.tenants += 1
        if tenant.company_id not in on_server:
            result.skipped.append(
                f"{tenant.name}: the server does not list its company {tenant.company_id}"
            )
            continue
        read = TenantRead(tenant_id=tenant.pk, name=tenant.name, company_id=tenant.company_id)
        try:
            read.act_as = tenant_act_as(tenant)
        except InvalidInput as exc:
            result.skipped.append(f"{tenant.name}: routing not read: {exc.errors[0].message}")
        reads.append(read)
    return reads


def _read_tenants(
    reads: list[TenantRead], factory: ClientFactory, records: list, concurrency: int
) -> None:
    """Each tenant's routing and users, `concurrency` tenants at a time; no database access."""
    unreachable = threading.Event()  # once the server stops answering, stop asking it

    def one(read: TenantRead) -> None:
        client = factory(records.append)
        calls: list[tuple[str, Callable[[], None]]] = []
        if read.act_as:
            calls.append((store.ROUTING, lambda: _routing(read, client)))
        calls.append((store.USERS, lambda: _users(read, client)))
        calls.append((store.CREDENTIALS, lambda: _credentials(read, client)))
        if read.act_as:
            calls.append((store.VAULTS, lambda: _vaults(read, client)))
        for kind, call in calls:
            if unreachable.is_set():
                read.errors[kind] = "not read: an earlier call could not reach the apiserver"
                continue
            try:
                call()
            except ApiError as exc:
                read.errors[kind] = str(exc)
                if isinstance(exc, ApiCannotConnect | ApiTimeout):
                    unreachable.set()

    if concurrency <= 1 or len(reads) <= 1:
        for read in reads:
            one(read)
        return
    with ThreadPoolExecutor(
        max_workers=min(concurrency, len(reads)), thread_name_prefix="refresh"
    ) as pool:
        for future in [pool.submit(one, read) for read in reads]:
            future.result()


def _routing(read: TenantRead, client: ApiClient) -> None:
    data = lookups.login_settings(client, read.act_as)
    read.routing = {
        "domains": list(data.get("domains") or []),
        "whitelist": list(data.get("whitelist") or []),
    }


def _users(read: TenantRead, client: ApiClient) -> None:
    read.users = lookups.company_users(client, read.company_id)


def _credentials(read: TenantRead, client: ApiClient) -> None:
    if read.users is None:
        raise ApiError(endpoint="auth.get_credentials", result_msg="not read: no users read")
    read.credentials = fleet_reads.credentials_of_users(client, read.users)


def _vaults(read: TenantRead, client: ApiClient) -> None:
    read.vaults = fleet_reads.vaults_of_tenant(client, read.act_as)


def _named(read: TenantRead, data: dict) -> dict:
    """A fleet row names its tenant, so the pages that list every tenant need no other table."""
    return {**data, "tenant": read.name, "tenant_id": read.tenant_id}


def _credentials_rows(reads: list[TenantRead]) -> dict[str, dict]:
    """The credentials rows to save; a key the server gives no creation time for gets the time
    the console issued it, when it did (`created_by`: "server" or "console")."""
    found = [r for r in reads if r.credentials is not None]
    # The console issued few keys (its admins'): all of them, rather than 20,000 in one IN.
    issued = dict(IssuedCredential.objects.values_list("access_key", "created_at")) if found else {}
    rows = {}
    for read in found:
        for item in read.credentials.get("credentials") or []:
            if item.get("created"):
                item["created_by"] = "server"
            elif item["access_key"] in issued:
                item["created"] = issued[item["access_key"]].isoformat()
                item["created_by"] = "console"
        rows[read.company_id] = _named(read, read.credentials)
    return rows


def _user_failures(read: TenantRead) -> list[str]:
    data = read.credentials or {}
    if not data.get("failed_users"):
        return []
    first = "; ".join(data.get("user_errors") or [])
    return [f"{read.name}: the credentials of {data['failed_users']} user(s) not read: {first}"]
