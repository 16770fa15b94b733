"""What the inventory pages show, ready for the templates (no logic in them)."""

from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.debug import sensitive_variables

from console.snapshot import credentials as inventory
from tenants.onboarding import server_urls
from web.credentials.filters import Filters
from web.tenants.views.credentials import clearml_conf

COLUMNS = (
    ("tenant", "Tenant"),
    ("user", "User"),
    ("access_key", "Access key"),
    ("label", "Label"),
    ("last_used", "Last used"),
    ("created", "Created"),
)


def _url(params: dict, **changes) -> str:
    return reverse("credentials:list") + "?" + urlencode({**params, **changes})


def sort_links(filters: Filters) -> list[dict]:
    params = filters.params()
    links = []
    for key, label in COLUMNS:
        ascending, descending = filters.sort == key, filters.sort == f"-{key}"
        links.append(
            {
                "label": label,
                "url": _url(params, sort=f"-{key}" if ascending else key),
                "aria": "ascending" if ascending else "descending" if descending else "none",
                "arrow": "▲" if ascending else "▼" if descending else "",
            }
        )
    return links


def page_context(found: inventory.Inventory, filters: Filters, page) -> dict:
    params = filters.params()
    return {
        "found": found,
        "filters": filters,
        "page": page,
        "rows": page.object_list,
        "usages": inventory.USAGE.items(),
        "columns": sort_links(filters),
        "csv_url": _url(params, format="csv"),
        "prev_url": _url(params, page=page.previous_page_number()) if page.has_previous() else "",
        "next_url": _url(params, page=page.next_page_number()) if page.has_next() else "",
        "filtered": bool(params.keys() - {"sort"}),
    }


@sensitive_variables()
def rotated_context(change) -> dict:
    """The new key, shown once, with its clearml.conf and the tenant's onboarding kit."""
    card = {
        "id": "rotated",
        "email": change.row.email or change.row.user_id,
        "access_key": change.access_key,
        "secret_key": change.secret_key,
        "conf": clearml_conf(change.access_key, change.secret_key, server_urls()),
    }
    kit = reverse("tenants:onboarding", args=[change.row.tenant_id]) if change.row.tenant_id else ""
    return {
        "change": change,
        "row": change.row,
        "card": card,
        "kit_url": kit,
        "typed": bool(change.row.marked),
    }
