"""The Audit page (filters over htmx, keyset pages), the entry page and the streamed exports."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from console.audit import AuditEntry, audit_for_target, audit_record
from console.audit.bulk import bulk_append
from console.audit.queries import AuditFilter, audit_page

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
DAY = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def log():
    """Six entries over three days, of different actors, actions, targets and outcomes."""
    rows = [
        dict(actor="admin", action="tenant.create", target_type="tenant", target_id="c-1",
             target_repr="Acme Research", after={"name": "Acme Research"}, created_at=DAY),
        dict(actor="admin", action="login.domains.set", target_type="tenant", target_id="c-1",
             target_repr="Acme Research", before={"domains": []}, after={"domains": ["acme.io"]},
             calls=[{"endpoint": "login.set_domains", "status": 200, "trx": "trx-aaa111"}],
             created_at=DAY + timedelta(hours=1)),
        dict(actor="cli:ops", action="tenant.create", target_type="tenant", target_id="c-2",
             target_repr="Globex", outcome="failure", error="company name already exists",
             calls=[{"endpoint": "system.create_company", "status": 400,
                     "result_msg": "name exists", "trx": "trx-bbb222"}],
             created_at=DAY + timedelta(days=1)),
        dict(actor="cli:ops", action="group.update", target_type="group", target_id="g-1",
             target_repr="data_scientists", before={"features": ["a"]},
             after={"features": ["a", "b"]}, created_at=DAY + timedelta(days=1, hours=2)),
        dict(actor="admin", action="idp.update", target_type="idp", target_id="keycloak",
             target_repr="Keycloak", before={"client_secret": "Zq81PlmN7vbT42xR"},
             after={"client_secret": "Rm29WksY6hcU03aQ", "client_id": "clearml"},
             outcome="refused", error="edited by someone else", created_at=DAY + timedelta(days=2)),
        dict(actor="admin", action="tenant.delete", target_type="tenant", target_id="c-2",
             target_repr="Globex", outcome="pending", created_at=DAY + timedelta(days=2, hours=3),
             request_id="req-42"),
    ]  # fmt: skip
    bulk_append(rows)
    return rows


def seqs(response) -> list[int]:
    """The entry numbers listed in a response, top to bottom."""
    import re

    return [int(n) for n in re.findall(r'href="/audit/(\d+)/"', response.content.decode())]


def test_the_full_page_lists_newest_first_with_the_filter_form(admin_client, log):
    response = admin_client.get(reverse("audit:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and 'role="search"' in html
    assert seqs(response) == [6, 5, 4, 3, 2, 1]
    assert 'hx-get="/audit/"' in html and 'hx-target="#audit-rows"' in html
    assert 'hx-push-url="true"' in html
    assert "no-cache" in response["Cache-Control"]


def test_an_htmx_request_gets_only_the_rows_fragment(admin_client, log):
    response = admin_client.get(reverse("audit:list"), {"actor": "cli:ops"}, **HTMX)
    html = response.content.decode()
    assert "<html" not in html and "<form" not in html
    assert seqs(response) == [4, 3]
    assert "HX-Request" in response["Vary"]


def test_the_address_bar_gets_the_filter_without_empty_fields(admin_client, log):
    params = {"actor": "cli:ops", "action": "", "q": "", "outcome": "", "before": "5"}
    response = admin_client.get(reverse("audit:list"), params, **HTMX)
    assert response["HX-Push-Url"] == "/audit/?actor=cli%3Aops&before=5"
    assert seqs(response) == [4, 3]


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_HX_REQUEST": "true", "HTTP_HX_BOOSTED": "true"},
        {"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"},
    ],
    ids=["boosted", "history-restore"],
)
def test_boosted_and_history_restore_requests_get_the_full_page(admin_client, log, headers):
    response = admin_client.get(reverse("audit:list"), **headers)
    assert "<html" in response.content.decode()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"actor": "admin"}, [6, 5, 2, 1]),
        ({"actor": "cli:ops"}, [4, 3]),
        ({"actor": "nobody"}, []),
        ({"action": "tenant.create"}, [3, 1]),
        ({"action": "tenant.*"}, [6, 3, 1]),
        ({"target_type": "group"}, [4]),
        ({"target": "c-1"}, [2, 1]),
        ({"target": "globex"}, [6, 3]),
        ({"target_type": "tenant", "target": "c-2"}, [6, 3]),
        ({"outcome": "failure"}, [3]),
        ({"outcome": "refused"}, [5]),
        ({"outcome": "pending"}, [6]),
        ({"since": "2025-03-11"}, [6, 5, 4, 3]),
        ({"until": "2025-03-10"}, [2, 1]),
        ({"since": "2025-03-11", "until": "2025-03-11"}, [4, 3]),
        ({"since": "2030-01-01"}, []),
        ({"until": "2020-01-01"}, []),
        ({"q": "already exists"}, [3]),
        ({"q": "TRX-BBB"}, [3]),
        ({"q": "login.set_domains"}, [2]),
        ({"q": "acme"}, [2, 1]),
        ({"q": "someone else"}, [5]),
        ({"request_id": "req-42"}, [6]),
        ({"actor": "admin", "action": "tenant.*", "since": "2025-03-11"}, [6]),
    ],
)
def test_filters_narrow_the_list(admin_client, log, params, expected):
    response = admin_client.get(reverse("audit:list"), params, **HTMX)
    assert response.status_code == 200
    assert seqs(response) == expected
    if not expected:
        assert "No entries match the filter." in response.content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "yesterday"}, "From: Enter a valid date."),
        ({"since": "2025-03-12", "until": "2025-03-10"}, "To: The end date is before the start"),
        ({"outcome": "maybe"}, "Outcome: Select a valid choice."),
    ],
)
def test_an_invalid_filter_is_explained_and_lists_nothing(admin_client, log, params, message):
    response = admin_client.get(reverse("audit:list"), params, **HTMX)
    html = response.content.decode()
    assert message in html
    assert seqs(response) == []


def test_export_links_carry_the_current_filter(admin_client, log):
    response = admin_client.get(reverse("audit:list"), {"actor": "cli:ops", "q": "x y"}, **HTMX)
    html = response.content.decode()
    assert 'href="/audit/export.csv?actor=cli%3Aops&amp;q=x+y"' in html
    assert 'href="/audit/export.jsonl?actor=cli%3Aops&amp;q=x+y"' in html


def many(n: int) -> None:
    bulk_append(
        {"actor": "admin", "action": "group.update", "target_type": "group", "target_id": str(i)}
        for i in range(n)
    )


def test_pages_go_older_and_newer_by_entry_number(admin_client):
    many(120)
    first = admin_client.get(reverse("audit:list"), **HTMX)
    assert seqs(first) == list(range(120, 70, -1))
    html = first.content.decode()
    assert 'href="/audit/?before=71"' in html and "Newer" not in html

    second = admin_client.get(reverse("audit:list"), {"before": 71}, **HTMX)
    assert seqs(second) == list(range(70, 20, -1))
    html = second.content.decode()
    assert 'href="/audit/?after=70"' in html and 'href="/audit/?before=21"' in html
    assert 'hx-get="/audit/?before=21"' in html

    last = admin_client.get(reverse("audit:list"), {"before": 21}, **HTMX)
    assert seqs(last) == list(range(20, 0, -1))
    assert "Older" not in last.content.decode()

    back = admin_client.get(reverse("audit:list"), {"after": 20}, **HTMX)
    assert seqs(back) == list(range(70, 20, -1))
    newest = admin_client.get(reverse("audit:list"), {"after": 100}, **HTMX)
    assert seqs(newest) == list(range(120, 70, -1))


def test_pages_keep_the_filter(admin_client):
    many(60)
    bulk_append(
        {"actor": "cli:ops", "action": "group.update", "target_type": "group"} for _ in range(60)
    )
    page = audit_page(AuditFilter(actor="admin"), size=50)
    assert page.entries[0].seq == 60 and page.older == 11
    response = admin_client.get(reverse("audit:list"), {"actor": "admin"}, **HTMX)
    assert 'href="/audit/?actor=admin&amp;before=11"' in response.content.decode()


def test_the_list_costs_the_same_few_queries_however_many_entries(
    admin_client, django_assert_max_num_queries
):
    many(300)
    with django_assert_max_num_queries(6):
        admin_client.get(reverse("audit:list"), {"actor": "admin", "since": "2000-01-01"}, **HTMX)


def test_the_entry_page_shows_the_diff_and_the_apiserver_calls(admin_client, log):
    response = admin_client.get(reverse("audit:detail", args=[2]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "login.domains.set" in html
    assert '<td class="diff-del">[]</td>' in html
    assert '<td class="diff-add">[&quot;acme.io&quot;]</td>' in html
    assert "<code>login.set_domains</code>" in html and "trx-aaa111" in html
    assert 'href="/audit/?target_type=tenant&amp;target=c-1"' in html


def test_the_entry_page_shows_secret_markers_not_secrets(admin_client, log):
    html = admin_client.get(reverse("audit:detail", args=[5])).content.decode()
    assert "•••• (set)" in html and "•••• (changed)" in html
    assert "Zq81PlmN7vbT42xR" not in html and "Rm29WksY6hcU03aQ" not in html
    assert "edited by someone else" in html


def test_the_entry_page_links_the_entries_of_the_same_request(admin_client, log):
    html = admin_client.get(reverse("audit:detail", args=[6])).content.decode()
    assert 'href="/audit/?request_id=req-42"' in html


def test_an_unknown_entry_is_404(admin_client, log):
    assert admin_client.get(reverse("audit:detail", args=[999])).status_code == 404


def content(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_csv_export_streams_the_filtered_entries_oldest_first(admin_client, log):
    response = admin_client.get(reverse("audit:export", args=["csv"]), {"actor": "admin"})
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.DictReader(io.StringIO(content(response))))
    assert [int(r["seq"]) for r in rows] == [1, 2, 5, 6]
    assert rows[1]["action"] == "login.domains.set"
    assert json.loads(rows[1]["after"]) == {"domains": ["acme.io"]}
    assert json.loads(rows[1]["calls"])[0]["trx"] == "trx-aaa111"
    assert rows[2]["changed_fields"] == "client_secret; client_id"
    assert rows[0]["entry_hash"] == AuditEntry.objects.get(seq=1).entry_hash


def test_jsonl_export_has_one_json_object_per_entry(admin_client, log):
    response = admin_client.get(reverse("audit:export", args=["jsonl"]), {"outcome": "failure"})
    assert response["Content-Type"].startswith("application/x-ndjson")
    lines = content(response).splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["seq"] == 3 and entry["error"] == "company name already exists"
    assert entry["calls"][0]["result_msg"] == "name exists"
    assert entry["created_at"] == "2025-03-11T12:00:00.000000+00:00"


def test_exports_hold_no_secret(admin_client, log):
    for fmt in ("csv", "jsonl"):
        text = content(admin_client.get(reverse("audit:export", args=[fmt])))
        assert "Zq81PlmN7vbT42xR" not in text and "Rm29WksY6hcU03aQ" not in text


def test_csv_cells_that_a_spreadsheet_would_run_are_defused(admin_client):
    audit_record(actor="admin", action="tenant.create", target_type="tenant",
                 target_repr='=HYPERLINK("http://evil")')  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(content(admin_client.get("/audit/export.csv")))))
    assert rows[0]["target_repr"] == '\'=HYPERLINK("http://evil")'


def test_an_export_with_a_bad_filter_is_refused(admin_client):
    response = admin_client.get("/audit/export.csv", {"since": "soon"})
    assert response.status_code == 400
    assert b"since: Enter a valid date." in response.content


def test_an_unknown_export_format_is_404(admin_client):
    assert admin_client.get("/audit/export.xml").status_code == 404


def test_export_memory_stays_flat_as_the_log_grows(admin_client):
    """Streaming holds one chunk at a time: four times the rows must not need more memory."""
    import tracemalloc

    def peak_while_streaming() -> int:
        response = admin_client.get("/audit/export.jsonl")
        tracemalloc.start()
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return lines, peak

    many(4000)
    lines_small, peak_small = peak_while_streaming()
    many(12000)
    lines_big, peak_big = peak_while_streaming()
    assert (lines_small, lines_big) == (4000, 16000)
    assert peak_big < peak_small * 1.5 + 200_000, (peak_small, peak_big)


def test_the_slice_partial_shows_one_objects_recent_entries(log):
    html = render_to_string("audit/slice.jinja", {"entries": audit_for_target("tenant", "c-1")})
    assert "login.domains.set" in html and "tenant.create" in html
    assert 'href="/audit/2/"' in html and 'href="/audit/1/"' in html
    assert "group.update" not in html
    assert 'href="/audit/?target_type=tenant&amp;target=c-1"' in html
    empty = render_to_string("audit/slice.jinja", {"entries": audit_for_target("tenant", "none")})
    assert "No audit entries yet." in empty


def test_the_audit_page_is_in_the_navigation(admin_client):
    html = admin_client.get("/").content.decode()
    assert 'href="/audit/"' in html
