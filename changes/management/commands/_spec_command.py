"""What `plan` and `apply` share: reading and checking a SPEC, planning, exit codes."""

from django.core.management.base import CommandError

from changes.spec.plan import Plan, PlanError
from changes.spec.recorded import spec_build_plan
from changes.spec.server_reads import SnapshotReads
from changes.spec.validate import SpecModel, validate_spec
from console.spec import load_spec, spec_error_lines
from console.validation import InvalidInput


def bad_input(exc: InvalidInput, source: str) -> CommandError:
    return CommandError("\n".join(spec_error_lines(exc, source)), returncode=2)


def read_spec(path: str) -> SpecModel:
    """Load and check the whole SPEC; exit 2 naming the file and each field path."""
    try:
        raw = load_spec(path)
        return validate_spec(raw, source=path)
    except InvalidInput as exc:
        raise bad_input(exc, path) from None


def make_plan(
    spec: SpecModel,
    *,
    concurrency: int,
    resolve_secrets: bool,
    prune: bool = False,
    reads: SnapshotReads | None = None,
) -> Plan:
    """`reads`: the fresh snapshot to plan from (plan); None reads the server (apply)."""
    try:
        plan = spec_build_plan(
            spec,
            concurrency=concurrency,
            resolve_secrets=resolve_secrets,
            prune=prune,
            reads=reads,
        )
    except InvalidInput as exc:
        raise bad_input(exc, spec.source) from None
    except PlanError as exc:
        raise CommandError(f"plan: {exc}", returncode=1) from None
    return plan


def snippet_lines(plan: Plan) -> list[str]:
    diff = plan.snippets
    if diff is None:
        return ["No snippet change."]
    if diff.empty:  # variables kept without --prune are no change, but are shown
        return ["No snippet change.", *diff.kept_lines()]
    return [
        "Snippet changes (server configuration; apply keeps them in the console, then run "
        f"`manage.py snippets {plan.spec.source} --format helm` and redeploy the apiserver):",
        *diff.lines(),
    ]


def warning_lines(spec: SpecModel) -> list[str]:
    return [f"warning: {spec.source}: {w}" for w in spec.warnings]
