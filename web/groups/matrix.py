"""The effective-features matrix page's data: which features a user in some groups gets, in a
tenant (or none), for a role, and why (read-only)."""

from urllib.parse import urlencode

from django.http import QueryDict

from tenants.features import FEATURES, UI_ROLES
from tenants.groups.effective import GroupGrant, TenantScope, build_row
from tenants.groups.models import BUILTIN_GROUPS, CrossTenantGroup
from tenants.groups.settings import stored_builtin_features, stored_organization
from tenants.models import Tenant


def grants() -> tuple[dict[str, GroupGrant], list[tuple[str, str, GroupGrant]]]:
    """(all grants by row key, the selectable rows: key, label, grant)."""
    builtin = stored_builtin_features()
    by_key: dict[str, GroupGrant] = {}
    rows: list[tuple[str, str, GroupGrant]] = []
    for name in BUILTIN_GROUPS:
        features = builtin[name]
        grant = GroupGrant(
            name=name,
            features=None if features is None else tuple(features),
            builtin=True,
        )
        by_key[name] = grant
        rows.append((name, name, grant))
    for group in CrossTenantGroup.objects.all():
        key = f"g{group.pk}"
        grant = GroupGrant(
            name=group.name, features=tuple(group.features or []), assignable=group.assignable
        )
        by_key[key] = grant
        rows.append((key, group.name, grant))
    return by_key, rows


def _scope(tenant: Tenant | None) -> TenantScope:
    if tenant is None:
        return TenantScope()
    return TenantScope(
        name=tenant.name,
        features=tuple(tenant.features or []),
        exclude_features=tuple(tenant.exclude_features or []),
    )


def _link_cells(rows: list, choices: dict) -> None:
    """Each cell's explanation link keeps the page's choices (tenant, role, strict, groups) and
    names the cell. Only those: the whole query, copied into each of some 200 links, made a
    400 KB parameter 80 MB of page and 10 s of CPU."""
    base = urlencode(choices, doseq=True)
    for matrix_row in rows:
        for cell in matrix_row.cells:
            wanted = urlencode({"cell": f"{matrix_row.key}:{cell.feature}"})
            cell.query = f"{base}&{wanted}" if base else wanted
            cell.title = " ".join(cell.reasons)


def _explained(rows: list, wanted: str) -> dict | None:
    if ":" not in wanted:
        return None
    row_key, feature = wanted.split(":", 1)
    for matrix_row in rows:
        if matrix_row.key == row_key:
            cell = next((c for c in matrix_row.cells if c.feature == feature), None)
            return {"row": matrix_row, "cell": cell} if cell is not None else None
    return None


def effective_context(query: QueryDict) -> dict:
    """The page's context from its query: `tenant`, `role`, `strict`, `in` (group keys), `cell`."""
    organization = stored_organization()
    tenants = list(Tenant.objects.filter(deleted_at__isnull=True).order_by("name"))
    tenant_pk = query.get("tenant", "")
    tenant = next((t for t in tenants if str(t.pk) == tenant_pk), None)
    scope = _scope(tenant)
    role = query.get("role", "user")
    role = role if role in UI_ROLES else "user"
    strict = query.get("strict") == "1"
    by_key, selectable = grants()
    users = by_key["users"]
    chosen = [k for k in query.getlist("in") if k in by_key and k != "users"]

    def row(label, key, row_grants):
        return build_row(label, key, row_grants, scope, organization, role=role, strict=strict)

    rows = [row("users (every user)", "users", [users])]
    for key, label, grant in selectable:
        if key != "users":
            rows.append(row(f"users + {label}", key, [users, grant]))
    if chosen:
        names = " and ".join(by_key[k].name for k in chosen)
        rows.append(row(f"A user in {names}", "combo", [users, *[by_key[k] for k in chosen]]))
    choices = {"tenant": str(tenant.pk) if tenant else "", "role": role, "in": chosen}
    if strict:
        choices["strict"] = "1"
    _link_cells(rows, choices)
    return {
        "tenants": tenants,
        "tenant": tenant,
        "scope": scope,
        "role": role,
        "roles": UI_ROLES,
        "strict": strict,
        "selectable": [
            {"key": k, "label": label, "checked": k in chosen}
            for k, label, _ in selectable
            if k != "users"
        ],
        "features": FEATURES,
        "rows": rows,
        "explained": _explained(rows, query.get("cell", "")),
        "organization": organization,
    }
