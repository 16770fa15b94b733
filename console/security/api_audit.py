"""ClearML's own API audit: the apiserver can log every API call it serves (endpoint, caller,
company, address, duration, result) as JSON on its standard output — the `raw_log` adapter the
ClearML docs recommend ("Setting up API Auditing"). These are the settings that turn it on, in
every snippet format, written by the snippet exporter (so each format's escaping is its own).

The console's audit log records what the console changed; this one records every call anyone
made to the apiserver (the web UI, SDKs, agents). Ship both to the SIEM.
"""

from console.snippets.render import EnvSetting, render

# The docs' recommended adapter: JSON lines on stdout, collected by the cluster's logging.
API_AUDIT_SETTINGS = (
    ("apiserver.log_calls", True),
    ("apiserver.apilog.adapter", "raw_log"),
)
# Optional: keep the calls but drop user and company names from each line.
REDACT_IDENTITY = ("apiserver.apilog.redact_identity", True)
FORMATS = (
    ("helm", "Helm values", "clearml-api-audit.values.yaml"),
    ("compose", "docker-compose", "clearml-api-audit.compose.yml"),
    ("env", "env file", "clearml-api-audit.env"),
    ("shell", "shell", "clearml-api-audit.sh"),
)


def api_audit_settings(*, redact_identity: bool = False) -> list[EnvSetting]:
    wanted = [*API_AUDIT_SETTINGS, *([REDACT_IDENTITY] if redact_identity else [])]
    return [EnvSetting.for_path(path, value) for path, value in wanted]


def api_audit_snippets(*, redact_identity: bool = False) -> list[dict]:
    """The snippet in each format: id, label, filename, text."""
    settings = api_audit_settings(redact_identity=redact_identity)
    return [
        {
            "id": f"api-audit-{fmt}",
            "label": label,
            "filename": filename,
            "text": render(settings, fmt),
        }
        for fmt, label, filename in FORMATS
    ]
