"""Change endpoints: plan a SPEC, read a changeset, approve or reject it, apply it.

Every change goes through the change pipeline (changes/): a plan is recorded the way
`manage.py plan` records it (changes.spec.recorded), approvals are changes.approvals', and an
apply re-plans the recorded SPEC and refuses (409) when the plan changed since it was shown.
"""

from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables
from ninja import Path, Query, Router, Status

from changes import approvals
from changes.apply import NotApplicable as NotApplicableHere
from changes.background import changeset_enqueue, runs_in_background
from changes.models import Changeset
from changes.progress import background_progress
from changes.selectors import changeset_as_dict
from changes.spec.plan import PlanError
from changes.spec.recorded import (
    DEFAULT_CONCURRENCY,
    NotApplicable,
    PlanChanged,
    plan_json,
    spec_apply_recorded,
    spec_from_text,
    spec_plan,
)
from changes.spec.validate import validate_spec
from console.audit import actor_for_request
from console.roles import Role, has_role, request_role
from console.spec import MAX_SPEC_BYTES
from console.validation import FieldError, InvalidInput
from tenants.provisioning.engine import TenantBusy

from .auth import require
from .errors import COMMON, ApiError, BadInput, Conflict, Error, Forbidden, NotFound, UpstreamFailed
from .schemas import ApplyOut, ChangeOut, DecisionIn, PlanOut, QueuedOut

router = Router(tags=["changes"])

MAX_ID = 2**63 - 1
SPEC_TYPES = {
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
    "text/x-yaml": "yaml",
    "application/json": "json",
}
SPEC_BODY = {
    "requestBody": {
        "required": True,
        "description": "A SPEC (docs/spec.md) as YAML or JSON, at most 10 MiB.",
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


def _changeset(changeset_id: int) -> Changeset:
    changeset = Changeset.objects.filter(pk=changeset_id).first()
    if changeset is None:
        raise NotFound(f"There is no changeset {changeset_id}.")
    return changeset


def change_out(changeset: Changeset) -> dict:
    data = changeset_as_dict(changeset)
    data.update(
        summary=changeset.summary,
        face=changeset.face,
        rejected_by=changeset.rejected_by or None,
        risky=any(s["risky"] and s["status"] == "planned" for s in data["steps"]),
        error=changeset.error,
        created_at=changeset.created_at,
        applied_at=changeset.applied_at,
    )
    return data


def _spec_text(request: HttpRequest) -> tuple[str, str]:
    """The request body as text and its format; 413, 415 or 400 naming what is wrong."""
    fmt = SPEC_TYPES.get(request.content_type or "")
    if fmt is None:
        raise ApiError(
            "Content-Type: send the SPEC as application/yaml or application/json.",
            [FieldError("Content-Type", "must be application/yaml or application/json")],
            status=415,
        )
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    # Read from the stream: request.body stops at DATA_UPLOAD_MAX_MEMORY_SIZE (5 MiB), below
    # the SPEC limit, and reading at most the limit and one byte is enough to tell.
    body = b"" if length > MAX_SPEC_BYTES else request.read(MAX_SPEC_BYTES + 1)
    if length > MAX_SPEC_BYTES or len(body) > MAX_SPEC_BYTES:
        raise ApiError(
            f"body: the SPEC is over the {MAX_SPEC_BYTES} byte limit.",
            [FieldError("body", f"must be at most {MAX_SPEC_BYTES} bytes")],
            status=413,
        )
    try:
        return body.decode("utf-8"), fmt
    except UnicodeDecodeError:
        raise BadInput.field("body", "is not UTF-8 text") from None


@router.post(
    "/plans",
    response={201: PlanOut, **COMMON, 413: Error, 415: Error, 502: Error},
    openapi_extra=SPEC_BODY,
    summary="Plan a SPEC",
)
def plans_create(request, prune: bool = False, refresh: bool = False):
    """Plan the SPEC in the body and record the plan as a changeset; the answer is what
    `manage.py plan SPEC --json` prints. Read calls only (none when the snapshot is fresh, unless
    `refresh`). `prune` plans the removal of what the SPEC's sections no longer list."""
    require(request, Role.OPERATOR)
    body, fmt = _spec_text(request)
    try:
        spec = validate_spec(spec_from_text(body, fmt=fmt, source="body"), source="API request")
        planned = spec_plan(
            spec,
            actor=actor_for_request(request),
            face="api",
            prune=prune,
            refresh=refresh,
        )
    except InvalidInput as exc:
        raise BadInput.of(exc) from None
    except PlanError as exc:
        raise UpstreamFailed(f"The apiserver could not be read: {exc}") from None
    return Status(201, plan_json(planned.changeset))


@router.get("/changes/{changeset_id}", response={200: ChangeOut, **COMMON}, summary="A changeset")
def change_read(request, changeset_id: int = Path(..., ge=1, le=MAX_ID)):
    """The changeset with its status, who asked for it and who approved it, and its steps."""
    require(request, Role.VIEWER)
    changeset = _changeset(changeset_id)
    return {**change_out(changeset), "background": background_out(changeset)}


def background_out(changeset: Changeset) -> dict | None:
    """The worker's run of the changeset as the page shows it; None when it was never queued."""
    progress = background_progress(changeset)
    if progress is None:
        return None
    run = progress.background
    return {
        "status": run.status,
        "attempts": run.attempts,
        "error": run.error,
        "checked": run.checked,
        "to_check": run.to_check,
        "steps_done": progress.done,
        "steps_total": progress.total,
    }


def _decide(request, changeset_id: int, payload: DecisionIn, decision: str):
    require(request, Role.ADMIN)
    changeset = _changeset(changeset_id)
    actor, role = actor_for_request(request), request_role(request)
    try:
        if decision == "approve":
            approvals.changeset_approve(
                changeset, actor=actor, role=role, content_hash=payload.hash
            )
        else:
            approvals.changeset_reject(
                changeset, actor=actor, role=role, content_hash=payload.hash, reason=payload.reason
            )
    except approvals.HashMismatch as exc:
        raise Conflict(exc.message, [FieldError("hash", exc.message)]) from None
    except approvals.ApprovalRefused as exc:
        raise ApiError(exc.message, status=exc.status) from None
    changeset.refresh_from_db()
    return change_out(changeset)


DECISION = {200: ChangeOut, **COMMON, 409: Error}


@router.post("/changes/{changeset_id}/approve", response=DECISION, summary="Approve")
def change_approve(request, payload: DecisionIn, changeset_id: int = Path(..., ge=1, le=MAX_ID)):
    """Approve a changeset that waits for approval (admins; not its requester). `hash` is the
    changeset's hash as you reviewed it: 409 when the changeset no longer has it."""
    return _decide(request, changeset_id, payload, "approve")


@router.post("/changes/{changeset_id}/reject", response=DECISION, summary="Reject")
def change_reject(request, payload: DecisionIn, changeset_id: int = Path(..., ge=1, le=MAX_ID)):
    """Reject a changeset that waits for approval (admins; not its requester), for good.
    `hash` as for approve; `reason`, optional, is kept as a note."""
    return _decide(request, changeset_id, payload, "reject")


class _Credentials(list):
    """Collects new key pairs as apply hands them out (worker threads call it)."""

    def __call__(self, outcome, secret) -> None:
        self.append(
            {
                "tenant": outcome.tenant_name,
                "email": secret.email,
                "access_key": secret.access_key,
                "secret_key": secret.secret_key,
            }
        )


def _may_apply(request, changeset: Changeset) -> None:
    """Operators apply changesets without risky steps; a risky one needs an admin, or an
    admin's approval first."""
    require(request, Role.OPERATOR)
    if changeset.status == Changeset.Status.APPROVED or has_role(request, Role.ADMIN):
        return
    if changeset.steps.filter(risky=True, status="planned").exists():
        raise Forbidden(
            f"Changeset {changeset.pk} has risky steps: this needs the admin role, or an "
            f"admin's approval first (POST /api/v1/changes/{changeset.pk}/approve)."
        )


def _queue(request, changeset: Changeset):
    """Queue the changeset for the background worker: 202, or 409 when it cannot go there."""
    if not runs_in_background(changeset):
        raise Conflict(
            f"Changeset {changeset.pk} creates new credentials, whose secret is shown once: "
            "apply it without background=true to receive them in the answer."
        )
    try:
        job = changeset_enqueue(changeset, actor=actor_for_request(request))
    except NotApplicableHere as exc:
        raise Conflict(str(exc)) from None
    return Status(
        202,
        {
            "changeset": change_out(changeset),
            "background_status": job.status,
            "progress_url": f"/changes/{changeset.pk}/",
        },
    )


@router.post(
    "/changes/{changeset_id}/apply",
    response={200: ApplyOut, 202: QueuedOut, **COMMON, 409: Error, 502: Error},
    summary="Apply a planned SPEC changeset",
)
@sensitive_variables()  # new credentials sit in the locals below
def change_apply(
    request,
    changeset_id: int = Path(..., ge=1, le=MAX_ID),
    concurrency: int = Query(DEFAULT_CONCURRENCY, ge=1, le=64),
    background: bool = False,
):
    """Apply a plan recorded by POST /plans (or `manage.py plan`), re-planned now: 409 when its
    hash is not the recorded (or approved) one. 200 once applied, also part-way (`failures`);
    new credentials are in this answer only (no-store). `background=true`: the worker applies
    it (202; follow GET /changes/<id>); 409 for a plan that creates credentials."""
    changeset = _changeset(changeset_id)
    _may_apply(request, changeset)
    if background:
        return _queue(request, changeset)
    credentials = _Credentials()
    try:
        done = spec_apply_recorded(
            changeset,
            actor=actor_for_request(request),
            face="api",
            concurrency=concurrency,
            on_credentials=credentials,
        )
    except (NotApplicable, PlanChanged, TenantBusy) as exc:  # TenantBusy: also ApprovalMissing
        raise Conflict(str(exc)) from None
    except InvalidInput as exc:
        raise Conflict(
            "The recorded SPEC cannot be applied now: " + "; ".join(str(e) for e in exc.errors),
            exc.errors,
        ) from None
    except PlanError as exc:
        raise UpstreamFailed(f"The apiserver could not be read: {exc}") from None
    failures = [o.failure_line() for o in done.applied.result.failures] if done.applied else []
    failures += done.server_errors
    return {
        "changeset": change_out(done.changeset),
        "credentials": list(credentials),
        "failures": failures,
        "stored": done.stored + (done.applied.result.stored if done.applied else []),
    }
