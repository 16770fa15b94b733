"""Usage and cost reports against the sandbox's metering stand-in over real HTTP: the stored
report's numbers are the sums of the metering answer, the downloads round-trip, the page reads
only stored data (it renders with the metering service stopped), faults are shown plainly, and
`usage_report` exits 0/1/2 as documented."""

import csv
import io
import json
import subprocess
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from console.apiserver.session import thread_session
from console.metering.answer import CategoryUsage, TenantUsage
from console.metering.models import UsageReport
from console.metering.store import report_save
from console.periodic import periodic_jobs
from tenants.models import Tenant

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
RANGE = {"from": "2026-01-20", "to": "2026-01-26"}


def point_at(settings, server):
    settings.CLEARML_METERING_URL = server.url + "/metering"
    settings.CLEARML_METERING_KEY = server.key
    settings.CLEARML_METERING_SECRET = server.secret


@pytest.fixture
def metering(settings, sandbox):
    point_at(settings, sandbox)
    acme = sandbox.seed_company("Acme")
    sandbox.seed_user(acme, "ann@acme.io")
    sandbox.seed_user(acme, "bob@acme.io", role="user")
    beta = sandbox.seed_company("Beta")
    for n in range(4):
        sandbox.seed_user(beta, f"u{n}@beta.io", role="user")
    Tenant.objects.create(name="Acme", company_id=acme)
    return sandbox


def the_answer(sandbox) -> list[dict]:
    body = {"from_date": RANGE["from"], "to_date": RANGE["to"]}
    answer = requests.post(
        sandbox.url + "/metering/get_usages", json=body, auth=(sandbox.key, sandbox.secret)
    )
    assert answer.status_code == 200
    return answer.json()["tenants"]


def fetch(client):
    return client.post("/usage/fetch/", RANGE, follow=True)


def test_the_reports_numbers_are_the_sums_of_the_metering_answer(admin_client, metering):
    fetch(admin_client)
    call = [r for r in metering.requests if r["endpoint"] == "metering.get_usages"][-1]
    assert call["body"] == {
        "from_date": "2026-01-20",
        "to_date": "2026-01-26",
        "include_labels": True,
    }
    answer = the_answer(metering)
    assert len(answer) == 2
    view = admin_client.get("/usage/", RANGE).context["view"]
    assert view.totals == {"USD": pytest.approx(sum(t["total_cost"] for t in answer))}
    by_id = {row.tenant_id: row for row in view.tenants}
    for tenant in answer:
        row = by_id[tenant["tenant"]]
        assert row.total_cost == tenant["total_cost"]
        assert row.categories == {
            name: cat["total_cost"] for name, cat in tenant["categories"].items()
        }
    assert {row.label for row in view.tenants} >= {"Acme"}  # a console tenant by its name
    assert view.top[0].total_cost == max(t["total_cost"] for t in answer)
    (series,) = view.series
    daily = defaultdict(lambda: defaultdict(float))
    for tenant in answer:
        for name, cat in tenant["categories"].items():
            for day, cost in zip(cat["dates"], cat["costs"], strict=True):
                daily[name][day] += cost
    assert series.dates == sorted(daily["compute"])
    for name in series.categories:
        assert series.costs[name] == pytest.approx([daily[name][d] for d in series.dates])


def test_the_csv_download_round_trips_to_the_answer(admin_client, metering):
    fetch(admin_client)
    response = admin_client.get("/usage/download.csv", RANGE)
    assert response["Content-Disposition"] == (
        'attachment; filename="usage-2026-01-20-2026-01-26.csv"'
    )
    text = response.content.decode()
    assert text.splitlines()[0] == "tenant,category,total_usage,total_cost,currency"
    rows = list(csv.DictReader(io.StringIO(text)))
    names = {t.company_id: t.name for t in Tenant.objects.all()}
    expected = {
        (names.get(t["tenant"], t["tenant"]), name): (cat["total_usage"], cat["total_cost"])
        for t in the_answer(metering)
        for name, cat in t["categories"].items()
    }
    got = {
        (r["tenant"], r["category"]): (float(r["total_usage"]), float(r["total_cost"]))
        for r in rows
    }
    assert got == expected
    assert {r["currency"] for r in rows} == {"USD"}
    document = json.loads(admin_client.get("/usage/download.json", RANGE).content)
    assert [t["total_cost"] for t in document["tenants"]] == [
        row.total_cost for row in admin_client.get("/usage/", RANGE).context["view"].tenants
    ]


def test_the_page_shows_stored_usage_with_the_metering_service_stopped(
    admin_client, settings, make_sandbox
):
    server = make_sandbox()
    point_at(settings, server)
    server.seed_company("Gamma")
    fetch(admin_client)
    server.close()
    thread_session().close()  # the stopped sandbox's kept-alive connection would still answer
    page = admin_client.get("/usage/", RANGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'role="img"' in html and "<desc" in html and "The chart&#x27;s data" not in html
    assert "The chart's data as a table" in html
    assert page.context["view"].tenants[0].total_cost > 0
    again = fetch(admin_client).content.decode()
    assert "Could not read usage" in again and "cannot connect" in again
    report = UsageReport.objects.get()
    assert report.error_kind == "cannot connect" and report.tenants.count() == 1


def test_a_server_without_metering_is_said_plainly_and_the_rest_works(admin_client, metering):
    metering.fail_next("metering.get_usages", status=404, message="not supported")
    html = fetch(admin_client).content.decode()
    assert "not supported" in html
    assert admin_client.get("/usage/aggregator/").status_code == 200
    assert admin_client.get("/tenants/").status_code == 200


def test_without_metering_settings_the_page_and_command_say_how_to_enable(admin_client, settings):
    settings.CLEARML_METERING_URL = ""
    html = admin_client.get("/usage/").content.decode()
    assert "CLEARML_METERING_URL" in html and "Metering is not set up" in html
    with pytest.raises(CommandError) as failed:
        call_command("usage_report", "--from", "2026-01-01", "--to", "2026-01-02")
    assert failed.value.returncode == 1 and "CLEARML_METERING_URL" in str(failed.value)


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ({"from": "2026-02-30", "to": "2026-03-01"}, "from", "'2026-02-30'"),
        ({"from": "2026-03-01", "to": "yesterday"}, "to", "'yesterday'"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "to", "'2026-03-01'"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "to", "'2026-01-01'"),
    ],
)
def test_a_bad_range_names_the_field_and_the_value(admin_client, query, field, value):
    page = admin_client.get("/usage/", query)
    assert page.status_code == 400
    assert page.context["errors"][field].startswith(f"{field} {value}")
    download = admin_client.get("/usage/download.csv", query)
    assert download.status_code == 400 and f"{field} {value}" in download.content.decode()


def test_the_command_prints_csv_and_json(metering, capsys):
    call_command("usage_report", "--from", RANGE["from"], "--to", RANGE["to"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "tenant,category,total_usage,total_cost,currency"
    assert len(lines) == 1 + 2 * 3  # two tenants, three categories each
    call_command("usage_report", "--from", RANGE["from"], "--to", RANGE["to"], "--format", "json")
    document = json.loads(capsys.readouterr().out)
    answer = the_answer(metering)
    assert sorted(t["total_cost"] for t in document["tenants"]) == sorted(
        t["total_cost"] for t in answer
    )


def test_the_command_exits_1_when_metering_is_unreachable(settings, make_sandbox):
    server = make_sandbox()
    point_at(settings, server)
    server.close()
    thread_session().close()
    with pytest.raises(CommandError) as failed:
        call_command("usage_report", "--from", RANGE["from"], "--to", RANGE["to"])
    assert failed.value.returncode == 1 and "cannot connect" in str(failed.value)


def test_the_command_exits_2_naming_a_bad_date():
    done = subprocess.run(
        [sys.executable, "manage.py", "usage_report", "--from", "2026-13-01", "--to", "2026-01-02"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "from '2026-13-01' is not a date" in done.stderr


def test_the_worker_job_fetches_the_last_30_days_replacing_yesterdays(admin_client, metering):
    yesterdays = report_save(
        from_date=date(2025, 1, 1), to_date=date(2025, 1, 30), tenants=[], names={}, rolling=True
    )
    fetch(admin_client)  # a range someone asked for stays
    job = {j.name: j for j in periodic_jobs()}["usage.fetch"]
    assert job.interval_seconds() == 3600
    assert job.run().startswith("2 tenant(s)")
    rolling = UsageReport.objects.get(rolling=True)
    assert (rolling.to_date - rolling.from_date).days == 29
    assert rolling.tenants.count() == 2
    assert not UsageReport.objects.filter(pk=yesterdays.pk).exists()
    assert UsageReport.objects.filter(from_date=date(2026, 1, 20)).exists()


def test_an_answer_that_is_not_a_metering_answer_is_refused_and_kept_apart(admin_client, metering):
    fetch(admin_client)
    metering.fail_next("metering.get_usages", status=200, raw="<html>proxy login</html>")
    html = fetch(admin_client).content.decode()
    assert "malformed response" in html and "the answer is not a JSON object" in html
    report = UsageReport.objects.get()
    assert report.error_kind == "malformed response" and report.tenants.count() == 2


def queries_of_the_page(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/usage/", RANGE).status_code == 200
    return len(queries)


def test_the_page_reads_the_same_few_queries_for_many_tenants(admin_client, metering):
    fetch(admin_client)
    few = queries_of_the_page(admin_client)
    for n in range(40):
        metering.seed_company(f"Extra {n}")
    fetch(admin_client)
    assert queries_of_the_page(admin_client) == few <= 12
    assert len(admin_client.get("/usage/", RANGE).context["view"].tenants) == 42


def test_names_from_the_metering_service_are_escaped_in_the_chart_and_tables(admin_client):
    hostile = '<script>alert("x")</script>'
    usage = TenantUsage(
        tenant=hostile,
        currency='"><svg onload=alert(1)>',
        total_cost=3.0,
        categories=[
            CategoryUsage(hostile, "", 1.0, 3.0, ["2026-01-20"], [1.0], [3.0]),
        ],
    )
    report_save(from_date=date(2026, 1, 20), to_date=date(2026, 1, 26), tenants=[usage], names={})
    html = admin_client.get("/usage/", RANGE).content.decode()
    assert "<script>alert" not in html and "<svg onload" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
