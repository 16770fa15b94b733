"""Read endpoints: tenants, a tenant's routing, groups, identity providers, the audit log.

Every read comes from the console's database (and the server snapshot the last refresh stored),
through the same selectors the pages use; none calls the apiserver. Secrets are never in an
answer: a secret field says "set", "unset" or the `env:NAME` it is read from.
"""

from typing import Annotated, Literal

from ninja import Path, Query, Router, Schema
from pydantic import Field

from console.audit.chain import ENTRY_FIELDS
from console.audit.forms import AuditFilterForm
from console.audit.masking import is_builtin_secret_name
from console.audit.models import AuditEntry
from console.audit.queries import audit_page
from console.roles import Role
from sso.multitenant.models import MultiTenantLogin, TenantSSOConfig
from sso.multitenant.services import mtl_values, multi_tenant_login
from sso.providers.models import IdentityProvider
from sso.routing.queries import tenant_routing
from tenants.groups.models import CrossTenantGroup
from tenants.groups.settings import stored_builtin_features, stored_organization
from tenants.models import Tenant
from tenants.queries import FILTERS, server_companies, tenant_page

from .auth import require
from .errors import COMMON, BadInput, NotFound
from .schemas import AuditPageOut, GroupsOut, ProvidersOut, RoutingOut, TenantList

router = Router(tags=["reads"])

MAX_ID = 2**63 - 1
TenantKind = Literal["all", "console", "outside", "attention", "deleted"]
Outcome = Literal["success", "failure", "refused", "pending"]
# A day as YYYY-MM-DD (the Audit page's form checks it is a real day); not a bare number,
# which pydantic's date would take as a Unix time.
Day = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", json_schema_extra={"format": "date"})]
assert set(TenantKind.__args__) == set(FILTERS)  # the Tenants page's filters, kept in step


def text(field: str, value: str, limit: int) -> str:
    """A text parameter: at most `limit` characters and no NUL (which PostgreSQL refuses)."""
    value = (value or "").strip()
    if "\x00" in value:
        raise BadInput.field(field, "must not contain a NUL character")
    if len(value) > limit:
        raise BadInput.field(field, f"must be at most {limit} characters")
    return value


def secret_state(value) -> str:
    """A stored secret as the API shows it: "unset", "env:NAME", or "set" (never the value)."""
    if not value:
        return "unset"
    if isinstance(value, str) and value.startswith("env:"):
        return value
    return "set"


def without_secrets(value):
    """A settings mapping with any value under a secret's name replaced by its state (the stored
    settings hold no secret; this keeps it so should one ever be added there)."""
    if isinstance(value, dict):
        return {
            k: secret_state(v) if is_builtin_secret_name(k) else without_secrets(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def live_tenant(tenant_id: int) -> Tenant:
    tenant = Tenant.objects.filter(pk=tenant_id, deleted_at__isnull=True).first()
    if tenant is None:
        raise NotFound(f"There is no tenant {tenant_id} in the console.")
    return tenant


@router.get("/tenants", response={200: TenantList, **COMMON}, summary="Tenants")
def tenants_list(
    request,
    q: str = "",
    kind: TenantKind = "all",
    page: int = Query(1, ge=1, le=MAX_ID),
    per_page: int = Query(100, ge=1, le=500),
):
    """The Tenants page's list: the console's tenants and, as the last refresh read them, the
    apiserver's other companies (`id` null). `kind` filters as the page does."""
    require(request, Role.VIEWER)
    server = server_companies()
    rows = tenant_page(
        server=server, query=text("q", q, 200), kind=kind, number=page, per_page=per_page
    )
    return {
        "tenants": [
            {
                "id": r.tenant_id,
                "name": r.name,
                "company_id": r.company_id,
                "status": r.status,
                "origin": r.origin,
                "on_server": r.on_server,
                "platform": r.platform,
                "admins": r.admins,
            }
            for r in rows.object_list
        ],
        "count": rows.paginator.count,
        "page": rows.number,
        "pages": rows.paginator.num_pages,
        "snapshot_at": server.fetched_at,
    }


@router.get("/tenants/{tenant_id}/routing", response={200: RoutingOut, **COMMON}, summary="Routing")
def tenant_routing_read(request, tenant_id: int = Path(..., ge=1, le=MAX_ID)):
    """The email domains and whitelisted emails that send new users to this tenant."""
    require(request, Role.VIEWER)
    tenant = live_tenant(tenant_id)
    routing = tenant_routing(tenant)
    return {
        "tenant": {"id": tenant.pk, "name": tenant.name},
        "domains": routing.domains,
        "whitelist": {"admins": routing.admins, "users": routing.users},
    }


@router.get("/groups", response={200: GroupsOut, **COMMON}, summary="Groups")
def groups_read(request):
    """Cross-tenant groups, the built-in groups' feature lists (null: not configured) and the
    organization settings."""
    require(request, Role.VIEWER)
    org = stored_organization()
    return {
        "groups": [
            {
                "name": g.name,
                "display_name": g.display_name,
                "id": str(g.group_id),
                "features": list(g.features or []),
                "assignable": g.assignable,
                "version": g.version,
            }
            for g in CrossTenantGroup.objects.all()
        ],
        "builtin_groups": stored_builtin_features(),
        "organization": {
            "features": org.features,
            "unique_company_names": org.unique_company_names,
            "ui_features_per_role": org.ui_features_per_role,
        },
    }


@router.get(
    "/identity-providers", response={200: ProvidersOut, **COMMON}, summary="Identity providers"
)
def identity_providers_read(request):
    """Identity providers, the multi-tenant login switches and each tenant's SSO configuration.
    Secrets: "set", "unset" or "env:NAME", never a value."""
    require(request, Role.VIEWER)
    sso_rows = TenantSSOConfig.objects.select_related("tenant")
    return {
        "identity_providers": [_provider(row) for row in IdentityProvider.objects.all()],
        # Never saved: the model's defaults, which are what the server runs with then.
        "multi_tenant_login": mtl_values(multi_tenant_login() or MultiTenantLogin()),
        "tenant_sso": [_tenant_sso(r) for r in sso_rows.filter(tenant__deleted_at__isnull=True)],
    }


def _provider(row: IdentityProvider) -> dict:
    definition = row.definition
    return {
        "provider": row.provider,
        "label": definition.label,
        "protocol": definition.protocol,
        "settings": without_secrets(row.settings or {}),
        "secrets": {
            f.key: secret_state((row.secrets or {}).get(f.key)) for f in definition.secret_fields
        },
        "allow_http": row.allow_http,
        "metadata_xml": bool(row.metadata_xml),
        "version": row.version,
        "updated_at": row.updated_at,
    }


def _tenant_sso(row: TenantSSOConfig) -> dict:
    return {
        "tenant": {"id": row.tenant_id, "name": row.tenant.name},
        "external_tenant": row.external_tenant,
        "group_mapping": dict(row.group_mapping or {}),
        "admin_groups": list(row.admin_groups or []),
        "provider": row.provider,
        "configuration": without_secrets(row.configuration or {}),
        "client_secret": secret_state(row.client_secret),
        "push_status": row.push_status,
    }


def _audit_entry(entry: AuditEntry) -> dict:
    return {name: getattr(entry, name) for name in ENTRY_FIELDS}


class AuditTextFilters(Schema):
    actor: str = ""
    action: str = ""
    target_type: str = ""
    target: str = ""
    q: str = ""
    request_id: str = ""
    changeset: str = ""


@router.get("/audit", response={200: AuditPageOut, **COMMON}, summary="Audit log")
def audit_read(
    request,
    filters: Query[AuditTextFilters],
    outcome: Outcome | None = None,
    since: Day | None = None,
    until: Day | None = None,
    before: int | None = Query(None, ge=0, le=MAX_ID),
    after: int | None = Query(None, ge=0, le=MAX_ID),
    limit: int = Query(50, ge=1, le=200),
):
    """Audit entries, newest first, filtered as the Audit page filters (`action` ending in `*`
    matches a family; `target` an id or an exact name; `since`/`until` whole days). Paged by
    cursor: `older` is the `before` of the next older page, `newer` the `after` of the newer."""
    require(request, Role.VIEWER)
    form = AuditFilterForm(
        {
            **filters.dict(),
            "outcome": outcome or "",
            "since": since or "",
            "until": until or "",
        }
    )
    if not form.is_valid():
        raise BadInput.of_form(form)
    page = audit_page(form.to_filter(), before=before, after=after, size=limit)
    return {
        "entries": [_audit_entry(e) for e in page.entries],
        "older": page.older,
        "newer": page.newer,
    }
