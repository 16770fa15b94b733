"""Django's `{% url %}` and `{% static %}` tags and `|date` filter, with the same output, at a
fraction of the cost.

Loaded as a template builtin (settings.TEMPLATES OPTIONS "builtins"), so every template's
`{% url %}` and `|date` are these. A profile of the main pages showed the two dominating page
rendering: Django's `date` filter looks up the locale's formats and parses the format string on
every call (about 50 µs), and `reverse()` rebuilds and checks the URL on every call (about
40 µs); a 50-row list calls each about a hundred times. `{% static %}` asks the static files
storage (its manifest) on every call: the layout's four took about 2% of a busy server's CPU.
tests/test_fast_builtins.py compares them with Django's.
"""

from datetime import date, datetime

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.template.defaultfilters import date as django_date
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.templatetags.static import StaticNode
from django.templatetags.static import do_static as django_static
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = template.Library()


def _ymd(d) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def _hms(d) -> str:
    return f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}"


# The formats the templates use, as Django formats them (zero-padded, four-digit year).
DATETIME_FORMATS = {
    "c": lambda d: d.isoformat(),
    "Y-m-d": _ymd,
    "Y-m-d H:i": lambda d: f"{_ymd(d)} {d.hour:02d}:{d.minute:02d}",
    "Y-m-d H:i:s": lambda d: f"{_ymd(d)} {_hms(d)}",
    "Y-m-d H:i:s.u": lambda d: f"{_ymd(d)} {_hms(d)}.{d.microsecond:06d}",
    "H:i:s": _hms,
}
DATE_FORMATS = {"c": lambda d: d.isoformat(), "Y-m-d": _ymd}


@register.filter(name="date", expects_localtime=True, is_safe=False)
def fast_date(value, arg=None):
    """Django's `date` filter; the formats above without its per-call format machinery."""
    kind = type(value)
    if kind is datetime:
        fast = DATETIME_FORMATS.get(arg)
    elif kind is date:
        fast = DATE_FORMATS.get(arg)
    else:
        fast = None
    if fast is None:
        return django_date(value, arg)
    return fast(value)


# Reversed URLs by everything reverse() depends on; cleared when full (URLconfs do not change
# while a process runs, so an entry never goes stale).
_URLS: dict[tuple, str] = {}
_MAX_URLS = 20_000
_PLAIN = (int, str)


def url_scope() -> tuple[str, str]:
    """What reverse() reads besides its arguments: the URLconf and the script prefix."""
    return (get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())


def cached_reverse(
    view_name: str,
    args: tuple = (),
    kwargs: tuple = (),
    current_app=None,
    scope: tuple[str, str] | None = None,
):
    """reverse(), remembered by everything it depends on (`kwargs` as sorted pairs; `scope`,
    url_scope() looked up once by a caller that reverses many); None when an argument is not a
    plain int or str (str() of another type may change: not cached)."""
    if not all(type(a) in _PLAIN for a in args) or not all(type(v) in _PLAIN for _, v in kwargs):
        return None
    key = (*(scope or url_scope()), view_name, args, kwargs, current_app)
    url = _URLS.get(key)
    if url is None:
        url = reverse(view_name, args=args, kwargs=dict(kwargs), current_app=current_app)
        if len(_URLS) >= _MAX_URLS:
            _URLS.clear()
        _URLS[key] = url
    return url


class CachedURLNode(URLNode):
    def render(self, context):
        if self.asvar:
            return super().render(context)
        args = tuple(arg.resolve(context) for arg in self.args)
        kwargs = tuple(sorted((k, v.resolve(context)) for k, v in self.kwargs.items()))
        view_name = self.view_name.resolve(context)
        try:
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        url = cached_reverse(view_name, args, kwargs, current_app)
        if url is None:
            return super().render(context)
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token):
    """Django's `{% url %}`; a URL reversed once is remembered for the life of the process."""
    node = django_url(parser, token)
    return CachedURLNode(node.view_name, node.args, node.kwargs, node.asvar)


# Static URLs by path; cleared when a setting changes (tests), since the URL depends on
# STATIC_URL, the storage and DEBUG, none of which change while a process serves.
_STATIC: dict[str, str] = {}
_MAX_STATIC = 1_000


def _forget_static(**kwargs) -> None:
    _STATIC.clear()


setting_changed.connect(_forget_static)


class CachedStaticNode(StaticNode):
    def url(self, context):
        path = self.path.resolve(context)
        if type(path) is not str:
            return super().url(context)
        found = _STATIC.get(path)
        if found is None:
            found = self.handle_simple(path)
            if len(_STATIC) >= _MAX_STATIC:
                _STATIC.clear()
            _STATIC[path] = found
        return found


@register.tag
def static(parser, token):
    """Django's `{% static %}`; a path's URL is asked of the storage once per process."""
    node = django_static(parser, token)
    return CachedStaticNode(varname=node.varname, path=node.path)
