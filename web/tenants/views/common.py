"""Helpers the tenant views share."""

import json

from django.conf import settings
from django.shortcuts import get_object_or_404

from console.htmx import render_page  # noqa: F401 - the tenant views import it from here
from tenants.models import Tenant
from tenants.provisioning.calls import shown_call


def get_tenant(pk: int) -> Tenant:
    return get_object_or_404(Tenant, pk=pk)


def no_store(response):
    """Pages that show a secret once must not be kept by any cache or the back button."""
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0, private"
    response["Pragma"] = "no-cache"
    return response


def step_rows(tenant: Tenant, steps, admins=None) -> list[dict]:
    """Steps with their calls shown as the docs write them (known ids filled in). `admins`: the
    tenant's admins, when the caller has read them already."""
    admins = tenant.admins.all() if admins is None else admins
    user_ids = {a.email: a.user_id for a in admins if a.user_id}
    rows = []
    for step in steps:
        call = shown_call(step, company_id=tenant.company_id, user_ids=user_ids)
        rows.append({"step": step, "call": call, "curl": call.curl(), "body": pretty(call.body)})
    return rows


def pretty(body: dict) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False)


def api_url() -> str:
    return settings.CLEARML_API_URL
