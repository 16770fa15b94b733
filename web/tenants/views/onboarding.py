"""A tenant's onboarding kit (tenants/onboarding.py): the agent and App Gateway chart values and
the Kubernetes manifests, with tabs, Copy and Download.

These pages read the database and settings only. The Secret here is always a template: the
console keeps no secret, so the kit with credentials filled in is shown only in the answer that
creates them (the applied and credentials pages, `kit_for_card`).
"""

from urllib.parse import quote

from django.http import HttpResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET

from tenants.onboarding import PARTS, KitCredentials, KitError, onboarding_kit
from web.tenants.views.common import get_tenant, render_page

DEFAULT_PART = "agent"


def _tabs(tenant, current: str) -> list[dict]:
    url = reverse("tenants:onboarding", args=[tenant.pk])
    return [
        {"label": title, "href": f"{url}?part={part}", "current": part == current}
        for part, (title, _) in PARTS.items()
    ]


def kit_context(tenant, part: str) -> dict:
    try:
        kit = onboarding_kit(tenant)
    except KitError as exc:
        return {"error": str(exc)}
    download = reverse("tenants:onboarding_download", args=[tenant.pk])
    return {
        "kit": kit,
        "document": kit.part(part),
        "tabs": _tabs(tenant, part),
        "download_url": f"{download}?part={part}",
        "download_all_url": f"{download}?part=all",
    }


@never_cache
@require_GET
def tenant_onboarding(request, pk: int):
    tenant = get_tenant(pk)
    part = request.GET.get("part", DEFAULT_PART)
    part = part if part in PARTS else DEFAULT_PART
    context = {"tenant": tenant, "part": part, **kit_context(tenant, part)}
    return render_page(
        request, "tenants/onboarding.html", context, fragment="tenants/onboarding_parts.html"
    )


@never_cache
@require_GET
def tenant_onboarding_download(request, pk: int):
    """One part of the kit, or all of it (`part=all`: the command's output), as a file."""
    tenant = get_tenant(pk)
    part = request.GET.get("part", "all")
    if part != "all" and part not in PARTS:
        return _plain(f"unknown part {part!r}; choose all or one of {', '.join(PARTS)}", 400)
    try:
        kit = onboarding_kit(tenant)
    except KitError as exc:
        return _plain(str(exc), 409)
    document = kit.part(part) if part != "all" else None
    text = document.text if document else kit.text()
    response = HttpResponse(text, content_type=_content_type(part))
    filename = document.filename if document else kit.filename
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _content_type(part: str) -> str:
    kind = "text/x-shellscript" if part == "install" else "application/yaml"
    return f"{kind}; charset=utf-8"


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")


@sensitive_variables()
def kit_for_card(tenant, item) -> dict | None:
    """The kit with one new key pair filled in, for the page that shows it once: every part
    (with Copy) and the whole kit as a download link that carries its text (no later request
    can fetch it: the console does not keep the secret)."""
    credentials = KitCredentials(item.email, item.access_key, item.secret_key)
    try:
        kit = onboarding_kit(tenant, credentials)
    except KitError:
        return None
    documents = [
        {"part": d.part, "title": d.title, "filename": d.filename, "text": d.text}
        for d in kit.documents
    ]
    return {
        "namespace": kit.namespace.name,
        "documents": documents,
        "notes": kit.notes,
        "filename": kit.filename,
        "href": "data:application/yaml;charset=utf-8," + quote(kit.text()),
    }
