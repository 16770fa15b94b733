"""The one helper for htmx answers: a fragment for htmx, the whole page otherwise.

NetBox's rule: render only the fragment when the request comes from htmx and is neither a
boosted link nor a history restore (both want the whole page). Every response that differs by
this says so (`Vary: HX-Request`), so no cache serves one for the other.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import engines
from django.utils.cache import patch_vary_headers
from django.utils.safestring import SafeString, mark_safe

ROWS_SUFFIX = ".jinja"


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
    """`fragment` for an htmx request (when given), else the page `template`.

    A fragment named `*.jinja` is a Jinja2 row list (console/jinja2.py): it is rendered first,
    and the page shows it where it says `{{ rows_html }}`."""
    partial = bool(fragment) and wants_fragment(request)
    if fragment.endswith(ROWS_SUFFIX):
        rows = render_rows(request, fragment, context)
        if partial:
            response = HttpResponse(rows, status=status)
        else:
            response = render(request, template, {**context, "rows_html": rows}, status=status)
    else:
        response = render(request, fragment if partial else template, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def render_rows(request: HttpRequest, template: str, context: dict) -> SafeString:
    """A Jinja2 row list, safe to include as it is: Jinja2 escaped every value in it."""
    html = engines["jinja2"].get_template(template).render(dict(context), request)
    return mark_safe(html)  # noqa: S308 - the environment always escapes (console/jinja2.py)
