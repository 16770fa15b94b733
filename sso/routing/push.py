"""Pushing a tenant's routing to the apiserver in batches, resumable after a failure part-way.

A push is planned from the difference between the console and the server's `login.get_settings`
(so a call is made only when something differs), stored as a job of ordered batches, and sent
batch by batch. Each batch's outcome is recorded before the next is sent; after a failure, a
resume re-reads the server and re-plans only what is still missing, so applied batches are never
sent again. `manage.py apply` runs a job to the end in one process; the browser runs it one
short step per poll (no background thread: a closed tab or a restarted worker leaves a job that
the next poll or a Resume continues).

Assumptions (the docs are silent, see the README): `login.set_domains` replaces the whole
list; changing an email's role is done by removing it and adding it again with the new `is_admin`.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from console.apiserver import ApiError
from console.apiserver.plan import PlannedCall
from console.audit import audit_record
from console.identifiers import normalize_domain, normalize_email
from console.prepared import Prepared
from console.validation import FieldError, InvalidInput
from sso.models import RoutingPushBatch, RoutingPushJob
from tenants.models import Tenant

from .queries import tenant_routing
from .validation import RoutingSet

# The sandbox accepts at most 500 emails or domains per login.* call (the README); the
# console never sends more. Settings may lower it (ROUTING_PUSH_BATCH_SIZE).
DEFAULT_BATCH_SIZE = 500
ACTIONS = {
    "login.set_domains": "login.domains.set",
    "login.add_whitelist_entries": "login.whitelist.add",
    "login.remove_whitelist_entries": "login.whitelist.remove",
}
Status = RoutingPushJob.Status
BatchStatus = RoutingPushBatch.Status


def push_batch_size() -> int:
    size = int(getattr(settings, "ROUTING_PUSH_BATCH_SIZE", DEFAULT_BATCH_SIZE))
    return max(1, min(size, DEFAULT_BATCH_SIZE))


def lease_seconds() -> float:
    """How long a step may hold a job: longer than any one call can take."""
    return float(getattr(settings, "CLEARML_API_TIMEOUT", 10.0)) + 30.0


def tenant_act_as(tenant: Tenant) -> str:
    """The user id login.* calls act as (X-Clearml-Act-As): the tenant's first admin."""
    admin = tenant.first_admin() if tenant.pk else None
    if admin is None and tenant.pk and tenant.admins.exists():
        # admins are planned but not created yet: the tenant's plan has not been applied
        raise InvalidInput(
            FieldError(
                "login",
                f"tenant '{tenant.name}' is not on the apiserver yet: its admins are only planned, "
                "and login.* calls are made as one of them (X-Clearml-Act-As). Apply the tenant's "
                "plan first, then push the routing.",
            )
        )
    if admin is None:
        raise InvalidInput(
            FieldError(
                "login",
                f"tenant '{tenant.name}' has no admin user on the apiserver to act as: login.* "
                "calls are made as one of the tenant's admins (X-Clearml-Act-As), so an admin "
                "must exist first. Add an admin to the tenant, then push the routing.",
            )
        )
    return admin.user_id


# -- the server's state -----------------------------------------------------------------------
@dataclass
class ServerRouting:
    domains: list[str] = field(default_factory=list)
    whitelist: dict[str, bool] = field(default_factory=dict)  # normalised email -> is_admin
    spelling: dict[str, str] = field(default_factory=dict)  # normalised email -> server's text


def _lenient(value: str, normalise) -> str:
    try:
        return normalise(value)
    except InvalidInput:
        return value.strip().lower()


def parse_server_state(data: dict | None) -> ServerRouting:
    """`login.get_settings` data (`{"domains": [...], "whitelist": [{"email", "is_admin"}]}`)."""
    server = ServerRouting()
    if not data:
        return server
    for value in data.get("domains") or []:
        if isinstance(value, str) and value.strip():
            key = _lenient(value, normalize_domain)
            if key not in server.domains:
                server.domains.append(key)
    for entry in data.get("whitelist") or []:
        if isinstance(entry, str):
            entry = {"email": entry, "is_admin": False}
        if not isinstance(entry, dict) or not isinstance(entry.get("email"), str):
            continue
        key = _lenient(entry["email"], normalize_email)
        server.whitelist[key] = bool(entry.get("is_admin"))
        server.spelling[key] = entry["email"]
    return server


@contextmanager
def recording(client, records: list | None) -> Iterator[None]:
    """Collect the CallRecords of the calls made inside, still passing them to the client's hook."""
    if records is None:
        yield
        return
    previous = client.on_call

    def hook(record):
        records.append(record)
        if previous is not None:
            previous(record)

    client.on_call = hook
    try:
        yield
    finally:
        client.on_call = previous


def read_server_state(client, act_as: str, records: list | None = None) -> ServerRouting:
    """The tenant's routing as the apiserver holds it (`login.get_settings`, acting as admin)."""
    with recording(client, records):
        data = client.call("login.get_settings", {}, act_as=act_as)
    return parse_server_state(data)


# -- console versus server --------------------------------------------------------------------
@dataclass
class RoutingDiff:
    domains_console_only: list[str] = field(default_factory=list)
    domains_server_only: list[str] = field(default_factory=list)
    whitelist_console_only: dict[str, bool] = field(default_factory=dict)
    whitelist_server_only: dict[str, bool] = field(default_factory=dict)
    role_differs: dict[str, bool] = field(default_factory=dict)  # email -> the console's is_admin

    @property
    def in_sync(self) -> bool:
        return not (
            self.domains_console_only
            or self.domains_server_only
            or self.whitelist_console_only
            or self.whitelist_server_only
            or self.role_differs
        )

    @property
    def count(self) -> int:
        return (
            len(self.domains_console_only)
            + len(self.domains_server_only)
            + len(self.whitelist_console_only)
            + len(self.whitelist_server_only)
            + len(self.role_differs)
        )


def routing_diff(console: RoutingSet, server: ServerRouting) -> RoutingDiff:
    """What differs between the console and the server, as sets: the order of a list is the
    console's (the server gets it with the next `login.set_domains`), so a reorder alone is no
    difference here. Keys come in the console's order (admins, then users), the server's own in
    the server's."""
    theirs = server.whitelist
    mine = {e: True for e in console.admins} | {e: False for e in console.users}
    mine_domains, their_domains = set(console.domains), set(server.domains)
    return RoutingDiff(
        domains_console_only=[d for d in console.domains if d not in their_domains],
        domains_server_only=[d for d in server.domains if d not in mine_domains],
        whitelist_console_only={e: a for e, a in mine.items() if e not in theirs},
        whitelist_server_only={e: a for e, a in theirs.items() if e not in mine},
        role_differs={e: a for e, a in mine.items() if e in theirs and theirs[e] != a},
    )


def _batches(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def routing_push_calls(
    *,
    tenant: Tenant,
    server_state: dict | ServerRouting | None,
    routing: RoutingSet | None = None,
    act_as: str | None = None,
) -> list[PlannedCall]:
    """The calls that make the server's routing match the console's, in order.

    `server_state` is `login.get_settings` data (None: a new tenant, nothing on the server yet).
    `routing` defaults to what the database holds for the tenant (give one to plan a SPEC without
    saving it); `act_as` defaults to the tenant's first admin (InvalidInput if it has none).
    Order: `login.set_domains` (the whole list in the console's order, only if the server's
    differs as a set), then removals, then additions (admins, then users, each in the console's
    order), each at most `push_batch_size()` emails.
    """
    act_as = act_as or tenant_act_as(tenant)
    routing = routing if routing is not None else tenant_routing(tenant)
    server = server_state if isinstance(server_state, ServerRouting) else None
    server = server or parse_server_state(server_state)
    diff = routing_diff(routing, server)
    size = push_batch_size()
    calls: list[PlannedCall] = []
    if set(routing.domains) != set(server.domains):
        domains = list(routing.domains)  # the admin's order
        shown = ", ".join(domains) if domains else "no domain"
        calls.append(
            PlannedCall(
                "login.set_domains",
                {"domains": domains},
                act_as=act_as,
                description=f"Set the sign-in domains of '{tenant.name}' to {shown}",
            )
        )
    removals = sorted(
        server.spelling.get(e, e) for e in [*diff.whitelist_server_only, *diff.role_differs]
    )
    groups = [("login.remove_whitelist_entries", None, removals)]
    for is_admin in (True, False):
        listed = routing.admins if is_admin else routing.users
        adds = [e for e in listed if e in diff.whitelist_console_only or e in diff.role_differs]
        groups.append(("login.add_whitelist_entries", is_admin, adds))
    for endpoint, is_admin, emails in groups:
        chunks = _batches(emails, size)
        for number, chunk in enumerate(chunks, start=1):
            body: dict = {"emails": chunk}
            if is_admin is None:
                text = f"Remove {len(chunk):,} email(s) from the whitelist"
            else:
                body["is_admin"] = is_admin
                role = "admin" if is_admin else "user"
                text = f"Whitelist {len(chunk):,} {role} email(s)"
            calls.append(
                PlannedCall(
                    endpoint,
                    body,
                    act_as=act_as,
                    description=f"{text} (batch {number} of {len(chunks)})",
                )
            )
    return calls


# -- push jobs --------------------------------------------------------------------------------
@dataclass
class PushResult:
    job: RoutingPushJob
    batches: list[RoutingPushBatch]

    @property
    def ok(self) -> bool:
        return self.job.status == Status.DONE

    @property
    def applied(self) -> list[RoutingPushBatch]:
        return [b for b in self.batches if b.status == BatchStatus.APPLIED]

    @property
    def failed(self) -> RoutingPushBatch | None:
        return next((b for b in self.batches if b.status == BatchStatus.FAILED), None)

    @property
    def in_sync(self) -> bool:
        """Nothing had to be sent."""
        return self.ok and not self.batches

    def describe(self) -> str:
        if self.in_sync:
            return "the server already matched the console; nothing was sent"
        sendable = [b for b in self.batches if b.status != BatchStatus.REPLANNED]
        text = f"{len(self.applied)} of {len(sendable)} call(s) applied"
        failed = self.failed
        if failed is not None:
            text += f"; call {failed.seq} ({failed.endpoint}) failed: {failed.error}"
        elif self.job.status == Status.FAILED:
            text += f"; stopped: {self.job.error}"
        return text


class RoutingPushFailed(ApiError):
    """A push stopped part-way; `result` tells which batches were applied."""

    kind = "push stopped part-way"

    def __init__(self, result: PushResult, cause: ApiError | None = None):
        failed = result.failed
        super().__init__(
            endpoint=failed.endpoint if failed else "login.*",
            status=getattr(cause, "status", None),
            result_code=getattr(cause, "result_code", None),
            result_subcode=getattr(cause, "result_subcode", None),
            result_msg=getattr(cause, "result_msg", "") or (failed.error if failed else ""),
            trx=getattr(cause, "trx", ""),
        )
        self.result = result
        self.cause = cause
        self.outcome_unknown = bool(failed and failed.outcome_unknown)

    def __str__(self) -> str:
        return (
            f"pushing the sign-in routing of '{self.result.job.tenant.name}' stopped: "
            f"{self.result.describe()}. Run it again to resume; applied calls are not re-sent."
        )


def open_job(tenant: Tenant) -> RoutingPushJob | None:
    found = _OPEN_JOB.fetch(tenant=tenant.pk)
    return found[0] if found else None


_OPEN_JOB = Prepared(
    lambda tenant: RoutingPushJob.objects.filter(
        tenant=tenant, status__in=[Status.RUNNING, Status.FAILED]
    ).order_by("-id")[:1]
)


def _leased(job: RoutingPushJob) -> bool:
    return job.lease_until is not None and job.lease_until > timezone.now()


def push_start(*, tenant: Tenant, actor: str, client) -> RoutingPushJob:
    """Start a push, or resume the tenant's unfinished one, planned from the server's state.

    Reads `login.get_settings` and stores the calls still needed as pending batches. A resumed
    job keeps its applied batches; its failed batch is marked re-planned and whatever it still
    has to do is in the new plan. If another request is sending the job's batches right now,
    the job is returned as it is.
    """
    act_as = tenant_act_as(tenant)
    job = open_job(tenant)
    if job is not None and _leased(job):
        return job
    server = read_server_state(client, act_as)
    calls = routing_push_calls(tenant=tenant, server_state=server, act_as=act_as)
    with transaction.atomic():
        job = open_job(tenant)
        if job is not None and _leased(job):
            return job
        if job is None:
            try:
                with transaction.atomic():
                    job = RoutingPushJob.objects.create(tenant=tenant, actor=actor, act_as=act_as)
            except IntegrityError:  # another request opened one a moment ago
                return open_job(tenant)
        else:
            unfinished = job.batches.filter(status__in=[BatchStatus.FAILED, BatchStatus.SENDING])
            unfinished.update(status=BatchStatus.REPLANNED, finished_at=timezone.now())
            job.batches.filter(status=BatchStatus.PENDING).delete()
            job.resumes += 1
            job.actor = actor
            job.act_as = act_as
            job.error = ""
            job.status = Status.RUNNING
        first = (job.batches.aggregate(m=Max("seq"))["m"] or 0) + 1
        RoutingPushBatch.objects.bulk_create(
            [
                RoutingPushBatch(
                    job=job,
                    seq=first + n,
                    endpoint=call.endpoint,
                    body=call.body,
                    description=call.description[:300],
                    item_count=len(call.body.get("emails") or call.body.get("domains") or []),
                )
                for n, call in enumerate(calls)
            ]
        )
        if not calls:
            job.status = Status.DONE
            job.finished_at = timezone.now()
        job.save()
    return job


def _claim(job: RoutingPushJob) -> bool:
    now = timezone.now()
    claimed = (
        RoutingPushJob.objects.filter(pk=job.pk, status=Status.RUNNING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + timedelta(seconds=lease_seconds()))
    )
    return bool(claimed)


def push_step(job: RoutingPushJob, client, budget_seconds: float | None = None) -> RoutingPushJob:
    """Send the job's next batches, in order, until done, failed, or the time budget is used.

    Only one caller at a time sends a job's batches (a lease on the job row); another caller gets
    the job back unchanged. A batch left "sending" by a process that died is failed with an
    unknown outcome, so a resume re-reads the server before deciding what to send.
    """
    if not _claim(job):
        job.refresh_from_db()
        return job
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    try:
        stale = job.batches.filter(status=BatchStatus.SENDING).first()
        if stale is not None:
            _fail(job, stale, "the console stopped while this call was being sent", True)
            return job
        while True:
            if not RoutingPushJob.objects.filter(pk=job.pk, status=Status.RUNNING).exists():
                break  # stopped meanwhile: the console's routing changed (push_invalidate)
            batch = job.batches.filter(status=BatchStatus.PENDING).order_by("seq").first()
            if batch is None:
                RoutingPushJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
                    status=Status.DONE, finished_at=timezone.now(), updated_at=timezone.now()
                )
                break
            if not _send(job, batch, client):
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            RoutingPushJob.objects.filter(pk=job.pk).update(
                lease_until=timezone.now() + timedelta(seconds=lease_seconds())
            )
    finally:
        RoutingPushJob.objects.filter(pk=job.pk).update(lease_until=None)
        job.refresh_from_db()
    return job


def push_take_back(job: RoutingPushJob, error: str) -> RoutingPushJob:
    """A running job whose sender died (a killed worker): its lease is void. The batch it left
    sending is failed with an unknown outcome and the job failed, so a resume (push_start)
    re-reads the server before deciding what to send. The caller knows the sender is gone and
    has waited for its call in flight to land."""
    RoutingPushJob.objects.filter(pk=job.pk).update(lease_until=None)
    job.refresh_from_db()
    if job.status != Status.RUNNING:
        return job
    stale = job.batches.filter(status=BatchStatus.SENDING).first()
    if stale is not None:
        _fail(job, stale, error, True)
    else:
        RoutingPushJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
            status=Status.FAILED, error=error, updated_at=timezone.now()
        )
    job.refresh_from_db()
    return job


def _audit_batch(job, batch, *, outcome: str, calls=(), error: str = ""):
    after = dict(batch.body)
    after["call"] = f"{batch.seq}"
    after["push_job"] = job.pk
    return audit_record(
        actor=job.actor,
        action=ACTIONS.get(batch.endpoint, batch.endpoint),
        target_type="tenant",
        target_id=str(job.tenant_id),
        target_repr=job.tenant.name,
        after=after,
        calls=calls,
        outcome=outcome,
        error=error,
        outcome_of=None if outcome == "pending" else batch.pending_seq,
    )


def _send(job: RoutingPushJob, batch: RoutingPushBatch, client) -> bool:
    with transaction.atomic():
        batch.status = BatchStatus.SENDING
        batch.sent_at = timezone.now()
        batch.pending_seq = _audit_batch(job, batch, outcome="pending").seq
        batch.save(update_fields=["status", "sent_at", "pending_seq"])
    records: list = []
    call = PlannedCall(batch.endpoint, batch.body, act_as=job.act_as)
    try:
        with recording(client, records):
            call.execute(client)
    except ApiError as exc:
        job._last_error = exc
        _fail(job, batch, str(exc), exc.outcome_unknown, records)
        return False
    with transaction.atomic():
        batch.status = BatchStatus.APPLIED
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "finished_at"])
        _audit_batch(job, batch, outcome="success", calls=records)
    return True


def _fail(job, batch, error: str, outcome_unknown: bool, records=()) -> None:
    with transaction.atomic():
        batch.status = BatchStatus.FAILED
        batch.error = error
        batch.outcome_unknown = outcome_unknown
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "error", "outcome_unknown", "finished_at"])
        RoutingPushJob.objects.filter(pk=job.pk).update(
            status=Status.FAILED, error=error, updated_at=timezone.now()
        )
        _audit_batch(job, batch, outcome="failure", calls=records, error=error)


STALE_PLAN = (
    "the console's routing changed after this push was planned; resume to re-plan it from the "
    "server's current state"
)


def push_invalidate(tenant: Tenant) -> None:
    """Stop the tenant's running push: its remaining batches were planned from older routing.

    Called by every routing change. A batch being sent right now finishes and is recorded; the
    rest wait for a resume, which re-reads the server and plans again.
    """
    RoutingPushJob.objects.filter(tenant=tenant, status=Status.RUNNING).update(
        status=Status.FAILED, error=STALE_PLAN, updated_at=timezone.now()
    )


def push_result(job: RoutingPushJob) -> PushResult:
    return PushResult(job, list(job.batches.order_by("seq")))


def routing_push(*, tenant: Tenant, actor: str, client, wait_seconds: float = 120.0) -> PushResult:
    """Make the server's routing match the console's, to the end, in this process.

    Resumes the tenant's unfinished push if there is one (applied batches are not sent again).
    Raises InvalidInput when the tenant has no admin to act as, ApiError when the server's state
    cannot be read, and RoutingPushFailed (an ApiError) when a batch fails part-way.
    """
    job = push_start(tenant=tenant, actor=actor, client=client)
    waited_until = time.monotonic() + wait_seconds
    while job.status == Status.RUNNING:
        job = push_step(job, client)
        if job.status == Status.RUNNING:
            # Another request holds the job (a browser tab stepping it): wait for it.
            if time.monotonic() > waited_until:
                break
            time.sleep(0.5)
    result = push_result(job)
    if job.status != Status.DONE:
        raise RoutingPushFailed(result, getattr(job, "_last_error", None))
    return result
