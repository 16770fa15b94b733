"""Template context every page needs: the navigation, the fields' length limits, doc links."""

from functools import cache

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

from console.docs_links import DOCS
from console.identifiers import MAX_COMPANY_ID, MAX_DOMAIN_LENGTH, MAX_EMAIL_LENGTH

# Each field's length limit by name, for the templates' maxlength and character counters
# (`{{ limits.tenant_name }}`). The limits are defined next to their model fields; the apps that
# own them add them here when they load (register_limits in their AppConfig.ready), so this
# module imports none of them.
FIELD_LIMITS: dict[str, int] = {
    "email": MAX_EMAIL_LENGTH,
    "domain": MAX_DOMAIN_LENGTH,
    "company_id": MAX_COMPANY_ID,
}


def register_limits(**limits: int) -> None:
    FIELD_LIMITS.update(limits)


# (label, url name, what the section is for); a section appears once its url exists.
NAVIGATION = [
    ("Dashboard", "dashboard", ""),
    (
        "Tenants",
        "tenants:list",
        "Create, import and edit ClearML companies, their admins and keys.",
    ),
    (
        "Sign-in routing",
        "sso:routing_map",
        "Which email domains and addresses land in which tenant.",
    ),
    ("Groups & features", "tenants:groups", "Cross-tenant groups, built-in groups and features."),
    (
        "Identity providers",
        "sso:providers",
        "Keycloak and every other provider; multi-tenant login.",
    ),
    ("Credentials", "credentials:list", "Every tenant user's API keys: stale, revoke, rotate."),
    ("Admin vaults", "vaults:list", "Each tenant's group-scoped configuration vaults."),
    ("Security", "security", "Fresh server secrets and an audit of deployment files."),
    ("Usage & cost", "usage:report", "What each tenant used and what it cost, per day."),
    ("App visibility", "apps:visibility", "Who sees which application instances, per tenant."),
    ("Changes", "changes:list", "Every change as a changeset: its plan, its steps and outcome."),
    ("Audit log", "audit:list", "Every change, who made it and what the apiserver said."),
]


def navigation(request):
    shared = {"limits": FIELD_LIMITS, "docs": DOCS}
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"navigation": [], **shared}
    items = [
        dict(item)
        for item in _sections(get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
    ]
    # The longest matching prefix wins, so /tenants/groups/ lights up only "Groups & features".
    matches = [
        i
        for i in items
        if request.path == i["url"] or (i["url"] != "/" and request.path.startswith(i["url"]))
    ]
    if matches:
        max(matches, key=lambda i: len(i["url"]))["active"] = True
    return {"navigation": items, **shared}


@cache
def _sections(urlconf, script_prefix) -> tuple[dict, ...]:
    """The sections whose url exists, reversed once per URLconf and prefix (every page shows
    them; reversing a dozen names per request was a measurable share of a page)."""
    items = []
    for label, name, description in NAVIGATION:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        items.append({"label": label, "url": url, "active": False, "description": description})
    return tuple(items)
