"""What the dashboard says about the apiserver: how its last refresh went (no call is made here).

The dashboard reads the snapshot's record of the latest refresh (console.snapshot): green when
the last refresh read everything, amber when it failed but an earlier one succeeded, red when
no refresh ever succeeded, grey when none ran yet. Never green for a server the last refresh
could not read.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from .snapshot import queries

# state -> (card class, badge class, badge text)
STATES = {
    "ok": ("ok", "badge-ok", "reached"),
    "stale": ("warn", "badge-warn", "last refresh failed"),
    "bad": ("bad", "badge-bad", "never reached"),
    "never": ("never", "badge-never", "never refreshed"),
    "unconfigured": ("bad", "badge-bad", "not configured"),
}

HINTS = {
    "unauthorized": "The apiserver refused CLEARML_API_KEY / CLEARML_API_SECRET. Check them.",
    "forbidden": "These credentials are not a system/root administrator's; tenant "
    "management needs one.",
    "cannot connect": "Nothing answers at CLEARML_API_URL. Is the apiserver running and the "
    "URL right?",
    "timeout": "The apiserver did not answer in time (CLEARML_API_TIMEOUT).",
    "malformed response": "Something answered, but not a ClearML apiserver. Check the URL "
    "(it should be the API address, not the web app).",
    "not configured": "Set CLEARML_API_URL.",
}


@dataclass
class ConnectionStatus:
    url: str
    configured: bool
    state: str = "never"  # ok | stale | bad | never | unconfigured
    last_success_at: datetime | None = None
    last_finished_at: datetime | None = None
    refreshing_since: datetime | None = None
    calls: int = 0
    duration_ms: int = 0
    version: str = ""
    is_sandbox: bool = False
    info_at: datetime | None = None
    problem: str = ""
    hint: str = ""

    @property
    def answers(self) -> bool:
        """The last refresh read the server (what the dashboard may show in green)."""
        return self.state == "ok"

    @property
    def card_class(self) -> str:
        return STATES[self.state][0]

    @property
    def badge_class(self) -> str:
        return STATES[self.state][1]

    @property
    def label(self) -> str:
        return STATES[self.state][2]


def connection_status() -> ConnectionStatus:
    url = settings.CLEARML_API_URL
    if not url:
        return ConnectionStatus(
            url="",
            configured=False,
            state="unconfigured",
            problem="CLEARML_API_URL is not set.",
            hint="Set CLEARML_API_URL, CLEARML_API_KEY and CLEARML_API_SECRET (or run make run, "
            "which starts the sandbox apiserver and points the console at it).",
        )
    status = ConnectionStatus(url=url, configured=True)
    read = queries.last_read()
    info = queries.server_info()
    if info is not None and info.data is not None:
        status.version = str(info.data.get("version") or info.data.get("server_version") or "")
        status.is_sandbox = bool(info.data.get("sandbox"))
        status.info_at = info.fetched_at
    if read is None or read.finished_at is None:
        status.state = "never"
        status.hint = "Press Refresh (or run manage.py refresh_server_state) to read the server."
        if read is not None and read.started_at is not None:
            status.refreshing_since = read.started_at
        return status
    status.last_success_at = read.last_success_at
    status.last_finished_at = read.finished_at
    status.calls, status.duration_ms = read.calls, read.duration_ms
    if read.started_at and read.started_at > read.finished_at:
        status.refreshing_since = read.started_at
    if read.ok:
        status.state = "ok"
        return status
    status.state = "stale" if read.last_success_at else "bad"
    status.problem = read.error or "The last refresh failed."
    status.hint = hint_for(status.problem)
    return status


def hint_for(error: str) -> str:
    """The advice for an apiserver error's text (`<endpoint>: <kind>[, HTTP n]: <message>`)."""
    head = error.split(";", 1)[0]
    for kind, hint in HINTS.items():
        if f": {kind}" in head:
            return hint
    return ""
