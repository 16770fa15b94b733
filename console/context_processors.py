"""Template context every page needs: the navigation."""

from django.urls import NoReverseMatch, reverse

# (label, url name); a section appears once its url exists.
NAVIGATION = [
    ("Dashboard", "dashboard"),
    ("Tenants", "tenants:list"),
    ("Sign-in routing", "sso:routing_map"),
    ("Groups & features", "tenants:groups"),
    ("Identity providers", "sso:providers"),
    ("Security", "security"),
    ("Audit log", "audit:list"),
]


def navigation(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"navigation": []}
    items = []
    for label, name in NAVIGATION:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"label": label, "url": url, "active": active})
    return {"navigation": items}
