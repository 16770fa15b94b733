"""Where a `next` parameter (or a Referer) may send the browser after a form: this console only.

Django's `redirect()` reads a string without `/` or `.` as a URL name and raises NoReverseMatch
for `next=a b`, and a response header refuses a value with a line break (`HX-Redirect`), so a
hostile `next` was a 500. `safe_next` keeps a URL only when it is an absolute path or a URL of
this host, without control characters; the caller redirects to it with HttpResponseRedirect.
"""

import unicodedata
from urllib.parse import urlsplit

from django.utils.encoding import iri_to_uri
from django.utils.http import url_has_allowed_host_and_scheme

MAX_NEXT_LENGTH = 2000


def safe_next(candidate, request) -> str:
    """`candidate` when it is a path (`/tenants/?q=a`) or a URL of this console, else ""."""
    if not isinstance(candidate, str) or not candidate or len(candidate) > MAX_NEXT_LENGTH:
        return ""
    if any(unicodedata.category(ch) == "Cc" for ch in candidate):
        return ""
    try:
        scheme = urlsplit(candidate).scheme
    except ValueError:
        return ""
    if not candidate.startswith("/") and not scheme:
        return ""  # a relative reference ("a b", "tenants"): not a page of the console
    if not url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return ""
    return candidate


def header_url(url: str) -> str:
    """The URL as a header value (HX-Redirect, HX-Location): non-ASCII percent-encoded, as
    Django writes a redirect's Location."""
    return iri_to_uri(url)
