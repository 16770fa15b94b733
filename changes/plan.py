"""What a plan is made of, before it is stored: ordered steps with their before/after and call.

Faces build a `ChangePlan` (through the functions in this package), the engine stores it as a
`Changeset` and applies it. Steps never hold a secret: a call body carries a marker where a
secret goes (the value travels in memory to the apply that sends it), and before/after values
are masked by the same rules as the audit log.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from console.audit.masking import mask_change
from tenants.provisioning.calls import StepSpec, shown

# Step kinds that can lock people out or remove what others rely on: they are flagged in the
# plan (and, with approvals on, wait for a second admin).
RISKY_KINDS = frozenset(
    {
        "routing.remove",
        "routing.domains.set",
        "routing.whitelist.remove",
        "tenant.delete",
        "tenant.discard",
        "group.delete",
        "idp.delete",
        "idp.update",
        "tenant_sso.delete",
        "multi_tenant_login.update",
        "credentials.revoke",
        "audit_sink.delete",  # stops streaming the audit log to a SIEM: a way to hide tracks
        "vault.delete",  # an admin vault others' tasks rely on (changes/vaults.py)
        # local_change names a step after its audit action: these are the two above's steps
        "sso.tenant_config.delete",  # tenant_sso.delete: the console stops managing its SSO
        "sso.multi_tenant_login.update",  # multi_tenant_login.update: can turn SSO sign-in off
    }
)
# With CONSOLE_APPROVALS on, a changeset of more steps than this waits for a second admin.
BULK_STEPS = 50


def approvals_on() -> bool:
    """CONSOLE_APPROVALS: risky and bulk changesets wait for a second admin's approval."""
    return bool(getattr(settings, "CONSOLE_APPROVALS", False))


def approval_reason(kind: str, steps: Iterable) -> str:
    """Why a changeset of `kind` with these steps (PlannedStep or ChangeStep rows) needs a second
    admin's approval, or "" when it does not: a risky kind, risky steps, or more than BULK_STEPS
    steps. Only steps still to be made count (a removal kept back without prune does not)."""
    todo = [s for s in steps if s.status == "planned"]
    reasons = []
    if kind in RISKY_KINDS:
        reasons.append(f"{kind} is a risky change")
    risky = sorted({s.kind for s in todo if s.risky} - {kind})
    if risky:
        reasons.append("risky steps: " + ", ".join(risky))
    if len(todo) > BULK_STEPS:
        reasons.append(f"{len(todo)} steps (more than {BULK_STEPS})")
    return "; ".join(reasons)


@dataclass
class PlannedStep:
    kind: str
    target: str
    before: Any = None
    after: Any = None
    call: dict | None = None
    risky: bool | None = None
    ref: dict = field(default_factory=dict)
    status: str = "planned"
    secret_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.risky is None:
            self.risky = self.kind in RISKY_KINDS
        if self.before is not None or self.after is not None:
            masked = mask_change(self.before, self.after, self.secret_fields)
            self.before, self.after = masked.before, masked.after

    def as_dict(self) -> dict:
        """The step as `plan --json` and the API print it."""
        return {
            "kind": self.kind,
            "target": self.target,
            "call": self.call,
            "risky": bool(self.risky),
            "before": self.before,
            "after": self.after,
        }


@dataclass
class ChangePlan:
    kind: str
    summary: str
    steps: list[PlannedStep] = field(default_factory=list)
    source: str = ""
    prune: bool = False
    notes: list[str] = field(default_factory=list)
    desired: Any = None

    @property
    def empty(self) -> bool:
        return not any(s.status == "planned" for s in self.steps)

    @property
    def risky(self) -> bool:
        return any(s.risky and s.status == "planned" for s in self.steps)

    def content_hash(self) -> str:
        return content_hash([s.as_dict() for s in self.steps], prune=self.prune)


def content_hash(steps: list[dict], *, prune: bool) -> str:
    """SHA-256 over the steps as printed (kind, target, call, risky, before, after) and prune."""
    doc = {"prune": bool(prune), "steps": steps}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def call_of(spec: StepSpec) -> dict:
    """A provisioning step's call as a plan shows it: ids not known yet written as the docs do."""
    call: dict = {"endpoint": spec.endpoint, "body": shown(spec.body)}
    if spec.act_as:
        call["act_as"] = shown(spec.act_as)
    if spec.impersonate_as:
        call["impersonate_as"] = shown(spec.impersonate_as)
    return call


def step_of(spec: StepSpec, *, target: str, position: int | None = None) -> PlannedStep:
    """A PlannedStep for one apiserver call of a tenant's provisioning run."""
    kind = spec.kind if spec.kind != "call" else spec.endpoint
    ref = {"position": position} if position is not None else {}
    return PlannedStep(
        kind=kind,
        target=target,
        after={"description": spec.description} if spec.description else None,
        call=call_of(spec),
        ref=ref,
    )
