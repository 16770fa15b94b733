"""Races on PostgreSQL: the database, not the form, decides who gets a domain or an email.

Run with
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/pytest tests/test_routing_*.py
"""

import threading
import time

import pytest
from django.conf import settings
from django.db import connection

from console.validation import InvalidInput
from sso.models import LoginDomain, RoutingPushBatch, WhitelistEntry
from sso.routing.services import push_start, push_step, routing_save, routing_validate
from tenants.models import Tenant, TenantAdmin

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="needs PostgreSQL (set DATABASE_URL)",
    ),
]


def race(workers) -> dict:
    """Run each worker in its own thread (own connection), all released at once."""
    barrier = threading.Barrier(len(workers))
    results: dict = {}

    def run(name, work):
        try:
            results[name] = work(barrier)
        except InvalidInput as exc:
            results[name] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in workers.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def claim(tenant: Tenant, **lists):
    def work(barrier):
        routing = routing_validate(
            tenant_name=tenant.name,
            domains=lists.get("domains", []),
            admins=lists.get("admins", []),
            users=lists.get("users", []),
            path="login",
            tenant_id=tenant.pk,
        )
        barrier.wait(timeout=10)  # both have passed validation; now both save
        return routing_save(tenant=tenant, routing=routing, actor=f"admin of {tenant.name}")

    return work


@pytest.mark.parametrize(
    ("lists", "model", "field"),
    [
        ({"domains": ["Race.io"]}, LoginDomain, "domain"),
        ({"admins": ["Racer@Example.com"]}, WhitelistEntry, "email"),
    ],
)
def test_two_admins_racing_for_one_key_exactly_one_wins(lists, model, field):
    acme = Tenant.objects.create(name="Acme")
    beta = Tenant.objects.create(name="Beta")
    results = race({"Acme": claim(acme, **lists), "Beta": claim(beta, **lists)})
    assert len(results) == 2
    losers = {name: r for name, r in results.items() if isinstance(r, InvalidInput)}
    winners = [name for name in results if name not in losers]
    assert len(winners) == 1 and len(losers) == 1, results
    [(loser, error)] = losers.items()
    message = error.errors[0].message
    assert f"tenant '{winners[0]}'" in message and f"'{loser}'" in message
    assert model.objects.count() == 1
    assert model.objects.get().tenant.name == winners[0]


def test_two_pollers_never_send_the_same_batch_twice(sandbox_settings, sandbox):
    from console.apiserver import client_from_settings

    client = client_from_settings()
    company = client.call("system.create_company", {"name": "Acme"})["id"]
    user = client.call("auth.create_user", {"name": "A", "company": company, "email": "a@acme.io"})[
        "id"
    ]
    acme = Tenant.objects.create(name="Acme", company_id=company)
    TenantAdmin.objects.create(tenant=acme, name="A", email="a@acme.io", user_id=user)
    sandbox_settings.ROUTING_PUSH_BATCH_SIZE = 5
    WhitelistEntry.objects.bulk_create(
        WhitelistEntry(tenant=acme, email=f"u{i:02d}@acme.io") for i in range(40)
    )
    sandbox.latency_ms = 20
    job = push_start(tenant=acme, actor="admin", client=client)

    def poll(barrier):
        barrier.wait(timeout=10)
        mine = client_from_settings()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            current = push_step(type(job).objects.get(pk=job.pk), mine, budget_seconds=0.05)
            if current.status != "running":
                return current.status
            time.sleep(0.01)  # the other tab holds the job; poll again, as htmx would
        return "running"

    results = race({"tab 1": poll, "tab 2": poll})
    assert set(results.values()) == {"done"}
    sent = [r for r in sandbox.requests if r["endpoint"] == "login.add_whitelist_entries"]
    emails = [e for r in sent for e in r["body"]["emails"]]
    assert len(emails) == 40 and len(set(emails)) == 40  # every batch sent exactly once
    assert RoutingPushBatch.objects.filter(job=job, status="applied").count() == 8
