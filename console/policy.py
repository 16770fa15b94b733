"""Who may open which page: one table from URL name to the least role for reading it (GET) and
for sending it a form (POST), enforced for every request by `RolePolicyMiddleware`
(console/middleware.py), after sign-in.

- viewer: GETs every page except those that show or download a secret;
- operator: POSTs tenant, routing and group edits, plans and applies changes that are not risky,
  exports (downloads that carry secrets);
- admin: identity providers and multi-tenant login, server secrets (the Security page's
  Generate), deletions and offboarding, risky changes, approvals, API tokens, other people's
  sessions.

`None` in a column means the page does not take that method; the middleware answers 405 before
the view, so a view that starts taking it must be given a role here first. A URL with no entry
is refused (403) and fails tests/test_roles_matrix.py: every new route needs a line here.

Some requests need more than their URL's role, decided per request:
- `secrets`: a function `(request, view_kwargs) -> bool`, True when this request shows or
  exports a secret (a snippet download of a source that has secret values). It then needs
  `secret_role` and a recent sign-in (console/reauth.py);
- `reauth`: the methods of a page that always show a secret (the Security page's Generate, new
  credentials): a sign-in older than CONSOLE_REAUTH_MINUTES is sent to sign in again;
- `register_check(view_name, func)`: a layer above console adds a check that can only be made
  with its models (`func(request, view_kwargs) -> Role | None`, the role this request needs),
  e.g. web/policy_checks.py: applying a risky changeset that no admin approved needs an admin.
"""

from collections.abc import Callable
from dataclasses import dataclass

from .roles import Role
from .snippets.web import download_shows_secrets

V, O, A = Role.VIEWER, Role.OPERATOR, Role.ADMIN  # noqa: E741 - the table's shorthand
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Rule:
    get: Role | None
    post: Role | None
    public: bool = False
    # Served to API tokens: the API (web/api/auth.py) authenticates the bearer token and checks
    # each endpoint's role itself; the session's role does not apply.
    token: bool = False
    reauth: frozenset[str] = frozenset()  # "GET" and/or "POST": always shows a secret
    secrets: Callable | None = None  # (request, kwargs) -> bool: this request shows secrets
    secret_role: Role = O

    def least_role(self, method: str) -> Role | None:
        return self.get if method in READ_METHODS else self.post

    def needs_reauth_for(self, method: str) -> bool:
        return ("GET" if method in READ_METHODS else "POST") in self.reauth


def R(get: Role | None, post: Role | None = None, **options) -> Rule:  # noqa: N802 - table
    return Rule(get, post, **options)


PUBLIC = Rule(None, None, public=True)
TOKEN = Rule(None, None, token=True)
SHOWS_SECRET = frozenset({"POST"})

POLICY: dict[str, Rule] = {
    # Sign-in and the probes answer everyone (LoginRequiredMiddleware's public names).
    "signin": PUBLIC,
    "healthz": PUBLIC,
    "robots": PUBLIC,
    "oidc_start": PUBLIC,
    "oidc_callback": PUBLIC,
    "signout": R(None, V),
    # The dashboard and reading the server's state.
    "dashboard": R(V),
    "connection_panel": R(V),
    "refresh": R(None, V),  # reads the apiserver into the snapshot: changes nothing
    # Your sessions; ending someone else's needs an admin (checked by the page: web/account.py).
    "account:sessions": R(V, V),
    # API tokens (web/tokens.py): admins; a new token is shown once (a secret).
    "account:tokens": R(A, A, reauth=SHOWS_SECRET),
    # The audit log: no secret is ever stored in it (docs/security.md).
    "audit:list": R(V),
    "audit:detail": R(V),
    "audit:export": R(V),
    # Audit sinks (web/audit_sinks.py): where the audit log is streamed; admins only.
    "audit_sinks:list": R(A, A),
    "audit_sinks:test": R(None, A),
    "audit_sinks:replay": R(None, A),
    "audit_sinks:remove": R(None, A),
    # Changes: applying a risky changeset no admin approved needs an admin (web/policy_checks.py).
    "changes:list": R(V),
    "changes:detail": R(V),
    "changes:apply": R(None, O),
    # A background apply (changes/background.py): its progress, and Retry (an apply again).
    "changes:progress": R(V),
    "changes:retry": R(None, O),
    # Drift (changes/drift.py): adopting or re-applying a value is a change of its own.
    "drift:list": R(V),
    "drift:adopt": R(None, O),
    "drift:reapply": R(None, O),
    # Approvals (changes/, web/changes/): an admin, who signed in recently.
    "changes:approve": R(None, A, reauth=SHOWS_SECRET),
    "changes:reject": R(None, A),
    # Security: Generate shows new server secrets once.
    "security": R(V),
    "security_live_check": R(V),
    "security_generate": R(None, A, reauth=SHOWS_SECRET),
    "security_audit_upload": R(None, O),
    # Snippets: pages mask secrets; a download carrying them is an export with secrets.
    "snippets:show": R(V),
    "snippets:download": R(V, secrets=download_shows_secrets, secret_role=O),
    # Sign-in routing: edits are an operator's, removing entries (a risky change) an admin's.
    "sso:index": R(V),
    "sso:routing_map": R(V),
    "sso:simulator": R(V),
    "sso:tenant_routing": R(V),
    "sso:routing_list": R(V),
    "sso:routing_live": R(V),
    "sso:routing_add": R(None, O),
    "sso:routing_remove": R(None, A),
    "sso:routing_pull": R(None, O),
    "sso:routing_push": R(None, O),
    "sso:routing_push_job": R(V),
    "sso:routing_push_step": R(None, O),
    "sso:routing_import": R(V, O),
    "sso:routing_import_preview": R(V),
    "sso:routing_import_save": R(None, O),
    # Identity providers and multi-tenant login: admins (their forms never show a secret).
    "sso:providers": R(V),
    "sso:provider_add": R(V, A),
    "sso:provider_edit": R(V, A),
    "sso:provider_delete": R(None, A),
    "sso:provider_checklist": R(None, A),
    "sso:multitenant": R(V, A),
    "sso:tenant_sso": R(V, A),
    "sso:tenant_sso_push": R(None, A),
    "sso:tenant_sso_delete": R(None, A),
    # Tenants: edits are an operator's; new credentials are shown once (a secret); deleting and
    # offboarding are an admin's.
    "tenants:list": R(V),
    "tenants:import": R(V, O),
    "tenants:create": R(V, O),
    "tenants:detail": R(V),
    "tenants:plan": R(V),
    "tenants:apply": R(None, O),
    "tenants:discard": R(None, O),
    "tenants:edit": R(V, O),
    "tenants:credentials": R(None, O, reauth=SHOWS_SECRET),
    "tenants:delete": R(V, A),
    "tenants:offboard_routing": R(None, A),
    "tenants:offboard_credentials": R(None, A),
    "tenants:onboarding": R(V),  # the kit's Secret is a template without values
    "tenants:onboarding_download": R(V),
    # Groups & features; the merged values file carries secret values (an export).
    "tenants:groups": R(V),
    "tenants:group_create": R(V, O),
    "tenants:group_edit": R(V, O),
    "tenants:group_delete": R(V, A),
    "tenants:builtin_groups": R(V, O),
    "tenants:organization": R(V, O),
    "tenants:effective_features": R(V),
    "tenants:groups_export": R(V, O),
    "tenants:groups_merge_download": R(None, O, reauth=SHOWS_SECRET),
    # Credentials inventory (web/credentials/): operators relabel; revoking and rotating (which
    # shows the new secret once) are an admin's.
    "credentials:list": R(V),
    "credentials:key": R(V),
    "credentials:relabel": R(None, O),
    "credentials:revoke": R(None, A),
    "credentials:rotate": R(None, A, reauth=SHOWS_SECRET),
    "credentials:rotation_finish": R(None, A),
    # Usage and cost (web/usage/): reading; Fetch reads the metering service, the aggregator
    # form only writes text. Application instance visibility: per-tenant changes are an operator's.
    "usage:report": R(V),
    "usage:fetch": R(None, V),
    "usage:download": R(V),
    "usage:aggregator": R(V, V),
    "apps:visibility": R(V),
    "apps:tenant": R(V, O),
    # Admin vaults (web/vaults/): contents may hold storage credentials, so changes are an admin's
    # and showing one needs a recent sign-in.
    "vaults:list": R(V),
    "vaults:template": R(None, A),
    "vaults:tenant": R(V, A),
    "vaults:delete": R(None, A),
    "vaults:reveal": R(None, A, reauth=SHOWS_SECRET),
    # The JSON API: bearer tokens with their own role, checked per endpoint by the API.
    "api-v1:*": TOKEN,
    "web.api.urls.not_found": TOKEN,
}

# Checks registered by the layers above console (they hold the models the check reads).
_CHECKS: dict[str, list[Callable]] = {}


def register_check(view_name: str, func: Callable) -> Callable:
    """Add `func(request, view_kwargs) -> Role | None` to the checks of `view_name`: the role
    this request needs beyond its URL's (None: nothing more)."""
    checks = _CHECKS.setdefault(view_name, [])
    if func not in checks:
        checks.append(func)
    return func


def rule_for(view_name: str) -> Rule | None:
    """The entry for a URL name (`namespace:name`), else for its namespace (`namespace:*`)."""
    if view_name in POLICY:
        return POLICY[view_name]
    namespace = view_name.rpartition(":")[0]
    while namespace:
        rule = POLICY.get(namespace + ":*")
        if rule is not None:
            return rule
        namespace = namespace.rpartition(":")[0]
    return None


@dataclass(frozen=True)
class Decision:
    """What a request needs: its least role, and whether its sign-in must be recent."""

    role: Role | None  # None: the page does not take this method (405)
    reauth: bool


def decide(rule: Rule, request, view_name: str, kwargs: dict) -> Decision:
    method = request.method.upper()
    needed = rule.least_role(method)
    if needed is None:
        return Decision(None, False)
    reauth = rule.needs_reauth_for(method)
    if rule.secrets is not None and rule.secrets(request, kwargs):
        needed = max(needed, rule.secret_role)
        reauth = True
    for check in _CHECKS.get(view_name, ()):
        extra = check(request, kwargs)
        if extra is not None:
            needed = max(needed, extra)
    return Decision(needed, reauth)
