"""Where will ClearML send this email on first sign-in? The console's answer, with the rule.

Order (assumed, the docs are silent on precedence): the whitelist first, then the email's
domain (exact match), else no tenant — the identity provider's `default_company`, if one is set.
"""

from dataclasses import dataclass, field

from console.identifiers import email_domain, normalize_email
from console.validation import InvalidInput
from sso.models import LoginDomain, WhitelistEntry
from tenants.models import Tenant


@dataclass
class Route:
    text: str
    email: str = ""
    error: str = ""
    rule: str = ""  # whitelist | domain | none
    tenant: Tenant | None = None
    is_admin: bool = False
    matched: str = ""
    notes: list[str] = field(default_factory=list)


def _parents(domain: str) -> list[str]:
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)]


def simulate_route(text: str) -> Route:
    """Route one email the way the console assumes ClearML does (three queries at most)."""
    route = Route(text=text)
    try:
        route.email = normalize_email(text)
    except InvalidInput as exc:
        route.error = exc.errors[0].message
        return route
    domain = email_domain(route.email)
    entry = (
        WhitelistEntry.objects.select_related("tenant")
        .filter(email=route.email, tenant__deleted_at__isnull=True)
        .first()
    )
    rule = (
        LoginDomain.objects.select_related("tenant")
        .filter(domain=domain, tenant__deleted_at__isnull=True)
        .first()
    )
    if entry is not None:
        route.rule, route.tenant, route.matched = "whitelist", entry.tenant, entry.email
        route.is_admin = entry.is_admin
        if rule is not None and rule.tenant_id != entry.tenant_id:
            route.notes.append(
                f"The domain {domain} routes to '{rule.tenant.name}', but the whitelist entry is "
                "assumed to come first."
            )
        return route
    if rule is not None:
        route.rule, route.tenant, route.matched = "domain", rule.tenant, rule.domain
        return route
    route.rule = "none"
    parents = list(
        LoginDomain.objects.select_related("tenant")
        .filter(domain__in=_parents(domain), tenant__deleted_at__isnull=True)
        .values_list("domain", "tenant__name")
    )
    for parent, tenant_name in parents:
        route.notes.append(
            f"{parent} routes to '{tenant_name}', but a domain is assumed to match exactly: "
            f"{domain} is not {parent}. Add {domain} to route this email."
        )
    return route
