"""console/templatetags/fast_builtins.py: the same output as Django's `{% url %}`, `{% static %}`
and `|date`."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from django.template import Context, Engine, engines
from django.test import override_settings
from django.urls import NoReverseMatch, reverse, set_script_prefix
from hypothesis import given, settings
from hypothesis import strategies as st

from console.templatetags import fast_builtins
from console.templatetags.fast_builtins import (
    DATE_FORMATS,
    DATETIME_FORMATS,
    CachedStaticNode,
    CachedURLNode,
)

DJANGO = Engine(libraries={"static": "django.templatetags.static"})  # Django's own tags only
OURS = Engine(builtins=["console.templatetags.fast_builtins"])

FORMATS = sorted(set(DATETIME_FORMATS) | {"D d M Y", "N j, Y, P", ""})


def render(engine: Engine, source: str, context: dict) -> str:
    try:
        return engine.from_string(source).render(Context(context))
    except TypeError as exc:  # Django's date filter: a time format for a date
        return f"TypeError: {exc}"


def both(source: str, **context) -> tuple[str, str]:
    return render(DJANGO, source, context), render(OURS, source, context)


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    fmt=st.sampled_from(FORMATS),
)
def test_date_formats_aware_datetimes_as_django_does(moment, fmt):
    theirs, ours = both("{{ v|date:f }}", v=moment, f=fmt)
    assert ours == theirs


@settings(max_examples=200, deadline=None)
@given(
    moment=st.one_of(
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
        st.dates(),
        st.datetimes(
            min_value=datetime(1, 1, 2),
            max_value=datetime(9999, 12, 30),
            timezones=st.just(timezone(timedelta(hours=5, minutes=30))),
        ),
    ),
    fmt=st.sampled_from(FORMATS),
)
def test_date_formats_naive_datetimes_dates_and_other_zones_as_django_does(moment, fmt):
    theirs, ours = both("{{ v|date:f }}", v=moment, f=fmt)
    assert ours == theirs


@pytest.mark.parametrize("value", [None, "", "2026-01-01", 0, [], "not a date"])
def test_date_of_something_else_is_what_django_answers(value):
    for fmt in [*DATETIME_FORMATS, *DATE_FORMATS]:
        theirs, ours = both("[{{ v|date:f }}]", v=value, f=fmt)
        assert ours == theirs


def test_date_without_a_format_uses_the_default_as_django_does():
    assert (
        both("{{ v|date }}", v=datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC))[1]
        == both("{{ v|date }}", v=datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC))[0]
    )


def test_the_configured_engine_uses_these_builtins():
    template = engines["django"].from_string("{% url 'changes:detail' 1 %}{{ v|date:'c' }}")
    nodes = template.template.nodelist
    assert isinstance(nodes[0], CachedURLNode)
    assert nodes[1].filter_expression.filters[0][0] is fast_builtins.fast_date


@pytest.mark.parametrize(
    ("source", "context", "expected"),
    [
        ("{% url 'changes:detail' pk %}", {"pk": 7}, reverse("changes:detail", args=[7])),
        ("{% url 'changes:detail' pk=pk %}", {"pk": 8}, reverse("changes:detail", args=[8])),
        ("{% url 'changes:detail' pk %}", {"pk": "9"}, reverse("changes:detail", args=[9])),
        ("{% url name %}", {"name": "changes:list"}, reverse("changes:list")),
    ],
)
def test_url_reverses_as_django_does_and_again_from_memory(source, context, expected):
    theirs, ours = both(source, **context)
    assert theirs == ours == expected
    assert both(source, **context)[1] == expected  # the remembered answer


def test_url_escapes_and_stores_in_a_variable_as_django_does():
    source = "{% url 'audit:list' as link %}[{{ link }}]{% url 'changes:list' %}"
    assert both(source)[0] == both(source)[1]
    escaped = "{% autoescape off %}{% url 'changes:detail' 3 %}{% endautoescape %}"
    assert both(escaped)[0] == both(escaped)[1]


def test_url_follows_the_script_prefix():
    try:
        set_script_prefix("/console/")
        assert both("{% url 'changes:detail' 5 %}")[1] == "/console/changes/5/"
    finally:
        set_script_prefix("/")
    assert both("{% url 'changes:detail' 5 %}")[1] == "/changes/5/"


def test_url_of_an_unknown_name_raises_as_django_does():
    for engine in (DJANGO, OURS):
        with pytest.raises(NoReverseMatch):
            engine.from_string("{% url 'no-such-page' %}").render(Context({}))


def test_url_with_another_kind_of_argument_is_not_remembered():
    class Key:
        def __init__(self, text):
            self.text = text

        def __str__(self):
            return self.text

    before = len(fast_builtins._URLS)
    theirs, ours = both("{% url 'changes:detail' k %}", k=Key("12"))
    assert theirs == ours == "/changes/12/"
    assert len(fast_builtins._URLS) == before


def test_date_dates_are_formatted_as_the_page_shows_them():
    assert both("{{ v|date:'Y-m-d' }}", v=date(987, 6, 5))[1] == "0987-06-05"


@pytest.mark.parametrize(
    ("source", "context"),
    [
        ("{% static 'console/console.css' %}", {}),
        ("{% static path %}", {"path": "console/htmx.min.js"}),
        ("{% static path %}", {"path": "a b&c<d>.css"}),
        ("{% static 'console/console.js' as js %}[{{ js }}]", {}),
    ],
)
def test_static_gives_djangos_url_and_again_from_memory(source, context):
    theirs = render(DJANGO, "{% load static %}" + source, context)
    assert render(OURS, source, context) == theirs
    assert render(OURS, source, context) == theirs  # the remembered answer
    assert "console" in theirs or "a%20b" in theirs


def test_static_follows_a_changed_setting():
    source = "{% static 'console/console.css' %}"
    before = render(OURS, source, {})
    with override_settings(STATIC_URL="/elsewhere/"):
        moved = render(OURS, source, {})
        assert moved == render(DJANGO, "{% load static %}" + source, {})
        assert moved.startswith("/elsewhere/")
    assert render(OURS, source, {}) == before


def test_the_layout_uses_the_remembered_static():
    template = engines["django"].get_template("base.html")
    assert len(template.template.nodelist.get_nodes_by_type(CachedStaticNode)) == 4
