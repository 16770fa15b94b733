"""The tenant page's own Apply/Resume (`/tenants/<id>/apply/`) and the background worker
(changes/background.py): a large changeset that makes credentials is applied in the request (its
secret is shown once, there); a large one that makes none is queued, like the changes page does.
The sandbox over real HTTP."""

import pytest
from django.urls import reverse

from changes.background import BACKGROUND_STEPS, background_run
from changes.models import BackgroundApply, Changeset
from changes.tenant_input import validate_tenant_entry
from changes.tenants import tenant_create

ACTOR = "admin (local)"
USERS = [f"u{i}@acme.io" for i in range(BACKGROUND_STEPS + 1)]


@pytest.mark.django_db(transaction=True)
def test_a_large_resume_without_credentials_is_queued_and_one_with_them_is_not(
    admin_client, sandbox, sandbox_settings
):
    sandbox_settings.ROUTING_PUSH_BATCH_SIZE = 1  # one login.* call per whitelisted email
    data = validate_tenant_entry(
        {
            "name": "Acme Research",
            "admins": [{"name": "Alice", "email": "alice@acme.io"}],
            "login": {"domains": ["acme.io"], "whitelist": {"users": USERS}},
        },
        require_admin=True,
    )
    changeset, tenant = tenant_create(data=data, actor=ACTOR)
    assert changeset.steps.count() > BACKGROUND_STEPS
    apply_url = reverse("tenants:apply", args=[tenant.pk])

    # More than BACKGROUND_STEPS calls, but one makes credentials: applied in the request, whose
    # answer shows the new secret once. The routing's first call is refused.
    sandbox.fail_next("login.set_domains", status=400, message="domain refused for now")
    response = admin_client.post(apply_url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "domain refused for now" in page and "Secret key" in page
    assert not BackgroundApply.objects.exists()
    assert sandbox.calls.count("auth.create_credentials") == 1

    # Resume: the refused call and one per email are left, none makes credentials: queued.
    sent = len(sandbox.requests)
    response = admin_client.post(apply_url)
    assert response.status_code == 302
    assert response["Location"] == reverse("changes:detail", args=[changeset.pk])
    assert BackgroundApply.objects.get(changeset=changeset).status == "queued"
    assert len(sandbox.requests) == sent  # nothing sent in the request
    page = admin_client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' in page and "Queued: the worker applies it" in page
    assert admin_client.post(apply_url).status_code == 302  # pressed again: the same run
    assert BackgroundApply.objects.count() == 1

    assert background_run(changeset.pk) == "done"  # what the worker's task runs
    changeset.refresh_from_db()
    tenant.refresh_from_db()
    assert changeset.status == Changeset.Status.APPLIED and tenant.status == "active"
    on_server = sandbox.login_settings(tenant.company_id)
    assert on_server["domains"] == ["acme.io"]
    assert sorted(e["email"] for e in on_server["whitelist"]) == sorted(USERS)
    assert sandbox.calls.count("auth.create_credentials") == 1
