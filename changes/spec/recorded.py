"""A SPEC planned as a recorded changeset, and a recorded SPEC changeset applied later: the path
`manage.py plan` and the JSON API share (POST /api/v1/plans, POST /api/v1/changes/<id>/apply).

A plan records what was asked for in the changeset's `desired` (the SPEC document), so a later
apply re-plans from it. The console never stores a secret there: a literal secret in the SPEC
(`client_secret: s3cret` rather than `env:NAME`) is replaced by a marker and its field path
listed, and such a changeset cannot be applied later (apply it with `manage.py apply`, or write
the secret as `env:NAME`).

Applying a recorded changeset re-plans from its SPEC, against the server as it is now, the way
the plan was made (secrets not resolved), and refuses when the content hash differs from the one
recorded (and approved): the plan that was shown is the plan that runs. Resolving `env:` secrets
changes only tenants' `sso` sections: a SPEC with one is then planned again as `apply` plans it
(reading the server, resolving them); any other applies the plan just checked. Either goes
through `spec_apply`.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml
from django.conf import settings
from django.db.models import Q

from console.apiserver import client_from_settings
from console.audit.masking import is_builtin_secret_name
from console.spec import parse_spec_text
from console.validation import FieldError, InvalidInput
from tenants.provisioning.engine import DEFAULT_CONCURRENCY

from ..engine import approval_gate, changeset_finish
from ..models import Changeset
from .changeset import spec_change_plan, spec_changeset_record
from .plan import Plan, ReadProgress, build_plan
from .run import SpecApplied, spec_apply, spec_store_server
from .server_config import snippet_diff
from .server_reads import SnapshotReads, fresh_snapshot
from .validate import SpecModel, validate_spec

LITERAL_SECRET = "(a literal secret: not stored)"  # noqa: S105 - a marker, not a secret
APPLICABLE = (Changeset.Status.PLANNED, Changeset.Status.APPROVED)


class NotApplicable(Exception):
    """The changeset cannot be applied (its kind, its state, or a secret it did not keep)."""


class PlanChanged(Exception):
    """Re-planned now, the changeset's plan is not the one recorded (or approved)."""

    def __init__(self, changeset: Changeset, expected: str, now: str):
        self.expected, self.now = expected, now
        super().__init__(
            f"Changeset {changeset.pk}'s plan has changed since it was made (hash {expected[:12]}… "
            f"then, {now[:12]}… now): the server or the console changed in between. Plan the SPEC "
            "again and apply the new changeset."
        )


_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def client_factory(on_call):
    return client_from_settings(on_call)


# --- reading a SPEC that is not a file -------------------------------------------------------


def _unique_keys(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key '{key}' appears twice")
        out[key] = value
    return out


def spec_from_text(text: str, *, fmt: str = "yaml", source: str = "SPEC") -> dict:
    """A SPEC document from text: YAML (the file format), or JSON. JSON is parsed as JSON (no
    YAML rules on numbers or escapes), then given the same checks as a YAML SPEC (budget,
    top-level keys, version). InvalidInput names the problem."""
    if fmt != "json":
        return parse_spec_text(text, source=source)
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise InvalidInput(FieldError("", f"{source}: nested too deeply")) from None
    except ValueError as exc:
        raise InvalidInput(FieldError("", f"{source}: not valid JSON: {exc}")) from None
    if not isinstance(data, dict):
        raise InvalidInput(
            FieldError("", f"{source}: the top level must be an object (version, tenants, …)")
        )
    # The YAML dump of parsed JSON is exact (libyaml escapes what YAML cannot hold as is).
    return parse_spec_text(yaml.dump(data, Dumper=_SafeDumper, allow_unicode=True), source=source)


# --- planning ---------------------------------------------------------------------------------


def spec_build_plan(
    spec: SpecModel,
    *,
    concurrency: int,
    resolve_secrets: bool,
    prune: bool = False,
    reads: SnapshotReads | None = None,
    on_read: ReadProgress | None = None,
) -> Plan:
    """The SPEC's plan and its snippet changes. `reads`: the snapshot to plan from (plan); None
    reads the server (apply), telling `on_read` how far. Raises InvalidInput and PlanError."""
    plan = build_plan(
        spec,
        client_factory=client_factory,
        api_url=settings.CLEARML_API_URL,
        concurrency=concurrency,
        resolve_secrets=resolve_secrets,
        prune=prune,
        reads=reads,
        on_read=on_read,
    )
    plan.snippets = snippet_diff(spec, prune=prune)
    return plan


def literal_secrets(value, path: str = "") -> list[str]:
    """Field paths of secrets written as literals (not `env:NAME`) in a SPEC document."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(item, str) and item and is_builtin_secret_name(key):
                if not item.startswith("env:"):
                    found.append(where)
            else:
                found += literal_secrets(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += literal_secrets(item, f"{path}[{index}]")
    return found


def _without(value, paths: set[str], path: str = ""):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            out[key] = LITERAL_SECRET if where in paths else _without(item, paths, where)
        return out
    if isinstance(value, list):
        return [_without(item, paths, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def desired_of(raw: dict) -> dict:
    """What a changeset keeps of its SPEC: the document, literal secrets replaced by a marker."""
    secrets = literal_secrets(raw)
    return {"spec": _without(raw, set(secrets)), "literal_secrets": secrets}


@dataclass
class SpecPlanned:
    changeset: Changeset
    plan: Plan


def spec_plan(
    spec: SpecModel,
    *,
    actor: str,
    face: str,
    prune: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    refresh: bool = False,
) -> SpecPlanned:
    """Plan the SPEC (from the fresh snapshot unless `refresh`, else reading the server; secrets
    not resolved) and record it as a planned changeset. Raises InvalidInput and PlanError."""
    reads = None if refresh else fresh_snapshot()
    plan = spec_build_plan(
        spec, concurrency=concurrency, resolve_secrets=False, prune=prune, reads=reads
    )
    changeset = spec_changeset_record(
        plan, actor=actor, face=face, prune=prune, desired=desired_of(spec.raw)
    )
    return SpecPlanned(changeset=changeset, plan=plan)


def plan_json(changeset: Changeset) -> dict:
    """The changeset as `plan --json` prints it: {"id", "hash", "steps": [{"kind", "target",
    "call", "risky", "before", "after"}]}."""
    return {
        "id": changeset.pk,
        "hash": changeset.content_hash,
        "steps": [
            {
                "kind": s.kind,
                "target": s.target,
                "call": s.call,
                "risky": s.risky,
                "before": s.before,
                "after": s.after,
            }
            for s in changeset.steps.all()
        ],
    }


# --- applying a recorded changeset ------------------------------------------------------------


def _check_recorded(changeset: Changeset) -> None:
    """Refuse a changeset that is not a SPEC plan, or did not keep its SPEC."""
    if changeset.kind != "spec":
        raise NotApplicable(
            f"Changeset {changeset.pk} is a {changeset.kind} change, not a SPEC plan; apply it "
            f"on its page, /changes/{changeset.pk}/."
        )
    desired = changeset.desired if isinstance(changeset.desired, dict) else {}
    if "spec" not in desired:
        raise NotApplicable(f"Changeset {changeset.pk} did not keep its SPEC; plan it again.")
    if desired.get("literal_secrets"):
        raise NotApplicable(
            f"Changeset {changeset.pk}'s SPEC has literal secrets, which the console does not "
            f"store ({', '.join(desired['literal_secrets'])}): write them as env:NAME and plan "
            "again, or apply the SPEC with `manage.py apply`."
        )


def _claim(changeset: Changeset) -> str:
    """Mark the changeset applying if it may be applied, so two applies cannot both run it.
    Returns the status it had."""
    previous = changeset.status
    claimed = Changeset.objects.filter(
        Q(pk=changeset.pk) & Q(status__in=APPLICABLE) & Q(status=previous)
    ).update(status=Changeset.Status.APPLYING)
    if not claimed:
        changeset.refresh_from_db(fields=["status"])
        raise NotApplicable(
            f"Changeset {changeset.pk} is {changeset.get_status_display().lower()}; only a "
            "planned or approved changeset can be applied (plan the SPEC again to apply it anew)."
        )
    return previous


def _release(changeset: Changeset, status: str) -> None:
    Changeset.objects.filter(pk=changeset.pk).update(status=status)
    changeset.status = status


@dataclass
class RecordedApplied:
    changeset: Changeset
    applied: SpecApplied | None  # None: there was nothing to send or store
    stored: list[str]
    server_errors: list[str] = field(default_factory=list)  # the server sections refused


def spec_apply_recorded(
    changeset: Changeset,
    *,
    actor: str,
    face: str,
    concurrency: int,
    on_credentials: Callable | None = None,
    on_read: ReadProgress | None = None,
) -> RecordedApplied:
    """Apply a recorded SPEC changeset (see the module docstring). Raises ApprovalMissing (it
    waits for approval, was rejected, or changed after it: engine.approval_gate), NotApplicable,
    PlanChanged, InvalidInput (the SPEC is no longer valid, or an env: secret is unset) and
    PlanError (a read call failed); the changeset keeps its status then. `on_read(read, total)`
    follows the check of the plan against the server (spec.plan.build_plan)."""
    _check_recorded(changeset)
    approval_gate(changeset, actor=actor)
    previous = _claim(changeset)
    try:
        expected = changeset.approved_hash or changeset.content_hash
        spec = validate_spec(changeset.desired["spec"], source=changeset.source or "SPEC")
        check = spec_build_plan(
            spec,
            concurrency=concurrency,
            resolve_secrets=False,
            prune=changeset.prune,
            on_read=on_read,
        )
        now = spec_change_plan(check, prune=changeset.prune).content_hash()
        if now != expected or changeset.content_hash != expected:
            raise PlanChanged(changeset, expected, now)
        if any(item.sso is not None for item in spec.tenants):
            plan = spec_build_plan(
                spec,
                concurrency=concurrency,
                resolve_secrets=True,
                prune=changeset.prune,
                on_read=on_read,
            )
        else:
            # Resolving secrets changes only tenants' `sso` sections: without any, the plan just
            # checked is the plan to apply (no second round of read calls).
            plan = check
    except BaseException:
        _release(changeset, previous)
        raise
    if not _has_work(plan):
        changeset_finish(changeset, ok=True)
        return RecordedApplied(changeset=changeset, applied=None, stored=[])
    stored: list[str] = []
    server_errors: list[str] = []

    def store_server(target: Changeset) -> None:
        # A refusal here comes after the tenants' calls (and their new credentials): it fails
        # the changeset (its steps are marked) and is reported, not raised.
        try:
            stored.extend(
                spec_store_server(spec, actor=actor, prune=changeset.prune, changeset=target)
            )
        except InvalidInput as exc:
            server_errors.extend(str(e) for e in exc.errors)

    applied = spec_apply(
        plan,
        actor=actor,
        face=face,
        client_factory=client_factory,
        concurrency=concurrency,
        prune=changeset.prune,
        on_credentials=on_credentials,
        store_server=store_server,
        changeset=changeset,
    )
    changeset.refresh_from_db()
    return RecordedApplied(
        changeset=changeset, applied=applied, stored=stored, server_errors=server_errors
    )


def _has_work(plan: Plan) -> bool:
    snippets = plan.snippets is not None and not plan.snippets.empty
    pending = [t for t in plan.tenants if t.steps or t.console_changes or t.console is None]
    removals = [r for r in getattr(plan, "removals", []) or [] if r.applied]
    return bool(pending or snippets or removals)
