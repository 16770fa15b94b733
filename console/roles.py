"""Who may do what: the three roles, and the role of the person (or API token) behind a request.

- viewer: reads everything except secrets; cannot export with inline secrets;
- operator: creates and edits tenants, routing, groups; plans and applies changes that are not
  risky; exports;
- admin: everything, including identity providers, server secrets, deletions, approvals and API
  tokens.

A person's role is decided at sign-in (from the identity provider's groups, or `admin` for the
local break-glass account) and kept in their session; an API token carries its own role. Every
check goes through `request_role` / `has_role`, so there is one answer to "may this request do it".
"""

from enum import IntEnum

SESSION_KEY = "console_role"
LOCAL_ADMIN = "admin"


class Role(IntEnum):
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | None) -> "Role | None":
        """The role named `value` ("viewer", "operator", "admin"), or None."""
        if not value:
            return None
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            return None


def request_role(request) -> Role | None:
    """The role behind a request: an API token's (set by the API's authentication on the
    request), else the signed-in person's (from the session), else None (not signed in)."""
    token_role = getattr(request, "console_role", None)
    if token_role is not None:
        return token_role
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    session = getattr(request, "session", None)
    role = Role.parse(session.get(SESSION_KEY)) if session is not None else None
    if role is None and user.get_username() == LOCAL_ADMIN:
        return Role.ADMIN  # the local break-glass account is always an admin
    return role


def has_role(request, needed: Role) -> bool:
    role = request_role(request)
    return role is not None and role >= needed
