"""Where will ClearML send this email on first sign-in? The console's answer, with the rule.

Order (assumed, the docs are silent on precedence): the whitelist first, then the email's
domain (exact match), else no tenant — the identity provider's `default_company`, if one is set.

`domain_rule`, `parent_domains` and `nested_domains_note` are the matcher: the routing checks
(sso/routing/validation.py) use them to warn about a domain that is a parent or a subdomain of
another tenant's, so the form, `plan` and this simulator say the same thing.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from console.identifiers import normalize_email
from console.validation import InvalidInput
from sso.models import LoginDomain, WhitelistEntry
from tenants.models import Tenant

T = TypeVar("T")


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


def parent_domains(domain: str) -> list[str]:
    """The domains above `domain` that could be a sign-in domain, nearest first
    (`a.eu.acme.io` -> `eu.acme.io`, `acme.io`); a top-level label alone is never one."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)]


def domain_rule(domain: str, rules: Mapping[str, T]) -> T | None:
    """The rule of `{domain: tenant or row}` that an email at `domain` matches, or None.

    The console assumes a domain matches exactly (the ClearML docs only say "matching domains"):
    `acme.io` does not route `bob@eu.acme.io`, and `eu.acme.io` does not route `bob@acme.io`.
    """
    return rules.get(domain)


def nested_domains_note(
    *, parent: str, parent_tenant: str, child: str, child_tenant: str, local: str = "user"
) -> str:
    """Where users of a domain and of its parent land when the two route to different tenants."""
    rules = {parent: parent_tenant, child: child_tenant}
    lands = " and ".join(
        f"{local}@{domain} goes to '{domain_rule(domain, rules)}'" for domain in (child, parent)
    )
    return (
        f"{child} (tenant '{child_tenant}') is a subdomain of {parent} (tenant "
        f"'{parent_tenant}'). A domain is assumed to match exactly, so {lands}. The ClearML docs "
        f"do not say how domains match: if a domain also routed its subdomains, {local}@{child} "
        f"could land in '{parent_tenant}' instead."
    )


def simulate_route(text: str) -> Route:
    """Route one email the way the console assumes ClearML does (four queries at most)."""
    route = Route(text=text)
    try:
        route.email = normalize_email(text)
    except InvalidInput as exc:
        route.error = exc.errors[0].message
        return route
    local, domain = route.email.rsplit("@", 1)
    entry = (
        WhitelistEntry.objects.select_related("tenant")
        .filter(email=route.email, tenant__deleted_at__isnull=True)
        .first()
    )
    parents = parent_domains(domain)
    rules = {
        row.domain: row
        for row in LoginDomain.objects.select_related("tenant").filter(
            domain__in=[domain, *parents], tenant__deleted_at__isnull=True
        )
    }
    rule = domain_rule(domain, rules)
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
        _note_nested_domains(route, local, domain, [rules[p] for p in parents if p in rules])
        return route
    route.rule = "none"
    for parent in parents:
        if parent in rules:
            route.notes.append(
                f"{parent} routes to '{rules[parent].tenant.name}', but a domain is assumed to "
                f"match exactly: {domain} is not {parent}. Add {domain} to route this email."
            )
    return route


def _note_nested_domains(route: Route, local: str, domain: str, parents: list) -> None:
    """A domain-routed email whose domain has a parent or a subdomain in another tenant."""
    tenant = route.tenant
    for row in parents:
        if row.tenant_id != tenant.pk:
            route.notes.append(
                nested_domains_note(
                    parent=row.domain,
                    parent_tenant=row.tenant.name,
                    child=domain,
                    child_tenant=tenant.name,
                    local=local,
                )
            )
    children = (
        LoginDomain.objects.filter(domain__endswith=f".{domain}", tenant__deleted_at__isnull=True)
        .exclude(tenant_id=tenant.pk)
        .values_list("domain", "tenant__name")
        .order_by("domain")[:20]
    )
    for child, name in children:
        route.notes.append(
            nested_domains_note(
                parent=domain,
                parent_tenant=tenant.name,
                child=child,
                child_tenant=name,
                local=local,
            )
        )
