"""The admins' API tokens page (/account/tokens/): the tokens, a new one (shown once), revoking.

Creating and revoking go through the pipeline (changes/tokens.py), audited with the admin's name.
The page that shows a new token is answered `no-store` and never redirects (the token would
otherwise have to be kept somewhere until the next page).
"""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods

from changes.tokens import MAX_EXPIRES_DAYS, token_create, token_list, token_revoke
from console.accounts.models import ApiToken
from console.audit import actor_for_request
from console.htmx import render_page
from console.validation import InvalidInput


def _expires_days(value: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return -1  # refused by token_create, naming the field


def _page(request, *, created=None, errors=None, data=None, status=200):
    context = {
        "tokens": token_list(),
        "roles": ApiToken.Role.choices,
        "created": created,
        "errors": {e.path: e.message for e in errors or []},
        "data": data or {"role": "viewer"},
        "max_days": MAX_EXPIRES_DAYS,
        "now": timezone.now(),
    }
    response = render_page(request, "console/tokens.html", context)
    response.status_code = status
    response["Cache-Control"] = "no-store"
    return response


@sensitive_variables("created")
@never_cache
@require_http_methods(["GET", "POST"])
def tokens_view(request):
    if request.method == "GET":
        return _page(request)
    actor = actor_for_request(request)
    if request.POST.get("action") == "revoke":
        try:
            token_revoke(name=request.POST.get("name", ""), actor=actor)
        except InvalidInput as exc:
            messages.error(request, exc.errors[0].message)
        else:
            messages.success(request, f"Revoked {request.POST.get('name')}: it is refused now.")
        return redirect("account:tokens")
    data = {k: request.POST.get(k, "").strip() for k in ("name", "role", "expires_days")}
    try:
        created = token_create(
            name=data["name"],
            role=data["role"],
            expires_days=_expires_days(data["expires_days"]),
            actor=actor,
        )
    except InvalidInput as exc:
        return _page(request, errors=exc.errors, data=data, status=400)
    return _page(request, created=created)
