"""Snippets over the API: a registered snippet source (the ones the pages show: `groups`,
`group?group=<id>`, `builtin-groups`, `organization`, `server-settings`, `identity-providers`,
`idp-<provider>`, `multi-tenant-login`) rendered in one format.

Secret values are in an answer only for operators and admins, and only when asked for
(`secrets=inline`, or `secrets=secret-ref` whose v1 Secret holds them); such an answer is
`no-store`, and an export with identity-provider secrets is audited as the page's download is.
A viewer gets `secrets=secret-ref` without the Secret (the values file refers to it; the answer
lists the keys to put in it), and 403 for inline secrets.
"""

import copy
from typing import Literal

from django.http import HttpRequest
from django.urls import resolve, reverse
from django.views.decorators.debug import sensitive_variables
from ninja import Path, Router

from console.roles import Role, has_role
from console.snippets import render
from console.snippets.web import FILE_SUFFIX, get_snippet_source, masked_settings

from .auth import require
from .errors import COMMON, BadInput, Forbidden
from .schemas import SnippetOut

router = Router(tags=["snippets"])


def _source_request(request: HttpRequest, source: str, *, reveal: bool) -> HttpRequest:
    """The request as a snippet source reads it: as the page's download (real values) when
    `reveal`, else as the page (markers for secrets)."""
    copied = copy.copy(request)  # keeps console_token_name: an export is audited as the token
    copied.snippet_download = reveal
    copied.resolver_match = resolve(reverse("snippets:download", args=[source])) if reveal else None
    return copied


@sensitive_variables()  # the settings may hold secret values
def _content(request, source: str, fmt: str, secrets: str, *, privileged: bool):
    """The settings as a page shows them, and the text of the answer: with secret values only
    for an operator or admin; a viewer gets secret-ref without the Secret, or 403."""
    src = get_snippet_source(source)
    try:
        shown = list(src.settings(_source_request(request, source, reveal=False)))
        has_secrets = any(s.secret for s in shown)
        if has_secrets and secrets == "inline" and not privileged:
            raise Forbidden(
                "Inline secrets need the operator role; ask for format=helm&secrets=secret-ref "
                "(the values refer to a v1 Secret, whose keys the answer lists)."
            )
        if has_secrets and privileged:
            settings = list(src.settings(_source_request(request, source, reveal=True)))
            return shown, render(settings, fmt, secrets=secrets)
        if has_secrets:  # a viewer, secret-ref: the values file without the Secret
            return shown, render(masked_settings(shown), fmt, secrets=secrets, with_secret=False)
        return shown, render(shown, fmt, secrets=secrets)
    except ValueError as exc:  # an unset env: value, a value a format cannot hold
        raise BadInput.field("source", str(exc)) from None


@router.get("/snippets/{source}", response={200: SnippetOut, **COMMON}, summary="A snippet")
@sensitive_variables()  # the settings may hold secret values
def snippet_read(
    request,
    source: str = Path(..., pattern=r"^[-a-zA-Z0-9_]{1,100}$"),
    format: Literal["helm", "compose", "env", "shell"] = "helm",  # noqa: A002 - the query name
    secrets: Literal["inline", "secret-ref"] = "inline",
):
    """The server settings of `source` as Helm values, compose, an env file or shell exports."""
    require(request, Role.VIEWER)
    src = get_snippet_source(source)  # 404 for an unknown source
    if secrets == "secret-ref" and format != "helm":
        raise BadInput.field("secrets", "secret-ref works with format=helm only")
    privileged = has_role(request, Role.OPERATOR)
    shown, content = _content(request, source, format, secrets, privileged=privileged)
    has_secrets = any(s.secret for s in shown)
    secret_keys = (
        [s.secret_key for s in shown if s.secret]
        if secrets == "secret-ref" and not privileged
        else []
    )
    return {
        "source": source,
        "title": src.title,
        "format": format,
        "secrets": secrets,
        "filename": src.filename + FILE_SUFFIX[format],
        "content": content,
        "has_secrets": has_secrets,
        "secret_keys": secret_keys,
    }
