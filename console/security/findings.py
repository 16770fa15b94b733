"""What `security_audit` reports: findings, the settings found in files, and bad-input errors."""

from dataclasses import dataclass, field

SEVERITIES = ("high", "medium", "low", "info")


class AuditInputError(Exception):
    """A file the audit cannot read (missing, binary, too large, not YAML/env). Exit code 2.

    The message names the file and, for syntax errors, the line and column; it never quotes the
    file's text, which may hold a secret.
    """

    def __init__(self, file: str, message: str):
        self.file = file
        self.message = message
        super().__init__(f"{file}: {message}")


@dataclass
class Occurrence:
    """One place a file sets a setting the audit cares about."""

    file: str
    location: str  # e.g. apiserver.extraEnvs[3].value, services.apiserver.environment.X, line 12
    line: int | None
    path: str  # config path (secure.auth.token_secret) or "" for a chart-only value
    name: str  # as written: the variable name, `clearml.apiserverKey`, a Secret key
    via: str  # env | compose | helm-env | helm-chart | k8s-secret | hocon
    value: str | None = field(default=None, repr=False)  # what the server reads; None if unknown
    candidates: tuple[str, ...] = field(default=(), repr=False)  # other readings of the text
    reference: str = ""  # where the value comes from when it is not written here
    service: str = ""  # apiserver, fileserver, webserver, ... when the file says
    note: str = ""  # e.g. "the server reads only the text before '#'"
    kind: str | None = None  # key | secret for secrets; None for switches

    @property
    def inline(self) -> bool:
        return self.value is not None and not self.reference


@dataclass
class Finding:
    file: str
    location: str
    severity: str
    setting: str
    message: str
    fix: str
    fingerprint: str = ""
    line: int | None = None

    @property
    def place(self) -> str:
        """The location, with the line when the location does not already say it."""
        if self.line and not self.location.endswith(f"line {self.line}"):
            return f"{self.location} (line {self.line})"
        return self.location

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "location": self.location,
            "line": self.line,
            "severity": self.severity,
            "setting": self.setting,
            "message": self.message,
            "fix": self.fix,
            "fingerprint": self.fingerprint,
        }


@dataclass
class FileSummary:
    name: str
    kind: str  # "Helm values", "compose", "env", "Kubernetes Secret", "HOCON (secure.conf)" ...
    settings: int = 0


@dataclass
class AuditReport:
    files: list[FileSummary]
    findings: list[Finding]
    partial: bool = False

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITIES, 0)
        for f in self.findings:
            counts[f.severity] += 1
        return counts

    @property
    def has_high(self) -> bool:
        return any(f.severity == "high" for f in self.findings)

    def sorted_findings(self) -> list[Finding]:
        order = {s: i for i, s in enumerate(SEVERITIES)}
        return sorted(
            self.findings, key=lambda f: (order[f.severity], f.file, f.line or 0, f.location)
        )

    def as_dict(self) -> dict:
        return {
            "files": [{"name": f.name, "kind": f.kind, "settings": f.settings} for f in self.files],
            "counts": self.counts(),
            "partial": self.partial,
            "findings": [f.as_dict() for f in self.sorted_findings()],
        }
