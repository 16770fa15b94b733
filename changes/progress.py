"""A changeset's progress while the worker applies it: what the changeset page polls.

Read from the journal (the provisioning steps), which a run writes as it goes, so the page
shows each step as it is sent and answered (a step's answer commits with the next step's
"sent" mark), and survives a reload. Three queries whatever the number of steps.
"""

from dataclasses import dataclass, field

from console.prepared import Prepared
from tenants.models import ProvisioningStep

from .models import BackgroundApply, Changeset, ChangeStep

# The journal's status as the progress shows it (a step sent and not answered yet is running).
SHOWN = {
    ProvisioningStep.Status.PENDING: ("planned", "Not sent yet"),
    ProvisioningStep.Status.SENT: ("running", "Sending"),
    ProvisioningStep.Status.DONE: ("done", "Done"),
    ProvisioningStep.Status.FAILED: ("failed", "Failed"),
    ProvisioningStep.Status.UNKNOWN: ("unknown", "Answer lost"),
    ProvisioningStep.Status.SUPERSEDED: ("skipped", "Replaced"),
}
FINISHED = {"done", "kept", "skipped"}


@dataclass
class StepProgress:
    position: int
    kind: str
    target: str
    status: str
    label: str


@dataclass
class Progress:
    background: BackgroundApply | None
    steps: list[StepProgress] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def done(self) -> int:
        return sum(1 for s in self.steps if s.status in FINISHED)

    @property
    def live(self) -> bool:
        """Still queued or running: the page keeps polling."""
        return self.background is not None and self.background.status in (
            BackgroundApply.Status.QUEUED,
            BackgroundApply.Status.RUNNING,
        )

    @property
    def check_shown(self) -> bool:
        """The run checks (or has checked) the plan against the server before its first call:
        shown while it runs, as that can take a second or more for hundreds of tenants."""
        return self.live and self.background.to_check > 0

    @property
    def checking(self) -> bool:
        return self.check_shown and self.background.checked < self.background.to_check

    @property
    def failed(self) -> bool:
        return (
            self.background is not None and self.background.status == BackgroundApply.Status.FAILED
        )


def background_progress(changeset: Changeset) -> Progress | None:
    """The progress of the changeset's background apply; None (one query) when it was never
    queued, as for every change applied in its request."""
    found = _BACKGROUND.fetch(changeset=changeset.pk)
    return changeset_progress(changeset, background=found[0]) if found else None


_BACKGROUND = Prepared(
    lambda changeset: BackgroundApply.objects.filter(changeset=changeset).order_by("pk")[:1]
)


def changeset_progress(changeset: Changeset, *, background=None) -> Progress:
    if background is None:
        background = BackgroundApply.objects.filter(changeset=changeset).first()
    journal = {
        (tenant, run, position): status
        for tenant, run, position, status in ProvisioningStep.objects.filter(
            changeset=changeset.audit_key
        ).values_list("tenant_id", "run", "position", "status")
    }
    labels = dict(ChangeStep.Status.choices)
    steps = []
    for position, kind, target, status, ref in changeset.steps.order_by("position").values_list(
        "position", "kind", "target", "status", "ref"
    ):
        ref = ref or {}
        row = journal.get((ref.get("tenant"), ref.get("run"), ref.get("position")))
        shown, label = SHOWN.get(row, (status, labels.get(status, status)))
        steps.append(StepProgress(position, kind, target, shown, label))
    return Progress(background=background, steps=steps)
