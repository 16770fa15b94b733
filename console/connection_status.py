"""What the dashboard says about the apiserver connection."""

from dataclasses import dataclass

from django.conf import settings

from .apiserver import ApiError, client_from_settings


@dataclass
class ConnectionStatus:
    url: str
    configured: bool
    answers: bool = False
    version: str = ""
    is_sandbox: bool = False
    problem: str = ""
    hint: str = ""


def connection_status() -> ConnectionStatus:
    url = settings.CLEARML_API_URL
    if not url:
        return ConnectionStatus(
            url="",
            configured=False,
            problem="CLEARML_API_URL is not set.",
            hint="Set CLEARML_API_URL, CLEARML_API_KEY and CLEARML_API_SECRET (or run make run, "
            "which starts the sandbox apiserver and points the console at it).",
        )
    client = client_from_settings()
    client.retries = 0
    status = ConnectionStatus(url=url, configured=True)
    try:
        info = client.call("server.info", {})
    except ApiError as exc:
        status.problem = str(exc)
        status.hint = _hint_for(exc)
        return status
    status.answers = True
    status.version = str(info.get("version") or info.get("server_version") or "unknown")
    status.is_sandbox = bool(info.get("sandbox"))
    try:
        client.call("system.get_companies", {"only_fields": ["id"]}, read=False)
    except ApiError as exc:
        status.problem = str(exc)
        status.hint = _hint_for(exc)
    return status


def _hint_for(exc: ApiError) -> str:
    hints = {
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
    return hints.get(exc.kind, "")
