"""Template context every page needs: the navigation."""

from django.urls import NoReverseMatch, reverse

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
    ("Security", "security", "Fresh server secrets and an audit of deployment files."),
    ("Changes", "changes:list", "Every change as a changeset: its plan, its steps and outcome."),
    ("Audit log", "audit:list", "Every change, who made it and what the apiserver said."),
]


def navigation(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"navigation": []}
    items = []
    for label, name, description in NAVIGATION:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        items.append({"label": label, "url": url, "active": False, "description": description})
    # The longest matching prefix wins, so /tenants/groups/ lights up only "Groups & features".
    matches = [
        i
        for i in items
        if request.path == i["url"] or (i["url"] != "/" and request.path.startswith(i["url"]))
    ]
    if matches:
        max(matches, key=lambda i: len(i["url"]))["active"] = True
    return {"navigation": items}
