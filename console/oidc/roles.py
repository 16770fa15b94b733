"""The role a person's identity-provider groups give them: the highest matching role wins."""

from collections.abc import Iterable

from django.conf import settings

from console.roles import Role


def groups_from_claims(claims: dict) -> list[str]:
    """The group names in the configured claim (CONSOLE_OIDC_GROUPS_CLAIM): a list of names, or
    one string (some providers send a single group as a string, some a space or comma list)."""
    value = claims.get(settings.CONSOLE_OIDC_GROUPS_CLAIM)
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    if isinstance(value, list | tuple):
        return [str(item) for item in value if isinstance(item, str | int) and str(item)]
    return []


def role_groups() -> dict[Role, list[str]]:
    return {
        Role.ADMIN: _names(settings.CONSOLE_ROLE_ADMINS),
        Role.OPERATOR: _names(settings.CONSOLE_ROLE_OPERATORS),
        Role.VIEWER: _names(settings.CONSOLE_ROLE_VIEWERS),
    }


def role_for_groups(groups: Iterable[str]) -> Role | None:
    """The highest role one of `groups` is listed for, or None (no role: refused). Names are
    compared exactly, as the provider writes them (Keycloak's full path `/admins` included)."""
    held = set(groups)
    for role in sorted(Role, reverse=True):
        if held & set(role_groups()[role]):
            return role
    return None


def _names(values: Iterable[str]) -> list[str]:
    return [value.strip() for value in values if value and value.strip()]
