"""Showing snippets in pages: named sources, the `_snippet.html` partial's data, and downloads.

A page that shows variables registers a *snippet source*: a function that takes the request and
returns the list of EnvSetting to show. The page then builds a `Snippet` for the partial
(`build_snippet(request, "groups")`), and the console's snippet views serve the same source as an
htmx fragment (format tabs) and as a download. Because downloads recompute the settings on the
server from the source, no value ever travels in a URL. See the README.

Values the console reads from its own environment (`env:NAME`, e.g. an identity provider's client
secret) are shown on pages as markers. When such a variable is not set, a download would fail:
an *env-reference check* (registered by the package that writes the markers, sso.snippets) tells
which ones are missing, so the page says so next to Copy and Download, which name the variable
and the field instead of copying a marker or failing without a word, and offers the Helm form that
refers to a v1 Secret (which needs no secret value from the console).
"""

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse

from console.roles import Role, has_role

from .render import DEFAULT_SECRET_NAME, FORMATS, SECRET_MODES, EnvSetting, render

FORMAT_LABELS = {
    "helm": "Helm values",
    "compose": "docker-compose",
    "env": "env file",
    "shell": "shell",
}
FILE_SUFFIX = {
    "helm": ".values.yaml",
    "compose": ".compose.yml",
    "env": ".env",
    "shell": ".sh",
}
SECRET_PLACEHOLDER = "<secret hidden on the page: use Download>"  # noqa: S105
SECRET_REF = {"format": "helm", "secrets": "secret-ref"}


@dataclass(frozen=True)
class EnvReference:
    """A setting whose value the console reads from its own environment when it exports."""

    variable: str  # the exported variable, CLEARML__...
    env: str  # the console's environment variable, KC_SECRET
    field: str  # where it is configured, for the admin: "Keycloak: Client secret"
    secret: bool  # a secret: the Helm form with a v1 Secret can do without its value
    state: str  # "set", "unset" or "empty"

    @property
    def missing(self) -> bool:
        return self.state != "set"

    @property
    def problem(self) -> str:
        how = "is set but empty" if self.state == "empty" else "is not set"
        return f"env:{self.env} {how} in the console's environment ({self.field}: {self.variable})"


# Functions that find the env references among the settings a page shows (their markers).
_ENV_CHECKS: list[Callable[[list[EnvSetting]], list[EnvReference]]] = []


def register_env_reference_check(func: Callable[[list[EnvSetting]], list[EnvReference]]):
    """Register `func(page_settings) -> [EnvReference]`; the package that writes env markers
    into page settings registers the function that recognises them."""
    if func not in _ENV_CHECKS:
        _ENV_CHECKS.append(func)
    return func


def env_references(settings: Iterable[EnvSetting]) -> list[EnvReference]:
    settings = list(settings)
    return [ref for check in _ENV_CHECKS for ref in check(settings)]


@dataclass(frozen=True)
class SnippetSource:
    name: str
    settings: Callable[[HttpRequest], list[EnvSetting]]
    title: str
    filename: str
    # Query parameters the source reads from request.GET; kept in the fragment/download URLs.
    params: tuple[str, ...] = ()


_SOURCES: dict[str, SnippetSource] = {}


def register_snippet_source(
    name: str,
    func: Callable[[HttpRequest], list[EnvSetting]] | None = None,
    *,
    title: str = "",
    filename: str = "",
    params: tuple[str, ...] = (),
):
    """Register `func(request) -> list[EnvSetting]` under `name`; usable as a decorator."""

    def decorator(f):
        _SOURCES[name] = SnippetSource(
            name=name,
            settings=f,
            title=title or name,
            filename=filename or f"clearml-{name}",
            params=tuple(params),
        )
        return f

    return decorator(func) if func is not None else decorator


def get_snippet_source(name: str) -> SnippetSource:
    try:
        return _SOURCES[name]
    except KeyError:
        raise Http404("No such snippet.") from None


@dataclass
class SnippetLink:
    label: str
    href: str
    hx_get: str
    current: bool


@dataclass
class Snippet:
    """Everything `templates/console/_snippet.html` shows, ready to render."""

    source: str
    title: str
    dom_id: str
    fmt: str
    secrets: str
    text: str = ""
    error: str = ""
    filename: str = ""
    download_url: str = ""
    has_secrets: bool = False
    masked: bool = False
    count: int = 0
    tabs: list[SnippetLink] = field(default_factory=list)
    secret_modes: list[SnippetLink] = field(default_factory=list)
    # Values read from the console's environment that are not set there: `blocked` are those
    # this format and mode need (Copy and Download then say so instead of acting).
    missing: list[EnvReference] = field(default_factory=list)
    blocked: list[EnvReference] = field(default_factory=list)
    secret_ref: SnippetLink | None = None  # the Helm form with a v1 Secret, when it would do

    @property
    def hides_secrets(self) -> bool:
        """Whether the text shows placeholders where Download has secret values."""
        return self.masked and not self.missing

    @property
    def blocked_message(self) -> str:
        if not self.blocked:
            return ""
        text = "; ".join(ref.problem for ref in self.blocked) + ". " + set_and_restart(self.blocked)
        if self.secret_ref is not None:
            text = text[:-1] + ", or use Helm values with a v1 Secret."
        return text


def set_and_restart(references: list[EnvReference]) -> str:
    return f"Set {'it' if len(references) == 1 else 'them'} and restart the console."


def _choice(value: str | None, allowed, default: str) -> str:
    return value if value in allowed else default


def _query(base: dict, **changes) -> str:
    params = {**base, **changes}
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def masked_settings(settings: list[EnvSetting], keep: Iterable[str] = ()) -> list[EnvSetting]:
    """The same settings with every secret value replaced by a visible placeholder; settings
    named in `keep` (env references, whose value is already a marker) keep their marker."""
    keep = set(keep)
    return [
        EnvSetting(s.name, SECRET_PLACEHOLDER, secret=True, service=s.service, hocon=s.hocon)
        if s.secret and s.name not in keep
        else s
        for s in settings
    ]


def build_snippet(
    request: HttpRequest,
    source: str,
    *,
    fmt: str | None = None,
    secrets: str | None = None,
    reveal_secrets: bool = False,
    params: dict[str, str] | None = None,
) -> Snippet:
    """The partial's data for snippet source `source`, in the format the request asks for.

    The format and secrets mode come from `?format=`/`?secrets=` unless given. Secret values are
    replaced by a placeholder on the page unless `reveal_secrets`; the Download link always
    carries the real values (served with Cache-Control: no-store). `params` gives values of the
    source's parameters when the page's own URL does not carry them (e.g. `{"group": "3"}`).
    """
    src = get_snippet_source(source)
    if params:
        request = copy.copy(request)
        query = request.GET.copy()
        for key, value in params.items():
            query[key] = str(value)
        request.GET = query
    fmt = _choice(fmt or request.GET.get("format"), FORMATS, "helm")
    secrets = _choice(secrets or request.GET.get("secrets"), SECRET_MODES, "inline")
    if fmt != "helm":
        secrets = "inline"
    source_params = {p: request.GET.get(p, "") for p in src.params}
    page_path, page_params = _page_base(request)
    fragment_url = reverse("snippets:show", args=[source])
    download_url = reverse("snippets:download", args=[source])
    snippet = Snippet(
        source=source,
        title=src.title,
        dom_id=f"snippet-{source}",
        fmt=fmt,
        secrets=secrets,
        filename=src.filename + FILE_SUFFIX[fmt],
        download_url=f"{download_url}?{_query(source_params, format=fmt, secrets=secrets)}",
    )
    for name in FORMATS:
        snippet.tabs.append(
            SnippetLink(
                label=FORMAT_LABELS[name],
                href=_page_href(request, page_path, page_params, format=name, secrets=secrets),
                hx_get=f"{fragment_url}?{_query(source_params, format=name, secrets=secrets)}",
                current=name == fmt,
            )
        )
    try:
        settings = list(src.settings(request))
        snippet.count = len(settings)
        snippet.has_secrets = any(s.secret for s in settings)
        references = env_references(settings) if not reveal_secrets else []
        snippet.missing = [ref for ref in references if ref.missing]
        snippet.blocked = blocked_references(references, fmt, secrets)
        if snippet.blocked and secret_ref_without_values_ok(references, "helm", "secret-ref"):
            snippet.secret_ref = SnippetLink(
                label="Helm values with a v1 Secret",
                href=_page_href(request, page_path, page_params, **SECRET_REF),
                hx_get=f"{fragment_url}?{_query(source_params, **SECRET_REF)}",
                current=False,
            )
        if snippet.has_secrets and not reveal_secrets:
            settings = masked_settings(settings, keep=[ref.variable for ref in references])
            snippet.masked = True
        snippet.text = render_snippet(settings, fmt, secrets=secrets, references=references)
    except ValueError as exc:
        snippet.error = str(exc)
    if fmt == "helm" and snippet.has_secrets:
        for mode, label in (("inline", "Secrets inline"), ("secret-ref", "Secrets in a v1 Secret")):
            snippet.secret_modes.append(
                SnippetLink(
                    label=label,
                    href=_page_href(request, page_path, page_params, format=fmt, secrets=mode),
                    hx_get=f"{fragment_url}?{_query(source_params, format=fmt, secrets=mode)}",
                    current=mode == secrets,
                )
            )
    return snippet


def blocked_references(references: list[EnvReference], fmt: str, secrets: str):
    """The missing values that Copy and Download in `fmt`/`secrets` cannot do without: all of
    them, except in the Helm form with a v1 Secret when only secrets are missing (see below)."""
    if secret_ref_without_values_ok(references, fmt, secrets):
        return []
    return [ref for ref in references if ref.missing]


def secret_ref_without_values_ok(references: list[EnvReference], fmt: str, secrets: str) -> bool:
    """Whether the page's settings (with markers) make the true Helm values file for secret-ref:
    only secrets are missing, and no non-secret value is a marker standing for a real one."""
    return (
        fmt == "helm"
        and secrets == "secret-ref"
        and any(ref.missing for ref in references)
        and all(ref.secret for ref in references)
    )


def missing_secret_note(
    settings: list[EnvSetting], references: list[EnvReference], secret_name: str
) -> str:
    """Comment lines, after the values file, that stand for the v1 Secret the console cannot
    write (comments, so the whole download stays a valid values file)."""
    lines = [f"# The v1 Secret {secret_name} is not part of this file: the console cannot read"]
    lines += [f"#   {ref.problem}" for ref in references if ref.missing]
    lines += [
        f"# Create the Secret {secret_name} next to the release with these keys, each value as the",
        '# apiserver reads it (HOCON: a string in double quotes, with \\ and " escaped), e.g.',
        f"# kubectl create secret generic {secret_name} --from-literal=KEY='\"the value\"' ...",
    ]
    lines += [f"#   {s.secret_key}" for s in settings if s.secret]
    return "\n".join(lines) + "\n"


def render_snippet(
    settings: list[EnvSetting],
    fmt: str,
    *,
    secrets: str = "inline",
    secret_name: str = DEFAULT_SECRET_NAME,
    references: list[EnvReference] = (),
) -> str:
    """`render`, except that Helm with a v1 Secret whose values the console cannot read gives the
    values file and a note of the Secret's keys instead of a Secret holding markers."""
    references = list(references)
    if secret_ref_without_values_ok(references, fmt, secrets):
        text = render(settings, fmt, secrets=secrets, secret_name=secret_name, with_secret=False)
        return text + missing_secret_note(settings, references, secret_name)
    return render(settings, fmt, secrets=secrets, secret_name=secret_name)


def _page_base(request: HttpRequest) -> tuple[str, dict]:
    """The page the snippet is shown on: the request itself, or for an htmx fragment request the
    page htmx is on (HX-Current-URL), so a tab's href always reloads the whole page."""
    htmx = getattr(request, "htmx", None)
    current = htmx.current_url_abs_path if htmx else None
    if current:
        parts = urlsplit(current)
        return parts.path, dict(parse_qsl(parts.query))
    return request.path, dict(request.GET.items())


def _page_href(request, page_path, page_params, **changes) -> str:
    # Without JavaScript a tab reloads the page it is on with the new choice.
    return f"{page_path}?{_query(page_params, **changes)}"


def snippet_download_response(
    settings: list[EnvSetting],
    fmt: str,
    filename: str,
    *,
    secrets: str = "inline",
    secret_name: str = DEFAULT_SECRET_NAME,
) -> HttpResponse:
    """An attachment with the rendered snippet; 400 with the reason when it cannot be rendered.

    Responses are `no-store` whenever a setting is secret, so no cache keeps the values.
    """
    try:
        text = render(settings, fmt, secrets=secrets, secret_name=secret_name)
    except ValueError as exc:
        return HttpResponse(str(exc) + "\n", status=400, content_type="text/plain; charset=utf-8")
    content_type = "application/yaml" if fmt in ("helm", "compose") else "text/plain"
    response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    if any(s.secret for s in settings):
        response["Cache-Control"] = "no-store"
    return response


def as_page_request(request: HttpRequest) -> HttpRequest:
    """The same request as a page sees it: sources then show markers, never secret values."""
    page = copy.copy(request)
    page.snippet_download = False
    page.resolver_match = None
    return page


def is_snippet_download(request: HttpRequest) -> bool:
    """True while a snippet source is called to build a download (which carries real secrets)
    for someone who may export secrets: an operator or an admin. A viewer's request never
    reveals them (the role policy already refuses a viewer's download that would)."""
    if getattr(request, "snippet_download", False):
        download = True
    else:
        match = getattr(request, "resolver_match", None)
        download = bool(match and match.view_name == "snippets:download")
    return download and has_role(request, Role.OPERATOR)


def download_shows_secrets(request: HttpRequest, view_kwargs: dict) -> bool:
    """Whether downloading snippet source `view_kwargs["source"]` carries secret values: asked
    by the role policy (console/policy.py) before the download is made, from the settings a
    page shows (no secret is read, nothing is audited). When that cannot be told, it does."""
    try:
        src = get_snippet_source(view_kwargs.get("source", ""))
    except Http404:
        return False
    try:
        settings = src.settings(as_page_request(request))
    except ValueError:
        return True
    return any(s.secret for s in settings)
