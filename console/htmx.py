"""The one helper for htmx answers: a fragment for htmx, the whole page otherwise.

NetBox's rule: render only the fragment when the request comes from htmx and is neither a
boosted link nor a history restore (both want the whole page). Every response that differs by
this says so (`Vary: HX-Request`), so no cache serves one for the other.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def wants_fragment(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page(
    request: HttpRequest,
    template: str,
    context: dict,
    *,
    fragment: str = "",
    status: int = 200,
) -> HttpResponse:
    """`fragment` for an htmx request (when given), else the page `template`."""
    partial = bool(fragment) and wants_fragment(request)
    response = render(request, fragment if partial else template, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response
