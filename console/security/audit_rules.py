"""The audit's rules: what is wrong with the secret settings found in a set of files.

Severities (issue 8, seeds 000/001):
- high: a value equal to a publicly known default (server secure.conf, Helm chart values, the docs'
  examples); a setting left out so that such a default applies; file server token authentication
  disabled; the free-access web login with the public webserver credentials and no web login.
- medium: keys shorter than 30 or secrets shorter than 50 characters; placeholders; a setting
  written twice with different values; a value the server reads differently than written.
- low: a secret written inline in Helm values where a Kubernetes Secret reference would do;
  web login not configured (ClearML docs, “Securing ClearML Server”) when the free-access
  login is already closed.
- info: what the audit could not check (values in Secrets or variables it was not given).
No message ever contains a value: findings carry the first 8 characters of its SHA-256.
"""

from collections import defaultdict

from . import catalog
from .audit_files import ParsedFile
from .catalog import KEY_LENGTH, MIN_SECRET_LENGTH, SERVER_SECRETS
from .findings import Finding, Occurrence
from .values import is_false, readings

ALL_FILES = "(all files)"
NOT_SET = "(not set)"
FIX_GENERATE = (
    "Replace it with a fresh value from `manage.py server_secrets` (or the Security page)"
)


class _Run:
    def __init__(self, parsed: list[ParsedFile], partial: bool):
        self.parsed = parsed
        self.partial = partial
        self.findings: list[Finding] = []
        self.secrets = {
            (doc.name, key): (value, doc.file, location, line)
            for p in parsed
            for doc in p.secrets
            for key, (value, location, line) in doc.entries.items()
        }
        self.secret_names = {doc.name for p in parsed for doc in p.secrets}
        self.used_secret_entries: set[tuple[str, str]] = set()
        self.variables = {k: v for p in parsed for k, v in p.variables.items()}
        self.helm = any(p.helm for p in parsed)
        self.compose = any(p.compose for p in parsed)
        self.web_login = [w for p in parsed for w in p.web_login]

    def add(self, occ_or_file, severity, setting, message, fix, value=None, location=None):
        if isinstance(occ_or_file, Occurrence):
            file, loc, line = occ_or_file.file, occ_or_file.location, occ_or_file.line
        else:
            file, loc, line = occ_or_file, location or NOT_SET, None
        self.findings.append(
            Finding(
                file=file,
                location=location or loc,
                line=line,
                severity=severity,
                setting=setting,
                message=message,
                fix=fix,
                fingerprint=catalog.fingerprint(value) if value else "",
            )
        )


def findings_for(parsed: list[ParsedFile], *, partial: bool = False) -> list[Finding]:
    run = _Run(parsed, partial)
    occurrences = [o for p in parsed for o in p.occurrences]
    for occ in occurrences:
        _resolve(run, occ)
    occurrences += _existing_secret_occurrences(run)
    for occ in occurrences:
        _check_value(run, occ)
        _check_switch(run, occ)
    _check_conflicts(run, occurrences)
    _check_loose_secrets(run)
    _check_unread(run)
    if not partial:
        _check_missing(run, occurrences)
    _check_web_login(run, occurrences)
    return run.findings


# --- resolving references ------------------------------------------------------------------------


def _resolve(run: _Run, occ: Occurrence) -> None:
    """Follow a secretKeyRef to a Secret in the files, or `${VAR}` to an env file given too."""
    if occ.reference.startswith("secretKeyRef "):
        name, _, key = occ.reference.removeprefix("secretKeyRef ").partition("/")
        found = run.secrets.get((name, key))
        if found:
            value, file, location, line = found
            run.used_secret_entries.add((name, key))
            occ.value, occ.candidates = value, (value,)
            occ.note = f"read from Secret {name}/{key} ({file}, {location})"
        return
    if occ.reference.startswith("${"):
        var = occ.reference[2:-1]
        if var in run.variables:
            occ.value, occ.candidates, note = readings(run.variables[var])
            occ.note = note or f"from {var} in the env file"


def _existing_secret_occurrences(run: _Run) -> list[Occurrence]:
    """Occurrences for the chart keys in `clearml.existingSecret`, when its manifest is given."""
    out = []
    for p in run.parsed:
        if not p.existing_secret:
            continue
        name, line = p.existing_secret
        if name not in run.secret_names:
            run.add(
                p.name,
                "info",
                "clearml.existingSecret",
                f"The chart reads its keys and secrets from the Secret `{name}`, which is not "
                "among the audited files, so its values were not checked.",
                f"Audit the Secret's manifest too (e.g. `kubectl get secret {name} -o yaml`).",
                location="clearml.existingSecret",
            )
            continue
        for key, setting in catalog.CHART_SECRET_KEYS.items():
            found = run.secrets.get((name, key))
            if not found:
                run.add(
                    p.name,
                    "high",
                    setting.path,
                    f"The Secret `{name}` named by clearml.existingSecret has no `{key}`: the "
                    "chart's deployment cannot start, or falls back to a default.",
                    f"Add `{key}` to the Secret (`manage.py server_secrets --format helm "
                    "--secrets secret-ref` writes the whole Secret).",
                    location="clearml.existingSecret",
                )
                continue
            value, file, location, sline = found
            run.used_secret_entries.add((name, key))
            out.append(
                Occurrence(
                    file=file,
                    location=location,
                    line=sline,
                    path=setting.path,
                    name=f"{name}/{key}",
                    via="k8s-secret",
                    value=value,
                    candidates=(value,),
                    kind=setting.kind,
                    note=f"clearml.existingSecret key `{key}`",
                )
            )
    return out


# --- values --------------------------------------------------------------------------------------


def _what(occ: Occurrence) -> str:
    label = catalog.setting_label(occ.path) if occ.path else "readiness probe basic auth"
    if occ.name and occ.name != occ.path:
        return f"`{occ.name}` ({label})"
    return f"`{occ.path}`"


def _check_value(run: _Run, occ: Occurrence) -> None:
    if occ.kind is None:
        return
    what = _what(occ)
    if occ.value is None and not occ.candidates:
        if occ.reference and not occ.reference.startswith("secretKeyRef "):
            run.add(
                occ,
                "info",
                occ.path,
                f"{what} takes its value from {occ.reference}, which the audit was not given.",
                "Audit the file that sets it too (e.g. the compose .env file).",
            )
        return
    known = [
        d
        for c in occ.candidates
        for d in catalog.match_known_default(c, occ.name if occ.via == "helm-chart" else occ.path)
    ]
    if known:
        webserver = occ.path.startswith("secure.credentials.webserver.")
        if webserver and run.web_login:
            run.add(
                occ,
                "low",
                occ.path,
                f"{what} is set to {known[0].where_for(occ.name)}. Web login is configured "
                f"({run.web_login[0]}), so the server revokes these credentials, but they are "
                "still public.",
                FIX_GENERATE + ".",
                value=occ.value or known[0].value,
            )
            return
        run.add(
            occ,
            "high",
            occ.path,
            f"{what} is set to {known[0].where_for(occ.name)}: anyone can look it up"
            + (f" ({occ.note})" if occ.note else "")
            + ".",
            FIX_GENERATE + ", then roll it out in the order the Security page shows.",
            value=occ.value or known[0].value,
        )
        return
    value = occ.value
    if value is None:
        return
    if value == "":
        if occ.kind == "secret" and not occ.path.startswith("secure.credentials."):
            run.add(
                occ,
                "high",
                occ.path,
                f"{what} is empty: tokens or sessions signed with an empty secret can be forged.",
                FIX_GENERATE + ".",
            )
        else:
            run.add(
                occ,
                "info",
                occ.path,
                f"{what} is empty; the server creates no credentials for it.",
                "Remove it, or give it a generated value if the user is needed.",
            )
        return
    if value.startswith("<") and value.endswith(">"):
        run.add(
            occ,
            "medium",
            occ.path,
            f"{what} is still a placeholder from the docs.",
            FIX_GENERATE + ".",
            value=value,
        )
        return
    minimum = KEY_LENGTH if occ.kind == "key" else MIN_SECRET_LENGTH
    if len(value) < minimum:
        reason = f" ({occ.note})" if occ.note else ""
        run.add(
            occ,
            "medium",
            occ.path,
            f"{what} is a {occ.kind} of {len(value)} characters{reason}; the server's own helper "
            f"makes {'keys of 30' if occ.kind == 'key' else 'secrets of 50-60'} characters.",
            FIX_GENERATE + ".",
            value=value,
        )
    elif occ.note and "comment" in occ.note:
        run.add(
            occ,
            "medium",
            occ.path,
            f"{what}: {occ.note}, so the server uses a different value than the one written.",
            "Quote the value as a JSON string, or use a generated value (only A-Z0-9-_).",
            value=value,
        )
    _check_inline(run, occ)


def _check_inline(run: _Run, occ: Occurrence) -> None:
    """Helm values can point at a Kubernetes Secret; a secret written inline needn't be there."""
    if not occ.inline or occ.via not in ("helm-env", "helm-chart"):
        return
    if occ.via == "helm-chart" and not occ.path:
        return  # the readiness probe's values have no Secret form in the chart
    if occ.via == "helm-env":
        fix = (
            "Use `valueFrom.secretKeyRef` (`manage.py server_secrets --format helm --secrets "
            "secret-ref` writes both the reference and the Secret)."
        )
    else:
        fix = "Set `clearml.existingSecret` to a Secret holding the chart's keys instead."
    run.add(
        occ,
        "low",
        occ.path,
        f"{_what(occ)} is written inline in the values file, where a Kubernetes Secret "
        "reference would keep it out of the file.",
        fix,
        value=occ.value,
    )


def _check_switch(run: _Run, occ: Occurrence) -> None:
    if occ.path == "fileserver.auth.enabled" and occ.value is not None and is_false(occ.value):
        run.add(
            occ,
            "high",
            occ.path,
            f"`{occ.name}` turns off the file server's token authentication: anyone who can reach "
            "the file server can read and write every stored artifact and model.",
            "Remove the setting (token authentication is on by default since ClearML Server "
            "1.16) or set it to true.",
        )


def _scope(occ: Occurrence) -> str:
    return "apiserver" if occ.via in ("helm-chart", "k8s-secret") else occ.service


def _check_conflicts(run: _Run, occurrences: list[Occurrence]) -> None:
    """One setting written twice with different values for the same service in one file."""
    groups: dict[tuple, list[Occurrence]] = defaultdict(list)
    for occ in occurrences:
        if occ.kind and occ.path and occ.value is not None:
            file = occ.file if occ.via != "k8s-secret" else "(secret)"
            groups[(occ.path, _scope(occ), file)].append(occ)
    for (path, scope, _file), items in groups.items():
        if len({o.value for o in items}) < 2:
            continue
        places = ", ".join(f"{o.location}" for o in items)
        for occ in items:
            run.add(
                occ,
                "medium",
                path,
                f"`{path}` is set {len(items)} times with different values for "
                f"{scope or 'the same service'} ({places}); which one the server uses is not "
                "defined (both spellings of a variable are the same setting).",
                "Keep one value; in Helm, give the chart's clearml.* key the same value as "
                "extraEnvs.",
                value=occ.value,
            )


def _check_loose_secrets(run: _Run) -> None:
    """Secret entries no variable points at: still flag a public default stored in them."""
    for (name, key), (value, file, location, line) in run.secrets.items():
        if (name, key) in run.used_secret_entries:
            continue
        known = catalog.match_known_default(value)
        if known:
            run.findings.append(
                Finding(
                    file=file,
                    location=location,
                    line=line,
                    severity="high",
                    setting="",
                    message=f"Secret `{name}` key `{key}` holds {known[0].where}.",
                    fix=FIX_GENERATE + ".",
                    fingerprint=catalog.fingerprint(value),
                )
            )


def _check_unread(run: _Run) -> None:
    for p in run.parsed:
        for location, line, why in p.unread:
            run.findings.append(
                Finding(
                    file=p.name,
                    location=location,
                    line=line,
                    severity="info",
                    setting="",
                    message=f"Could not read this part: {why}. Its settings were not checked.",
                    fix="Check it by hand, or pass it as a separate file.",
                )
            )


# --- missing settings ----------------------------------------------------------------------------


def _env_file_hint(run: _Run) -> str:
    hidden = [f for p in run.parsed for f in p.env_files]
    if not hidden:
        return ""
    return f" (unless an env_file not audited sets it: {', '.join(hidden)})"


def _check_missing(run: _Run, occurrences: list[Occurrence]) -> None:
    """A secret the files leave out keeps its public default, from the chart or the server."""
    set_paths = {o.path for o in occurrences if o.via not in ("helm-chart", "k8s-secret")}
    chart_keys = set().union(*(p.chart_keys for p in run.parsed))
    existing = any(p.existing_secret for p in run.parsed)
    hint = _env_file_hint(run)
    for setting in SERVER_SECRETS:
        if run.helm and setting.chart_key and not (setting.chart_key in chart_keys or existing):
            default = catalog.known_default_of(f"clearml.{setting.chart_key}")
            run.add(
                ALL_FILES,
                "high",
                setting.path,
                f"`clearml.{setting.chart_key}` is not set and there is no "
                f"clearml.existingSecret: the chart injects {default.where} as "
                f"{setting.path}, even when apiserver.extraEnvs sets it too.",
                "Set clearml.existingSecret (or the clearml.* keys) with fresh values: "
                "`manage.py server_secrets --format helm`.",
                value=default.value,
                location=f"clearml.{setting.chart_key} {NOT_SET}",
            )
        if setting.path in set_paths:
            continue
        if run.helm and setting.chart_key and setting.credential != "fileserver":
            continue  # the chart sets it from clearml.* or existingSecret
        if run.helm and setting.credential == "fileserver":
            default = catalog.known_default_of(setting.path)
            run.add(
                ALL_FILES,
                "high",
                setting.path,
                f"`{setting.path}` is not in apiserver.extraEnvs: the chart gives "
                f"clearml.{setting.chart_key} to the file server only, so the apiserver keeps "
                f"{default.where} as a system account.",
                f"Add {setting.env_name} to apiserver.extraEnvs with the same value as "
                f"clearml.{setting.chart_key} (`manage.py server_secrets --format helm`).",
                value=default.value,
                location=f"apiserver.extraEnvs {NOT_SET}",
            )
            continue
        if setting.credential == "webserver":
            continue  # judged with web login below
        default = catalog.known_default_of(setting.path)
        run.add(
            ALL_FILES,
            "high",
            setting.path,
            f"`{setting.path}` is not set in these files{hint}, so the server keeps "
            f"{default.where_for(setting.path)}.",
            f"Set {setting.env_name} to a fresh value (`manage.py server_secrets`), or run the "
            "audit with --partial if these files are only part of the deployment.",
            value=default.value,
        )
    if run.helm:
        for name, _kind in catalog.CHART_ONLY_SECRETS:
            if name in chart_keys:
                continue
            default = catalog.known_default_of(f"clearml.{name}")
            run.add(
                ALL_FILES,
                "high",
                "",
                f"`clearml.{name}` is not set: the readiness probe sends {default.where}.",
                "Set it to a fresh value (`manage.py server_secrets --format helm`).",
                value=default.value,
                location=f"clearml.{name} {NOT_SET}",
            )
    _check_fileserver_service(run, occurrences)


def _check_fileserver_service(run: _Run, occurrences: list[Occurrence]) -> None:
    """compose: the file server signs in with its own copy of the fileserver credentials."""
    services = set().union(*(p.compose_services for p in run.parsed))
    if "fileserver" not in services:
        return
    on_api = {
        o.path
        for o in occurrences
        if o.via == "compose" and o.service == "apiserver" and o.path.endswith(("_key", "_secret"))
    }
    on_files = {o.path for o in occurrences if o.via == "compose" and o.service == "fileserver"}
    for setting in SERVER_SECRETS:
        if setting.credential != "fileserver":
            continue
        if setting.path in on_api and setting.path not in on_files:
            run.add(
                ALL_FILES,
                "medium",
                setting.path,
                f"`{setting.path}` is set for the apiserver but not for the fileserver service, "
                "which keeps signing in with the default pair and cannot validate tokens.",
                f"Set {setting.env_name} with the same value on the fileserver service.",
            )


# --- web login -----------------------------------------------------------------------------------


def _check_web_login(run: _Run, occurrences: list[Occurrence]) -> None:
    webserver = [o for o in occurrences if o.path.startswith("secure.credentials.webserver.")]
    public = any(catalog.match_known_default(c) for o in webserver for c in o.candidates) or (
        not run.partial
        and not {o.path for o in webserver}
        >= {
            "secure.credentials.webserver.user_key",
            "secure.credentials.webserver.user_secret",
        }
    )
    if run.web_login:
        if public and not run.partial and not webserver:
            run.add(
                ALL_FILES,
                "info",
                "secure.credentials.webserver.user_key",
                "The webserver credentials keep their public defaults; web login is configured "
                f"({run.web_login[0]}), so the server revokes them.",
                "Rotate them anyway (`manage.py server_secrets`).",
            )
        return
    if public:
        run.add(
            ALL_FILES,
            "high",
            "secure.credentials.webserver.user_key",
            "Web login is not configured and the webserver credentials are the public defaults: "
            "the web app's free-access login lets anyone who reaches it in (seeds 000/001).",
            "Configure web login (apiserver.auth.fixed_users or an identity provider), then "
            "rotate the webserver credentials.",
            location="web login " + NOT_SET,
        )
    elif webserver and not run.partial:
        run.add(
            ALL_FILES,
            "low",
            "apiserver.auth.fixed_users.enabled",
            "No web login found in these files. With changed webserver credentials the "
            "free-access login no longer works, and the docs require web login for a secure "
            "server (ClearML docs, “Securing ClearML Server”).",
            "Configure fixed users or an identity provider (audit that file too, e.g. "
            "apiserver.conf).",
            location="web login " + NOT_SET,
        )
