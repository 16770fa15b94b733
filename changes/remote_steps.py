"""Sending a changeset's apiserver calls one after another, each audited before and after.

For the fleet changes (credentials and admin vaults) whose calls act on one user or one tenant
and are not part of a tenant's provisioning run: revoke or relabel a key, create a replacement
key, set or delete a vault. Each step's call is stored on the step (`ChangeStep.call`, never a
secret: a vault's content is a marker there and travels in memory only). For each step:

1. a **pending** audit entry is written (its seq kept in the step's `ref`), then the call goes out;
2. the **outcome** entry links to it (`outcome_of`) and the step is marked done or failed.

Each attempt writes its own pending entry: a process killed between the two leaves a pending
entry without an outcome, which says the call may have been sent.

Applying a failed changeset again sends the steps not done yet (a step done is never sent again);
every entry carries the changeset id (`changes.engine.applying`).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import timezone

from console.apiserver import ApiClient, ApiError, CallRecord, client_from_settings
from console.audit import audit_record

from .engine import applying, changeset_finish
from .models import Changeset, ChangeStep

# A step's call body may carry this marker where a value travels in memory only (a secret).
IN_MEMORY = "(sent, not kept)"


@dataclass
class Sent:
    """What the steps' calls answered, by step position (never written anywhere as such)."""

    answers: dict[int, dict] = field(default_factory=dict)
    errors: dict[int, ApiError] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def send_steps(
    changeset: Changeset,
    *,
    actor: str,
    target_type: str,
    client: ApiClient | None = None,
    values: dict[int, dict] | None = None,
    answer_after: Callable[[ChangeStep, dict], dict] | None = None,
    client_for: Callable[[ChangeStep], ApiClient] | None = None,
    stop_on_failure: bool = True,
) -> Sent:
    """Send the changeset's steps that are not done, in order, stopping at the first failure.

    `values`: {position: {body key: value}} put into a call's body at send time (vault content).
    `answer_after(step, data)`: what the outcome entry records of an answer (default: nothing of
    it but success). `client_for(step)`: the client of each step, when steps act as different
    tenants' admins. `stop_on_failure=False`: independent steps (one per tenant) go on after a
    failure. Returns the answers by position; the changeset ends applied or failed."""
    sent = Sent()
    client = client or client_from_settings(sent.calls.append)
    if client.on_call is None:
        client.on_call = sent.calls.append
    with applying(changeset):
        for step in changeset.steps.exclude(status=ChangeStep.Status.DONE).order_by("position"):
            step_client = client_for(step) if client_for else client
            if step_client.on_call is None:
                step_client.on_call = sent.calls.append
            sent_ok = _send_one(step, sent, actor, target_type, step_client, values, answer_after)
            if not sent_ok and stop_on_failure:
                break
    error = "; ".join(str(e) for e in sent.errors.values())
    changeset_finish(changeset, ok=sent.ok, error=error)
    return sent


def _send_one(step, sent: Sent, actor, target_type, client, values, answer_after) -> bool:
    call = step.call or {}
    endpoint = str(call.get("endpoint") or "")
    body = {**(call.get("body") or {}), **((values or {}).get(step.position) or {})}
    if IN_MEMORY in json.dumps(body):
        return _fail(step, sent, actor, target_type, "its value is not kept; ask again")
    pending = audit_record(
        actor=actor,
        action=step.kind,
        target_type=target_type,
        target_id=step.target,
        target_repr=step.target,
        after=step.after,
        outcome="pending",
    )
    step.ref = {**(step.ref or {}), "pending_seq": pending.seq}
    ChangeStep.objects.filter(pk=step.pk).update(ref=step.ref)
    first = len(sent.calls)
    try:
        data = client.call(
            endpoint,
            body,
            impersonate_as=call.get("impersonate_as") or None,
            act_as=call.get("act_as") or None,
        )
    except ApiError as exc:
        sent.errors[step.position] = exc
        return _fail(step, sent, actor, target_type, str(exc), calls=sent.calls[first:], exc=exc)
    sent.answers[step.position] = data
    recorded = answer_after(step, data) if answer_after else {}
    audit_record(
        actor=actor,
        action=step.kind,
        target_type=target_type,
        target_id=step.target,
        target_repr=step.target,
        before=step.before,
        after={**(step.after or {}), **recorded} if recorded else step.after,
        calls=[c.as_dict() for c in sent.calls[first:]],
        outcome_of=pending.seq,
    )
    ChangeStep.objects.filter(pk=step.pk).update(
        status=ChangeStep.Status.DONE, error="", finished_at=timezone.now()
    )
    return True


def _fail(step, sent, actor, target_type, message, *, calls=(), exc=None) -> bool:
    if exc is None:
        sent.errors[step.position] = ApiError(endpoint=step.kind, result_msg=message)
    audit_record(
        actor=actor,
        action=step.kind,
        target_type=target_type,
        target_id=step.target,
        target_repr=step.target,
        after=step.after,
        calls=[c.as_dict() for c in calls],
        outcome="failure",
        error=message,
        outcome_of=(step.ref or {}).get("pending_seq"),
    )
    unknown = exc is not None and exc.outcome_unknown
    ChangeStep.objects.filter(pk=step.pk).update(
        status=ChangeStep.Status.UNKNOWN if unknown else ChangeStep.Status.FAILED,
        error=message[:10_000],
        finished_at=timezone.now(),
    )
    return False
