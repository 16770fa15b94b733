"""The snippet fragment (format tabs, htmx) and the download, for any registered snippet source."""

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET

from console.htmx import wants_fragment

from .render import FORMATS, SECRET_MODES
from .web import FILE_SUFFIX, build_snippet, get_snippet_source, snippet_download_response


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
    try:
        settings = list(src.settings(request))
    except ValueError as exc:
        return _plain(str(exc), 400)
    return snippet_download_response(
        settings, fmt, src.filename + FILE_SUFFIX[fmt], secrets=secrets
    )
