"""A bulk routing import's push of more than a few calls runs on the background worker
(changes/background.py, docs/worker.md): queued from the import's "save and push", followed live
by the push page (htmx polling) across reloads, a failure shown with Retry, and a worker killed
mid-push resumed from the push's journal without sending a batch twice. The sandbox over real
HTTP; the last test runs real `manage.py worker` processes (helpers of tests/test_worker.py)."""

import re
import signal

import pytest
from django.test import override_settings
from django.urls import reverse

from changes.background import BACKGROUND_STEPS, background_run, routing_push_begin
from changes.models import BackgroundApply, Changeset
from changes.routing import routing_import_check, routing_import_save
from console.apiserver import client_from_settings
from sso.models import RoutingImport, RoutingPushJob
from tenants.models import Tenant, TenantAdmin
from tests.test_worker import (  # noqa: F401 - the worker tests' fixtures, used here too
    file_db,
    migrated_file,
    wait_until,
    workers,
)

ACTOR = "admin (local)"
HTMX = {"HX-Request": "true"}
BATCH = 2  # emails per login.* call, so a few dozen emails make more than BACKGROUND_STEPS calls


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def live_tenant(name: str = "Acme Research") -> Tenant:
    client = client_from_settings()
    company = client.call("system.create_company", {"name": name})["id"]
    user = client.call(
        "auth.create_user",
        {"name": "Alice", "company": company, "email": "alice@acme.io", "role": "admin"},
    )["id"]
    tenant = Tenant.objects.create(name=name, company_id=company, status="active")
    TenantAdmin.objects.create(tenant=tenant, name="Alice", email="alice@acme.io", user_id=user)
    return tenant


def csv_of(count: int) -> str:
    return "email,is_admin\n" + "".join(f"u{i:03d}@acme.io,false\n" for i in range(count))


def import_and_push_page(admin_client, tenant: Tenant, count: int):
    """Upload `count` emails, save the import with "and push"; the push page's answer."""
    url = reverse("sso:routing_import", args=[tenant.pk])
    admin_client.post(url, {"text": csv_of(count), "role_mode": "column"})
    draft = RoutingImport.objects.latest("pk")
    save = reverse("sso:routing_import_save", args=[tenant.pk, draft.pk])
    return admin_client.post(save, {"push": "1"})


def background_of(job: RoutingPushJob) -> BackgroundApply:
    return BackgroundApply.objects.get(changeset_id=int(job.changeset))


def added_emails(sandbox) -> list[str]:
    sent = [r for r in sandbox.requests if r["endpoint"] == "login.add_whitelist_entries"]
    return [e for r in sent for e in (r["body"] or {}).get("emails", [])]


@pytest.mark.django_db(transaction=True)
def test_a_large_import_push_is_queued_and_the_page_follows_the_worker(
    admin_client, sandbox, sandbox_settings
):
    sandbox_settings.ROUTING_PUSH_BATCH_SIZE = BATCH
    tenant = live_tenant()
    count = BATCH * (BACKGROUND_STEPS + 1)  # one call more than a page sends itself
    response = import_and_push_page(admin_client, tenant, count)
    job = RoutingPushJob.objects.get(tenant=tenant)
    page_url = reverse("sso:routing_push_job", args=[tenant.pk, job.pk])
    assert response["Location"] == page_url
    assert background_of(job).status == "queued"
    assert added_emails(sandbox) == []  # nothing sent in the request

    page = text(admin_client.get(page_url))
    assert "Queued for the background worker" in page
    assert f'hx-get="{page_url}" hx-trigger="every 1s"' in page  # follows, never sends
    assert "hx-post" not in page
    # A poll of the step URL (an old tab) does not send the worker's push.
    admin_client.post(reverse("sso:routing_push_step", args=[tenant.pk, job.pk]), headers=HTMX)
    assert added_emails(sandbox) == []

    assert background_run(int(job.changeset)) == "done"  # what the worker's task runs
    fragment = text(admin_client.get(page_url, headers=HTMX))  # the next poll, or a reload
    assert "Done: the server's routing matches the console's" in fragment
    assert "hx-trigger" not in fragment  # finished: polling stops
    assert f"{BACKGROUND_STEPS + 1} of {BACKGROUND_STEPS + 1} calls applied" in fragment
    on_server = sandbox.login_settings(tenant.company_id)["whitelist"]
    assert len(on_server) == count and sorted(added_emails(sandbox)) == sorted(
        e["email"] for e in on_server
    )
    assert Changeset.objects.get(pk=int(job.changeset)).status == "applied"
    changes_page = text(admin_client.get(reverse("changes:detail", args=[int(job.changeset)])))
    assert 'id="progress"' in changes_page  # the changeset's page shows the worker's run too


@pytest.mark.django_db(transaction=True)
def test_a_small_import_push_is_still_sent_by_the_page(admin_client, sandbox, sandbox_settings):
    sandbox_settings.ROUTING_PUSH_BATCH_SIZE = BATCH
    tenant = live_tenant()
    import_and_push_page(admin_client, tenant, BATCH * BACKGROUND_STEPS)
    job = RoutingPushJob.objects.get(tenant=tenant)
    assert not BackgroundApply.objects.exists()
    page = text(admin_client.get(reverse("sso:routing_push_job", args=[tenant.pk, job.pk])))
    assert "hx-post" in page and "every 1s" not in page


@pytest.mark.django_db(transaction=True)
def test_a_failed_background_push_shows_its_error_and_retry_resumes_it(
    admin_client, sandbox, sandbox_settings
):
    sandbox_settings.ROUTING_PUSH_BATCH_SIZE = BATCH
    tenant = live_tenant()
    count = BATCH * (BACKGROUND_STEPS + 2)
    import_and_push_page(admin_client, tenant, count)
    job = RoutingPushJob.objects.get(tenant=tenant)
    sandbox.fail_next("login.add_whitelist_entries", status=400, message="quota exceeded")
    assert background_run(int(job.changeset)) == "failed"
    assert "quota exceeded" in background_of(job).error

    page_url = reverse("sso:routing_push_job", args=[tenant.pk, job.pk])
    page = text(admin_client.get(page_url))  # a reload shows the failure
    assert "Stopped part-way" in page and "quota exceeded" in page
    assert ">Retry</button>" in page and "hx-trigger" not in page

    response = admin_client.post(reverse("sso:routing_push", args=[tenant.pk]))  # Retry
    assert response["Location"] == page_url  # the same push, queued again
    assert background_of(job).status == "queued"
    assert background_run(int(job.changeset)) == "done"
    job.refresh_from_db()
    assert job.status == "done" and job.resumes == 1
    emails = added_emails(sandbox)
    assert len(emails) == len(set(emails)) == count  # the refused batch only, sent again
    assert background_of(job).attempts == 2


def test_a_worker_killed_mid_push_is_resumed_and_no_batch_is_sent_twice(
    sandbox,
    file_db,  # noqa: F811 - the fixture imported above
):
    with override_settings(ROUTING_PUSH_BATCH_SIZE=BATCH):
        tenant = live_tenant()
        count = BATCH * (BACKGROUND_STEPS + 3)
        check, draft = routing_import_check(
            tenant=tenant, text=csv_of(count), role_mode="column", actor=ACTOR, source="hr.csv"
        )
        routing_import_save(draft=draft, actor=ACTOR)
        job = routing_push_begin(tenant=tenant, actor=ACTOR)
    assert background_of(job).status == "queued"
    sandbox.latency_ms = 1500  # a batch is in flight when the worker is killed, and lands after
    env = {**file_db, "CLEARML_API_TIMEOUT": "3"}

    with workers(env) as [first]:
        assert wait_until(lambda: "login.add_whitelist_entries" in sandbox.calls, 20)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert background_of(job).status == "running"  # left behind by the dead worker
    sandbox.latency_ms = 0

    with workers(env):
        assert wait_until(lambda: background_of(job).status == "done", 40), background_of(job).error
    job.refresh_from_db()
    assert job.status == "done" and job.resumes == 1
    assert background_of(job).attempts == 2
    emails = added_emails(sandbox)
    assert len(emails) == len(set(emails)) == count  # the batch in flight was not sent again
    on_server = sandbox.login_settings(tenant.company_id)["whitelist"]
    assert len(on_server) == count
    assert Changeset.objects.get(pk=int(job.changeset)).status == "applied"
