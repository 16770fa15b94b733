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
"""

from django.template.defaultfilters import pluralize, truncatechars, urlencode
from django.urls import reverse
from django.utils.timezone import template_localtime
from jinja2 import Environment

from .templatetags.fast_builtins import cached_reverse, fast_date


def url(view_name: str, *args, **kwargs) -> str:
    """`{% url view_name arg ... %}`."""
    found = cached_reverse(view_name, args, tuple(sorted(kwargs.items())))
    return found if found is not None else reverse(view_name, args=args, kwargs=kwargs)


def date(value, arg=None) -> str:
    """Django's `|date` filter: the value in the current time zone, then formatted."""
    return fast_date(template_localtime(value), arg)


def environment(**options) -> Environment:
    # Always escaped, whatever the settings say: the rows are included in pages as they are.
    options.pop("autoescape", None)
    env = Environment(autoescape=True, **options)
    env.globals["url"] = url
    env.filters.update(
        date=date,
        truncatechars=truncatechars,
        pluralize=pluralize,
        urlencode=urlencode,
    )
    return env
