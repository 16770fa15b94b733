"""The snippet sources of the Groups & features pages (console.snippets.web registry).

- `groups`: every cross-tenant group; `group` (`?group=<pk>`): one group;
- `builtin-groups`, `organization`;
- `server-settings`: all of the above plus the identity providers and multi-tenant login switches
  the console holds (sso.snippets), which is what the Export page shows and merges.
"""

from django.http import HttpRequest

from changes.identity import idp_export_recorded
from console.audit import actor_for_request
from console.snippets import EnvSetting
from console.snippets.web import is_snippet_download, register_snippet_source
from console.validation import InvalidInput
from sso.snippets import console_entries, console_identity_provider_settings
from tenants.groups.models import CrossTenantGroup
from tenants.groups.settings import (
    builtin_settings,
    console_groups_settings,
    organization_settings,
    stored_builtin_features,
    stored_group_settings,
    stored_organization,
)


def identity_provider_console_settings(*, reveal: bool, actor: str, fmt: str) -> list[EnvSetting]:
    """The identity-provider and multi-tenant login variables (sso.snippets). Secret values are
    markers unless `reveal`; a revealed export with secrets is audited (`idp.export`)."""
    try:
        settings = console_identity_provider_settings(reveal_secrets=reveal)
    except InvalidInput as exc:
        raise ValueError("; ".join(str(e) for e in exc.errors)) from None
    if reveal and any(s.secret for s in settings):
        providers = [e.provider.key for e in console_entries()]
        idp_export_recorded(actor=actor, providers_shown=providers, fmt=fmt)
    return settings


def server_settings(request: HttpRequest, *, reveal: bool | None = None) -> list[EnvSetting]:
    reveal = is_snippet_download(request) if reveal is None else reveal
    return (
        console_groups_settings()
        + builtin_settings(stored_builtin_features())
        + organization_settings(stored_organization())
        + identity_provider_console_settings(
            reveal=reveal,
            actor=actor_for_request(request),
            fmt=request.GET.get("format") or request.POST.get("kind") or "helm",
        )
    )


def _one_group(request: HttpRequest) -> list[EnvSetting]:
    try:
        pk = int(request.GET.get("group", ""))
    except ValueError:
        return []
    group = CrossTenantGroup.objects.filter(pk=pk).first()
    return stored_group_settings(group) if group else []


register_snippet_source(
    "groups",
    lambda request: console_groups_settings(),
    title="Cross-tenant groups",
    filename="clearml-groups",
)
register_snippet_source(
    "group", _one_group, title="This group's variables", filename="clearml-group", params=("group",)
)
register_snippet_source(
    "builtin-groups",
    lambda request: builtin_settings(stored_builtin_features()),
    title="Built-in groups",
    filename="clearml-builtin-groups",
)
register_snippet_source(
    "organization",
    lambda request: organization_settings(stored_organization()),
    title="Organization settings",
    filename="clearml-organization",
)
register_snippet_source(
    "server-settings",
    server_settings,
    title="All server settings",
    filename="clearml-server-settings",
)
