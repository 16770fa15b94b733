"""Demo data and the list of every page the console serves, for `make screenshots` and the
accessibility tests (tests/test_accessibility_browser.py).

The data is made the way an operator makes it: a SPEC applied through the change pipeline against
the (sandbox) apiserver the settings name, the server state refreshed, and one tenant left planned
so a changeset is still waiting. Call these after `django.setup()`.
"""

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEMO_SPEC = """\
version: 1
tenants:
  - name: Acme Research
    allowed_users: 25
    features: [sso_management]
    admins:
      - {name: Alice Admin, email: alice@acme.io}
      - {name: Dan Ops, email: dan@acme.io, internal: false}
    login:
      domains: [acme.io, acme-research.com, a-rather-long-subdomain.research.acme-labs.example]
      whitelist:
        admins: [carol@partner.com]
        users: [bob@gmail.com, erin@contractor.net]
  - name: Globex
    admins:
      - {name: Gina Admin, email: gina@globex.com}
    login:
      domains: [globex.com]
groups:
  - name: data_scientists
    display_name: Data Scientists
    features: [applications, pipelines, reports]
    assignable: true
  - name: mlops
    features: [queue_management, resource_dashboard]
builtin_groups:
  admins: [user_management, user_management_advanced, sso_management]
organization:
  unique_company_names: true
identity_providers:
  - provider: keycloak
    base_url: https://sso.example.com/realms/acme/
    authorize_url: https://sso.example.com/realms/acme/protocol/openid-connect/auth
    access_token_url: https://sso.example.com/realms/acme/protocol/openid-connect/token
    client_id: clearml
    client_secret: env:DEMO_KEYCLOAK_CLIENT_SECRET
    default_company: tenant:Acme Research
"""

PLANNED_TENANT = {
    "name": "Initech",
    "admins": [{"name": "Ian Admin", "email": "ian@initech.com"}],
    "login": {"domains": ["initech.com"]},
}
DEMO_ACTOR = "admin (local)"


@dataclass(frozen=True)
class Page:
    name: str  # also the screenshot's file name
    path: str
    signed_in: bool = True
    status: int = 200
    method: str = "GET"  # POST: the page a form post without its CSRF token gets (403)


# URL names that are not pages a person looks at: form targets (POST only), downloads, htmx
# fragments, redirects and machine endpoints. The page-list test fails when a URL is in neither
# list, so a new page cannot be forgotten.
NOT_PAGES = {
    "connection_panel": "fragment of the dashboard",
    "refresh": "POST: the Refresh button",
    "signout": "POST",
    "oidc_start": "redirect to the identity provider",
    "oidc_callback": "redirect from the identity provider",
    "healthz": "machine endpoint",
    "robots": "machine endpoint",
    "tenants:import": "POST: the Tenants page's import form",
    "tenants:apply": "POST",
    "tenants:discard": "POST",
    "tenants:credentials": "POST",
    "tenants:offboard_routing": "POST step of the offboarding page",
    "tenants:offboard_credentials": "POST step of the offboarding page",
    "tenants:onboarding_download": "download",
    "tenants:group_delete": "POST",
    "tenants:groups_merge_download": "download",
    "changes:apply": "POST",
    "changes:progress": "fragment the changeset page polls",
    "changes:retry": "POST",
    "drift:adopt": "POST",
    "drift:reapply": "POST",
    "credentials:relabel": "POST",
    "credentials:revoke": "POST",
    "credentials:rotate": "POST",
    "credentials:rotation_finish": "POST",
    "vaults:delete": "POST",
    "vaults:reveal": "POST",
    "vaults:template": "POST",
    "audit_sinks:test": "POST",
    "audit_sinks:replay": "POST",
    "audit_sinks:remove": "POST",
    "usage:fetch": "POST",
    "usage:download": "download",
    "changes:approve": "POST",
    "changes:reject": "POST",
    "audit:export": "download",
    "snippets:download": "download",
    "sso:routing_live": "fragment of the tenant's routing page",
    "sso:routing_pull": "POST",
    "sso:routing_push": "POST",
    "sso:routing_push_job": "progress of a push (shown while one runs)",
    "sso:routing_push_step": "POST",
    "sso:routing_import_preview": "shown after an upload",
    "sso:routing_import_save": "POST",
    "sso:routing_list": "redirect to the tenant's routing page",
    "sso:routing_add": "POST",
    "sso:routing_remove": "POST",
    "sso:provider_delete": "POST",
    "sso:provider_checklist": "POST: the provider page's checklist",
    "sso:tenant_sso_push": "POST",
    "sso:tenant_sso_delete": "POST",
    "security_live_check": "fragment of the Security page",
    "security_generate": "POST",
    "security_audit_upload": "POST",
}


OUTSIDE_COMPANY = "Umbrella Labs"


def seed_demo_data(sandbox=None) -> None:
    """Apply DEMO_SPEC, refresh the server state and plan one more tenant (not applied). With the
    sandbox's handle, a company made on the server outside the console is added first (the
    Tenants page offers to import it)."""
    from django.core.management import call_command

    from changes.tenant_input import validate_tenant_entry
    from changes.tenants import tenant_create

    if sandbox is not None:
        sandbox.seed_company(OUTSIDE_COMPANY)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "demo.yaml"
        spec.write_text(DEMO_SPEC)
        out = io.StringIO()
        call_command("apply", str(spec), "--yes", stdout=out, stderr=out)
    call_command("refresh_server_state", stdout=io.StringIO(), stderr=io.StringIO())
    tenant_create(data=validate_tenant_entry(PLANNED_TENANT), actor=DEMO_ACTOR)


def demo_pages() -> list[Page]:
    """Every page, with the demo data's objects filled into the URLs."""
    from django.urls import NoReverseMatch, reverse

    from changes.models import Changeset
    from console.audit.models import AuditEntry
    from tenants.groups.models import CrossTenantGroup
    from tenants.models import IssuedCredential, Tenant

    acme = Tenant.objects.get(name="Acme Research")
    planned = Tenant.objects.get(name=PLANNED_TENANT["name"])
    group = CrossTenantGroup.objects.order_by("pk").first()
    changeset = Changeset.objects.order_by("-pk").first()
    entry = AuditEntry.objects.order_by("-seq").first()
    key = IssuedCredential.objects.filter(admin__tenant=acme).order_by("pk").first()
    t = {"tenant_id": acme.pk}

    def page(name, url_name, *args, **kwargs):
        try:
            return Page(name, reverse(url_name, args=args or None, kwargs=kwargs or None))
        except NoReverseMatch:  # a section this installation does not have
            return None

    pages = [
        Page("signin", reverse("signin"), signed_in=False),
        page("dashboard", "dashboard"),
        page("tenants", "tenants:list"),
        page("tenant-new", "tenants:create"),
        page("tenant-detail", "tenants:detail", acme.pk),
        page("tenant-planned", "tenants:detail", planned.pk),
        page("tenant-plan", "tenants:plan", planned.pk),
        page("tenant-edit", "tenants:edit", acme.pk),
        page("tenant-onboarding", "tenants:onboarding", acme.pk),
        page("tenant-offboarding", "tenants:delete", acme.pk),
        page("groups", "tenants:groups"),
        page("group-new", "tenants:group_create"),
        page("group-edit", "tenants:group_edit", group.pk),
        page("builtin-groups", "tenants:builtin_groups"),
        page("organization", "tenants:organization"),
        page("effective-features", "tenants:effective_features"),
        page("groups-export", "tenants:groups_export"),
        page("snippet-server-settings", "snippets:show", "server-settings"),
        page("sso", "sso:index"),
        page("routing", "sso:routing_map"),
        page("routing-simulator", "sso:simulator"),
        page("tenant-routing", "sso:tenant_routing", **t),
        page("tenant-routing-import", "sso:routing_import", **t),
        page("providers", "sso:providers"),
        page("provider-new", "sso:provider_add", "okta"),
        page("provider-edit", "sso:provider_edit", "keycloak"),
        page("multi-tenant", "sso:multitenant"),
        page("tenant-sso", "sso:tenant_sso", **t),
        page("security", "security"),
        page("audit", "audit:list"),
        page("audit-entry", "audit:detail", entry.seq),
        page("changes", "changes:list"),
        page("change-detail", "changes:detail", changeset.pk),
        page("credentials", "credentials:list"),
        page("credential-key", "credentials:key", key.access_key),
        page("drift", "drift:list"),
        page("vaults", "vaults:list"),
        page("tenant-vaults", "vaults:tenant", acme.pk),
        page("usage", "usage:report"),
        page("usage-aggregator", "usage:aggregator"),
        page("app-visibility", "apps:visibility"),
        page("tenant-app-visibility", "apps:tenant", acme.pk),
        page("audit-sinks", "audit_sinks:list"),
        page("account-sessions", "account:sessions"),
        page("account-tokens", "account:tokens"),
        Page("not-found", "/no-such-page/", status=404),
        Page("forbidden", reverse("tenants:create"), status=403, method="POST"),
    ]
    return [p for p in pages if p is not None]


def visit(page, base_url: str, demo_page: Page):
    """Open demo_page in a Playwright page and wait for what it loads after loading; return the
    response. A POST page is the answer to a form posted without its CSRF token."""
    url = base_url + demo_page.path
    if demo_page.method == "POST":
        page.route(url, lambda route: route.fulfill(response=route.fetch(method="POST")))
    try:
        response = page.goto(url)
        if page.locator("[hx-trigger~='load']").count():
            page.wait_for_load_state("networkidle")
    finally:
        if demo_page.method == "POST":
            page.unroute(url)
    return response


def sign_in(page, base_url: str, password: str) -> None:
    """Sign in as the local admin with the keyboard (the sign-in page must be open)."""
    page.fill("#id_password", password)
    page.keyboard.press("Enter")
    page.wait_for_url(base_url + "/")


def page_url_names() -> set[str]:
    """The URL names of demo_pages(), for the test that every URL is a page or in NOT_PAGES."""
    from django.urls import resolve

    return {resolve(p.path).view_name for p in demo_pages() if p.status == 200}
