"""The Jinja2 environment of the row lists (templates/jinja2/).

Pages are Django templates. The lists that repeat a row up to fifty times on every view of a
busy page (changesets, audit entries, tenants) are Jinja2 templates: Jinja2 compiles a template
to Python, where Django's engine resolves every `{{ variable }}` through its lookup machinery,
and a fifty-row list renders four to five times faster (docs/performance.md). The page includes
the rendered rows (`console.htmx.render_page`), and htmx asks for the rows alone.

Autoescaping is on (Django's Jinja2 backend turns it on); values Django marks safe stay safe.
The filters are Django's own, under the same names, so a row reads as it did in Django's
language: `|date` (the fast formats of console.templatetags.fast_builtins, in the current time
zone as Django's filter is), `|truncatechars`, `|pluralize`, `|urlencode`, `|join`. `url()`
reverses a URL name as `{% url %}` does, remembered for the life of the process.
`obj|display("status")` is `obj.get_status_display()`, the field's labels read once per model.

A render with a request looks up the current time zone, the URLconf and the script prefix once
(the context processor `render_scope`), not once per date or address: Django keeps each in an
asgiref Local, and those lookups were about half the cost of a 50-row list's dates and links.
"""

from datetime import datetime

from django.conf import settings
from django.template.defaultfilters import pluralize, truncatechars, urlencode
from django.urls import reverse
from django.utils.encoding import force_str
from django.utils.timezone import get_current_timezone, is_naive
from jinja2 import Environment, pass_context

from .templatetags.fast_builtins import cached_reverse, fast_date, url_scope

TIMEZONE_KEY = "current_timezone"
URL_SCOPE_KEY = "url_scope"


@pass_context
def url(context, view_name: str, *args, **kwargs) -> str:
    """`{% url view_name arg ... %}`."""
    scope = context.get(URL_SCOPE_KEY)
    found = cached_reverse(view_name, args, tuple(sorted(kwargs.items())), scope=scope)
    return found if found is not None else reverse(view_name, args=args, kwargs=kwargs)


def render_scope(request) -> dict:
    """The context processor of the Jinja2 engine: the current time zone, the URLconf and the
    script prefix, looked up once per render."""
    return {TIMEZONE_KEY: get_current_timezone(), URL_SCOPE_KEY: url_scope()}


@pass_context
def date(context, value, arg=None) -> str:
    """Django's `|date` filter: the value in the current time zone (as template_localtime
    converts it), then formatted."""
    if (
        isinstance(value, datetime)
        and settings.USE_TZ
        and not is_naive(value)
        and getattr(value, "convert_to_local_time", True)
    ):
        zone = context.get(TIMEZONE_KEY) or get_current_timezone()
        value = value.astimezone(zone)
    return fast_date(value, arg)


_LABELS: dict[tuple[type, str], dict] = {}


def display(obj, field_name: str) -> str:
    """`obj.get_<field_name>_display()`: the label of the field's value among its choices, the
    value itself when it has none. Django's method rebuilds its lookup on every call."""
    key = (type(obj), field_name)
    labels = _LABELS.get(key)
    if labels is None:
        labels = _LABELS[key] = dict(obj._meta.get_field(field_name).flatchoices)
    value = getattr(obj, field_name)
    try:
        label = labels.get(value, value)
    except TypeError:  # an unhashable value: Django's own way
        return getattr(obj, f"get_{field_name}_display")()
    return force_str(label, strings_only=True)


def environment(**options) -> Environment:
    # Always escaped, whatever the settings say: the rows are included in pages as they are.
    options.pop("autoescape", None)
    env = Environment(autoescape=True, **options)
    env.globals["url"] = url
    env.filters.update(
        date=date,
        display=display,
        truncatechars=truncatechars,
        pluralize=pluralize,
        urlencode=urlencode,
    )
    return env
