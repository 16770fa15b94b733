"""The Jinja2 row lists (console/jinja2.py, console/htmx.py render_page): the filters read as
Django's, every value is escaped, and a page shows its rows once, htmx the rows alone."""

import html
import re
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Engine, engines
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone as django_timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from changes.models import Changeset, ChangeStep
from changes.selectors import PAGE_SIZE
from console.audit.bulk import bulk_append
from console.audit.queries import PAGE_SIZE as AUDIT_PAGE_SIZE
from console.snapshot import store as snapshot_store
from sso.models import LoginDomain
from tenants.models import Tenant, TenantAdmin
from tenants.queries import PER_PAGE as TENANTS_PER_PAGE

DJANGO = Engine(builtins=["console.templatetags.fast_builtins"])
JINJA = engines["jinja2"]


def ours(source: str, **context) -> str:
    return JINJA.from_string(source).render(context)


def theirs(source: str, **context) -> str:
    return DJANGO.from_string(source).render(Context(context))


@settings(max_examples=150, deadline=None)
@given(
    moment=st.one_of(
        st.datetimes(
            min_value=datetime(2, 1, 2),
            max_value=datetime(9998, 12, 30),
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7))]),
        ),
        st.dates(),
        st.none(),
    ),
    fmt=st.sampled_from(["c", "Y-m-d", "Y-m-d H:i:s", "Y-m-d H:i", "D d M Y"]),
    zone=st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York"]),
)
def test_date_reads_as_django_date_in_the_current_time_zone(moment, fmt, zone):
    if isinstance(moment, date) and not isinstance(moment, datetime) and "H" in fmt:
        return  # Django refuses a time format for a date (TypeError); no row asks for one
    with django_timezone.override(zone):
        assert ours("{{ v|date(f) }}", v=moment, f=fmt) == theirs("{{ v|date:f }}", v=moment, f=fmt)


@settings(max_examples=60, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2, 1, 2),
        max_value=datetime(9998, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    ),
    fmt=st.sampled_from(["c", "Y-m-d H:i:s", "D d M Y"]),
    zone=st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York"]),
)
def test_date_with_a_request_uses_the_zone_looked_up_once_for_the_render(moment, fmt, zone):
    request = RequestFactory().get("/")
    with django_timezone.override(zone):
        rendered = JINJA.from_string("{{ v|date(f) }}").render({"v": moment, "f": fmt}, request)
        assert rendered == theirs("{{ v|date:f }}", v=moment, f=fmt)
        assert JINJA.from_string("{{ current_timezone }}").render({}, request) == zone


def test_date_converts_to_the_zone_the_render_looked_up():
    moment = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    kolkata = ZoneInfo("Asia/Kolkata")
    shown = ours("{{ v|date('Y-m-d H:i') }}", v=moment, current_timezone=kolkata)
    assert shown == "2026-03-02 05:00"


def test_display_is_the_models_own_label_for_every_choice_and_other_values():
    for face in [*Changeset.Face.values, "unknown"]:
        for status in [*Changeset.Status.values, "", "not-a-status"]:
            changeset = Changeset(face=face, status=status)
            shown = ours('{{ c|display("face") }}|{{ c|display("status") }}', c=changeset)
            assert shown == f"{changeset.get_face_display()}|{changeset.get_status_display()}"
    step = ChangeStep(status=ChangeStep.Status.FAILED)
    assert ours('{{ s|display("status") }}', s=step) == step.get_status_display()


@pytest.mark.parametrize(
    ("jinja", "django", "value"),
    [
        ("{{ v|truncatechars(5) }}", "{{ v|truncatechars:5 }}", "a <b> & c's long text"),
        ("{{ v|truncatechars(40) }}", "{{ v|truncatechars:40 }}", "short"),
        ("{{ v|pluralize }}", "{{ v|pluralize }}", 1),
        ("{{ v|pluralize }}", "{{ v|pluralize }}", 2),
        ("{{ v|urlencode }}", "{{ v|urlencode }}", "a b&c=d/é"),
    ],
)
def test_filters_give_what_djangos_give(jinja, django, value):
    assert ours(jinja, v=value) == theirs(django, v=value)


def test_url_is_reverse_and_every_value_is_escaped():
    assert ours("{{ url('changes:detail', 7) }}") == reverse("changes:detail", args=[7])
    assert ours("{{ url('changes:list') }}") == reverse("changes:list")
    assert ours("{{ v }}", v='<script>"x"</script>') == ("&lt;script&gt;&#34;x&#34;&lt;/script&gt;")


@pytest.mark.django_db
def test_changes_page_shows_its_rows_once_escaped_and_htmx_gets_the_rows_alone(admin_client):
    Changeset.objects.create(
        kind="tenant.create",
        summary='<img src=x onerror="alert(1)"> & more',
        requested_by="alice <a@x>",
        source="a" * 60,
        status="applied",
        content_hash="x",
    )
    page = admin_client.get(reverse("changes:list")).content.decode()
    assert page.count("<table>") == 1
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; more" in page
    assert "<img src=x" not in page
    assert "alice &lt;a@x&gt;" in page
    assert "a" * 39 + "…" in page  # the source, cut at 40
    assert "<!DOCTYPE html>" in page or "<html" in page

    rows = admin_client.get(reverse("changes:list"), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in rows
    assert rows.count("<table>") == 1
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; more" in rows


@pytest.mark.django_db
def test_changes_paging_links_keep_the_filter(admin_client):
    for i in range(PAGE_SIZE + 1):
        Changeset.objects.create(
            kind="routing.add", summary=f"c{i}", requested_by="bob", status="applied"
        )
    page = admin_client.get(reverse("changes:list"), {"requested_by": "bob & co"})
    html = page.content.decode()
    assert "No changeset matches the filter." in html
    page = admin_client.get(reverse("changes:list"), {"requested_by": "bob", "page": 2})
    html = page.content.decode()
    assert 'href="?requested_by=bob&amp;page=1" rel="prev"' in html
    assert "Page 2 of 2" in html


HOSTILE = "<script>alert('x')</script> & \"co\""
HOSTILE_SHOWN = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;co&#34;"


@pytest.mark.django_db
def test_audit_page_shows_its_rows_once_escaped_and_htmx_gets_the_rows_alone(admin_client):
    bulk_append(
        [
            dict(
                actor=HOSTILE,
                action="tenant.create",
                target_type="tenant",
                target_id="c-1",
                target_repr=HOSTILE,
                outcome="failure",
                error="e" * 130,
                calls=[{"endpoint": "system.create_company", "status": 400}],
            ),
            dict(actor="admin", action="tenant.update", target_type="tenant", target_id="c-9"),
        ]
    )
    page = admin_client.get(reverse("audit:list")).content.decode()
    assert "<html" in page
    assert page.count('<table class="audit-table">') == 1
    assert page.count(HOSTILE_SHOWN) == 2  # the actor and the target
    assert "<script>alert" not in page
    assert "e" * 119 + "…" in page  # the error, cut at 120
    assert "1 call (400)" in page
    assert re.search(r'<span class="badge">tenant</span> c-9\s*</td>', page)  # no name: the id
    assert "Showing entries #2 to #1." in page

    response = admin_client.get(reverse("audit:list"), {"actor": HOSTILE}, HTTP_HX_REQUEST="true")
    rows = response.content.decode()
    assert "<html" not in rows and "<form" not in rows
    assert rows.count('<table class="audit-table">') == 1
    assert "Showing entries #1 to #1 that match the filter." in rows
    assert HOSTILE_SHOWN in rows
    assert response["HX-Push-Url"].startswith(reverse("audit:list") + "?actor=")
    assert "HX-Request" in response["Vary"]


@pytest.mark.django_db
def test_audit_paging_links_keep_the_filter_and_follow_the_pages(admin_client):
    bulk_append(
        [dict(actor="bob", action="group.update") for _ in range(AUDIT_PAGE_SIZE + 5)]
        + [dict(actor="carol", action="group.update")]
    )
    first = admin_client.get(reverse("audit:list"), {"actor": "bob"}).content.decode()
    older = re.search(r'<a [^>]*href="([^"]+)" hx-get="\1"[^>]* rel="next">Older →</a>', first)
    assert older is not None and older[1] == "/audit/?actor=bob&amp;before=6"
    assert 'rel="prev"' not in first
    second = admin_client.get(html.unescape(older[1]), HTTP_HX_REQUEST="true").content.decode()
    assert "Showing entries #5 to #1 that match the filter." in second
    assert 'href="/audit/?actor=bob" hx-get="/audit/?actor=bob"' in second  # Newest
    assert 'href="/audit/?actor=bob&amp;after=5"' in second and 'rel="prev"' in second
    assert 'href="/audit/export.csv?actor=bob" download' in second


@pytest.mark.django_db
def test_audit_filter_errors_are_listed_escaped_instead_of_rows(admin_client):
    response = admin_client.get(
        reverse("audit:list"), {"since": "<b>soon</b>", "outcome": "x"}, HTTP_HX_REQUEST="true"
    )
    rows = response.content.decode()
    assert "The filter is not valid." in rows
    assert "<li>Outcome: Select a valid choice. x is not one of the available choices.</li>" in rows
    assert "<li>From: Enter a valid date.</li>" in rows
    assert "<table" not in rows and "<b>soon" not in rows
    assert "HX-Push-Url" not in response


@pytest.mark.django_db
def test_changeset_page_lists_its_steps_escaped(admin_client):
    from changes.models import ChangeStep

    changeset = Changeset.objects.create(
        kind="tenant.update", summary="s", requested_by="alice", status="planned"
    )
    ChangeStep.objects.bulk_create(
        [
            ChangeStep(
                changeset=changeset,
                position=1,
                kind="tenant.update",
                target="tenant:<b>Acme</b>",
                before={"name": "a<b"},
                after={"name": "x" * 200},
                call={"endpoint": "organization.update"},
                risky=True,
            ),
            ChangeStep(
                changeset=changeset,
                position=2,
                kind="login.routing.update",
                target="tenant:Beta",
                after={"description": "set <domains>"},
            ),
        ]
    )
    html = admin_client.get(reverse("changes:detail", args=[changeset.pk])).content.decode()
    assert html.count('<table class="change-steps">') == 1
    assert "2 steps: 2 planned." in html
    assert "tenant:&lt;b&gt;Acme&lt;/b&gt;" in html and "<b>Acme" not in html
    assert '<span class="badge badge-warn">risky</span>' in html
    assert "calls <code>organization.update</code>" in html
    assert "{&#39;name&#39;: &#39;a&lt;b&#39;}" in html  # the value before, as Django shows it
    assert "{&#39;name&#39;: &#39;" + "x" * 109 + "…" in html  # cut at 120 characters
    assert "set &lt;domains&gt;" in html and '<div class="hint">console only</div>' in html
    assert "No audit entry yet: nothing has been applied." in html
    assert 'id="progress"' not in html  # never queued for the worker: no progress to show


@pytest.fixture
def tenant_list(settings):
    """A tenant of the console with a hostile name, admin and domain; one created outside it; the
    platform company; and a failed tenant, as the server was last read."""
    settings.CLEARML_API_URL = "http://apiserver.invalid"
    hostile = Tenant.objects.create(name=HOSTILE, company_id="c-1", status="active")
    TenantAdmin.objects.create(tenant=hostile, name="A", email="a<b>@x.io")
    TenantAdmin.objects.create(tenant=hostile, name="Z", email="z@x.io")
    for position, domain in enumerate(("x.io", "y.io")):
        LoginDomain.objects.create(tenant=hostile, domain=domain, position=position)
    failed = Tenant.objects.create(name="Broken", company_id="c-2", status="failed")
    read_at = django_timezone.now() + timedelta(minutes=1)
    companies = [{"id": "c-1", "name": "x"}, {"id": "c-out", "name": "Outside"}]
    companies += [{"id": "c-platform", "name": "Platform"}]
    snapshot_store.snapshot_put(snapshot_store.COMPANIES, "", {"companies": companies}, read_at)
    snapshot_store.snapshot_put(
        snapshot_store.SERVER, "", {"platform_company": {"id": "c-platform"}}, read_at
    )
    snapshot_store.snapshot_put(
        snapshot_store.ROUTING, "c-1", {"domains": ["x.io"], "whitelist": ["w@x.io"]}
    )
    return {"hostile": hostile, "failed": failed}


@pytest.mark.django_db
def test_tenants_page_shows_its_rows_once_escaped_and_htmx_gets_the_rows_alone(
    admin_client, tenant_list
):
    page = admin_client.get(reverse("tenants:list")).content.decode()
    assert "<html" in page
    assert page.count('<table class="tenant-table">') == 1
    detail = reverse("tenants:detail", args=[tenant_list["hostile"].pk])
    assert f'<a class="cut" href="{detail}" title="{HOSTILE_SHOWN}">{HOSTILE_SHOWN}</a>' in page
    assert "<script>alert" not in page
    assert 'title="a&lt;b&gt;@x.io, z@x.io">a&lt;b&gt;@x.io</span>' in page  # admins
    assert '<span class="hint">+1</span>' in page  # the second domain
    assert "1 domain and 1 whitelisted email" in page and "Routing differs" in page
    failed = reverse("tenants:detail", args=[tenant_list["failed"].pk])
    assert f'<a class="button button-small" href="{failed}">Resume…</a>' in page
    assert "Platform company" in page and "Created outside the console" in page
    assert "4 tenants" in page

    response = admin_client.get(reverse("tenants:list"), {"q": "<script>"}, HTTP_HX_REQUEST="true")
    rows = response.content.decode()
    assert "<html" not in rows and 'role="search"' not in rows
    assert rows.count('<table class="tenant-table">') == 1
    assert "1 tenant matching “&lt;script&gt;”" in rows
    assert HOSTILE_SHOWN in rows and "Broken" not in rows
    assert "HX-Request" in response["Vary"]


@pytest.mark.django_db
def test_tenants_sort_and_page_links_keep_the_search(admin_client, tenant_list):
    for i in range(TENANTS_PER_PAGE):
        Tenant.objects.create(name=f"Tenant {i:02d} & co", company_id=f"c-t{i}", status="active")
    html = admin_client.get(reverse("tenants:list"), {"q": "&", "sort": "-name"}).content.decode()
    assert (
        '<th aria-sort="descending"><a class="sort" href="/tenants/?q=%26&amp;show=all&amp;'
        'sort=name" hx-get="/tenants/?q=%26&amp;show=all&amp;sort=name" hx-target="#tenant-rows" '
        'hx-push-url="true">Name ▼</a></th>'
    ) in html
    assert (
        '<th aria-sort="none"><a class="sort" href="/tenants/?q=%26&amp;show=all&amp;sort=sync"'
        in (html)
    )
    assert (
        '<a class="button button-small" href="/tenants/?q=%26&amp;show=all&amp;sort=-name&amp;'
        'page=2" hx-get="/tenants/?q=%26&amp;show=all&amp;sort=-name&amp;page=2" '
        'hx-target="#tenant-rows" hx-push-url="true" rel="next">Next →</a>'
    ) in html
    assert "Page 1 of 2" in html
    second = admin_client.get(
        reverse("tenants:list"), {"q": "&", "sort": "-name", "page": 2}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Page 2 of 2" in second and 'rel="prev">← Previous</a>' in second
    assert 'rel="next"' not in second
    assert "51 tenants matching “&amp;”" in second
    assert second.count("<tr>") == 2  # the heading and the 51st tenant


@pytest.mark.django_db
def test_tenants_import_form_carries_a_csrf_token_the_server_accepts(tenant_list):
    from console.signin import admin_user

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user(), backend="console.signin.AdminPasswordBackend")
    html = client.get(reverse("tenants:list")).content.decode()
    form = re.search(
        r'<form method="post" action="/tenants/import/">'
        r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)">\s*'
        r'<input type="hidden" name="company_id" value="c-out">',
        html,
    )
    assert form is not None
    assert html.count('name="csrfmiddlewaretoken"') >= 1
    url = reverse("tenants:import")
    assert client.post(url, {"company_id": "c-gone"}).status_code == 403  # no token
    answer = client.post(url, {"company_id": "c-gone", "csrfmiddlewaretoken": form[1]})
    assert answer.status_code == 302  # past the CSRF check: refused by name, not by CSRF
    assert answer["Location"] == reverse("tenants:list")


@pytest.mark.django_db
def test_the_jinja_tag_shows_a_list_inside_a_django_template_with_only_its_values():
    from console.audit import audit_for_target, audit_record

    audit_record(
        actor="<script>x</script>",
        action="tenant.update",
        target_type="tenant",
        target_id="t-1",
        before={"name": "a"},
        after={"name": "b"},
    )
    page = engines["django"].from_string(
        '{% load jinja_include %}<main>{% jinja "audit/slice.jinja" entries=entries %}'
        "{{ secret }}</main>"
    )
    html = page.render({"entries": audit_for_target("tenant", "t-1"), "secret": "kept-out"})
    assert html.startswith('<main><section class="card audit-slice">')
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>" not in html
    assert 'href="/audit/?target_type=tenant&amp;target=t-1"' in html
    assert html.endswith("kept-out</main>")  # the page's own value, outside the list
    assert html.count("kept-out") == 1


def test_a_misspelt_name_fails_the_test_that_renders_it():
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError):
        ours("{{ row.tenat_id }}", row=object())
