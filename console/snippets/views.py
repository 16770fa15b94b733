"""The snippet fragment (format tabs, htmx) and the download, for any registered snippet source."""

from urllib.parse import urlencode

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET

from console.htmx import wants_fragment

from .render import FORMATS, SECRET_MODES
from .web import (
    FILE_SUFFIX,
    SECRET_REF,
    as_page_request,
    blocked_references,
    build_snippet,
    env_references,
    get_snippet_source,
    render_snippet,
    secret_ref_without_values_ok,
    set_and_restart,
    snippet_download_response,
)


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")


# The full snippet page (tabs followed without JavaScript) links back to the page that shows the
# snippet: (source name prefix, url name, label); the first match whose url exists wins.
BACK_LINKS = (
    ("idp-", "sso:providers", "Identity providers"),
    ("identity-providers", "sso:providers", "Identity providers"),
    ("multi-tenant-login", "sso:multitenant", "Multi-tenant login"),
    ("", "tenants:groups_export", "Groups & features"),
)


def _back_link(source: str) -> tuple[str, str] | None:
    for prefix, name, label in BACK_LINKS:
        if source.startswith(prefix):
            try:
                return label, reverse(name)
            except NoReverseMatch:
                continue
    return None


@never_cache
@require_GET
def snippet_show(request, source: str):
    snippet = build_snippet(request, source)
    template = "console/_snippet.html" if wants_fragment(request) else "console/snippet_page.html"
    response = render(request, template, {"snippet": snippet, "back": _back_link(source)})
    response["Vary"] = "HX-Request"
    if snippet.has_secrets:
        response["Cache-Control"] = "no-store"
    return response


@sensitive_variables()  # a download carries secret values
@never_cache
@require_GET
def snippet_download(request, source: str):
    src = get_snippet_source(source)
    fmt = request.GET.get("format", "helm")
    secrets = request.GET.get("secrets", "inline")
    if fmt not in FORMATS:
        return _plain(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}", 400)
    if secrets not in SECRET_MODES:
        return _plain(f"unknown secrets mode {secrets!r}; choose inline or secret-ref", 400)
    if fmt != "helm":
        secrets = "inline"
    filename = src.filename + FILE_SUFFIX[fmt]
    try:
        settings = list(src.settings(request))
    except ValueError as exc:
        return _without_missing_values(request, source, fmt, secrets, filename, str(exc))
    return snippet_download_response(settings, fmt, filename, secrets=secrets)


def _without_missing_values(request, source, fmt, secrets, filename, error):
    """The download failed. When it is for values the console reads from its environment and
    does not have, say which ones and where they are configured; Helm with a v1 Secret needs no
    secret value, so that form is made from what a page shows (markers for secrets only)."""
    src = get_snippet_source(source)
    try:
        shown = list(src.settings(as_page_request(request)))
    except ValueError:
        return _plain(error, 400)
    references = env_references(shown)
    if secret_ref_without_values_ok(references, fmt, secrets):
        text = render_snippet(shown, fmt, secrets=secrets, references=references)
        response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "no-store"
        return response
    blocked = blocked_references(references, fmt, secrets)
    if not blocked:
        return _plain(error, 400)
    if "text/html" in request.headers.get("Accept", ""):
        # A browser following the Download link without JavaScript: the snippet's page, which
        # names what is missing and links the form that does without it.
        page = as_page_request(request)
        page.path = reverse("snippets:show", args=[source])
        snippet = build_snippet(page, source, fmt=fmt, secrets=secrets)
        context = {"snippet": snippet, "back": _back_link(source), "download_failed": True}
        response = render(request, "console/snippet_page.html", context, status=400)
        response["Cache-Control"] = "no-store"
        return response
    lines = [f"Cannot download {filename}: " + "; ".join(ref.problem for ref in blocked) + "."]
    lines.append(set_and_restart(blocked))
    if secret_ref_without_values_ok(references, "helm", "secret-ref"):
        query = urlencode({**dict(request.GET.items()), **SECRET_REF})
        lines.append(
            "Or download the Helm values that refer to a v1 Secret instead: "
            + request.build_absolute_uri(f"{request.path}?{query}")
        )
    return _plain("\n".join(lines), 400)
