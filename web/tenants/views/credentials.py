"""New credentials for a tenant admin, shown once with ready clearml.conf / agent Helm snippets
and the tenant's onboarding kit with the new key pair in its Secret.

The secret travels from the apiserver's answer to this response and nowhere else: not the
session, the database, the audit log or the logs. The response is `Cache-Control: no-store`.
"""

import json

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from changes import tenants as tenant_changes
from console.audit import actor_for_request
from console.ids import parse_id
from tenants.models import TenantAdmin
from tenants.onboarding import server_urls
from tenants.provisioning.engine import TenantBusy, latest_run_steps
from tenants.services import NotAllowed
from web.tenants.views.common import get_tenant, no_store, render_page, step_rows
from web.tenants.views.onboarding import kit_for_card


@sensitive_variables("key", "secret")
def clearml_conf(key: str, secret: str, urls: dict) -> str:
    q = json.dumps
    return (
        "api {\n"
        f"    web_server: {urls['web']}\n"
        f"    api_server: {urls['api']}\n"
        f"    files_server: {urls['files']}\n"
        "    credentials {\n"
        f'        "access_key" = {q(key)}\n'
        f'        "secret_key" = {q(secret)}\n'
        "    }\n"
        "}\n"
    )


@sensitive_variables("key", "secret")
def agent_helm_values(key: str, secret: str, urls: dict) -> str:
    """clearml-agent chart values for an agent of this tenant (the ClearML docs page Multi-Tenant
    Service on Kubernetes, “Workers”)."""
    q = json.dumps
    return (
        "# clearml-agent-values.override.yaml\n"
        "clearml:\n"
        f"  agentk8sglueKey: {q(key)}\n"
        f"  agentk8sglueSecret: {q(secret)}\n"
        "agentk8sglue:\n"
        f"  apiServerUrlReference: {q(urls['api'])}\n"
        f"  fileServerUrlReference: {q(urls['files'])}\n"
        f"  webServerUrlReference: {q(urls['web'])}\n"
    )


@sensitive_variables("issued")
def credential_cards(issued) -> list[dict]:
    urls = server_urls()
    cards = []
    for number, item in enumerate(issued, start=1):
        cards.append(
            {
                "id": f"cred{number}",
                "email": item.email,
                "access_key": item.access_key,
                "secret_key": item.secret_key,
                "conf": clearml_conf(item.access_key, item.secret_key, urls),
                "helm": agent_helm_values(item.access_key, item.secret_key, urls),
            }
        )
    return cards


@sensitive_variables()
def with_kits(tenant, cards: list[dict], issued) -> list[dict]:
    """Each card with the tenant's onboarding kit, its Secret filled with the card's key pair."""
    for card, item in zip(cards, issued, strict=True):
        card["kit"] = kit_for_card(tenant, item)
    return cards


def _posted_admin(tenant, value) -> TenantAdmin | None:
    """The admin the form names (its id), or None when the value is not one of the tenant's."""
    pk = parse_id(value)
    return None if pk is None else TenantAdmin.objects.filter(pk=pk, tenant=tenant).first()


@sensitive_post_parameters()
@sensitive_variables()  # the new secret sits in locals of frames below too (context, render)
@never_cache
@require_POST
def credentials_create_view(request, pk: int):
    tenant = get_tenant(pk)
    admin = _posted_admin(tenant, request.POST.get("admin"))
    if admin is None:
        messages.error(request, "Choose one of this tenant's admins to create credentials for.")
        return redirect("tenants:detail", pk=tenant.pk)
    try:
        applied = tenant_changes.tenant_credentials(
            tenant=tenant, admin=admin, actor=actor_for_request(request)
        )
    except (NotAllowed, TenantBusy) as exc:
        messages.error(request, str(exc))
        return redirect("tenants:detail", pk=tenant.pk)
    outcome = applied.outcome
    tenant.refresh_from_db()
    cards = with_kits(tenant, credential_cards(outcome.credentials), outcome.credentials)
    context = {
        "tenant": tenant,
        "outcome": outcome,
        "rows": step_rows(tenant, latest_run_steps(tenant)),
        "cards": cards,
        "for_admin": admin,
        "changeset": applied.changeset,
    }
    return no_store(render_page(request, "tenants/applied.html", context))
