"""A tenant's administrator vaults (ClearML docs: "Administrator Vaults"), changed as changesets.

The vault calls are made as the tenant's admin, as the docs do: `auth.login` gives a token and
`users.get_vaults`, `users.add_or_update_vault`, `users.delete_vaults` carry it. The console never
holds a tenant admin's secret, so by default it signs in by impersonating the tenant's first
admin (`X-Clearml-Impersonate-As`, with the platform key); a server that refuses that needs the
admin's own key pair, given as a file that `apply --credentials-out` wrote (`credentials=`).

- **set** (`vault.set`): create a group-scoped vault, or update the one with the same id or
  description. The document is checked first (tenants/vaults.py); the changeset's step and the
  audit log keep its fingerprint and size, never its content (the call's `data` is a marker).
- **delete** (`vault.delete`, risky): only a group-scoped vault; the user-scoped one is the
  admin's own, kept by the web app, and is never deleted.
- **list** and **reveal**: read calls; a reveal (a vault's content, for an admin who signed in
  recently) is audited as `vault.reveal` with its fingerprint.

After a change the tenant's vault summaries in the snapshot are read again.
"""

from dataclasses import dataclass

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from console.apiserver import ApiClient, ApiError, client_from_settings
from console.apiserver.token_client import client_with_token
from console.audit import audit_record
from console.snapshot import store
from tenants.models import Tenant
from tenants.onboarding import KitCredentials
from tenants.vaults import (
    ALL_USERS_GROUP,
    VaultDocument,
    VaultDocumentError,
    check_description,
    document_fingerprint,
)

from .engine import (
    ReplayFailed,
    approval_gate,
    changeset_hold,
    changeset_open,
    changeset_set_steps,
)
from .fleet_reads import not_supported, vault_summary
from .models import Changeset
from .plan import ChangePlan, PlannedStep, approval_reason, approvals_on
from .remote_steps import IN_MEMORY, send_steps

SET, DELETE = "vault.set", "vault.delete"
TARGET = "vault"


class VaultRefused(Exception):
    """The vault change cannot be made: no admin to act as, an unknown or user-scoped vault. The
    message says which (a command exits 2)."""


class VaultServerRefused(VaultRefused):
    """The server cannot do it: no vault calls (not Enterprise), or the admin cannot sign in (a
    command exits 1)."""


@dataclass
class VaultChange:
    changeset: Changeset
    vault_id: str = ""
    error: str = ""

    @property
    def held(self) -> bool:
        return self.changeset.status == Changeset.Status.AWAITING_APPROVAL


@sensitive_variables("credentials")
def admin_client(tenant: Tenant, credentials: KitCredentials | None = None) -> ApiClient:
    """A client signed in as the tenant's admin (see the module's docstring). VaultRefused when
    no admin can be signed in; the message says how to give the admin's key pair instead."""
    base = client_from_settings()
    try:
        if credentials is not None:
            own = ApiClient(
                url=base.url,
                key=credentials.access_key,
                secret=credentials.secret_key,
                timeout=base.timeout,
            )
            data = own.call("auth.login", {}, read=True)
        else:
            admin = tenant.first_admin()
            if admin is None:
                raise VaultRefused(
                    f"Tenant {tenant.name!r} has no admin user on the apiserver to sign in as; "
                    "give an admin's key pair with --credentials-from FILE."
                )
            data = base.call("auth.login", {}, impersonate_as=admin.user_id, read=True)
    except ApiError as exc:
        how = "" if credentials else " (or give an admin's key pair with --credentials-from FILE)"
        raise VaultServerRefused(
            f"Tenant {tenant.name!r}: its admin cannot sign in: {exc}. Check the admin{how}."
        ) from None
    token = str(data.get("token") or "")
    if not token:
        raise VaultServerRefused(f"Tenant {tenant.name!r}: auth.login answered without a token.")
    return client_with_token(base, token)


def vaults_live(tenant: Tenant, client: ApiClient) -> list[dict]:
    """The tenant's vaults as the server lists them now (content included: keep it in memory)."""
    try:
        data = client.call("users.get_vaults", {})
    except ApiError as exc:
        if not_supported(exc):
            raise VaultServerRefused(
                f"Tenant {tenant.name!r}: this apiserver has no administrator vaults "
                f"(an Enterprise feature): {exc}"
            ) from None
        raise
    return [v for v in data.get("vaults") or [] if isinstance(v, dict)]


def vault_summaries(tenant: Tenant, *, credentials=None) -> list[dict]:
    """The group-scoped vaults (summaries, never the content), read now; the snapshot row of the
    tenant is replaced with them."""
    client = admin_client(tenant, credentials)
    vaults = vaults_live(tenant, client)
    _store(tenant, vaults)
    return [vault_summary(v) for v in vaults if v.get("scope") == "group"]


def _store(tenant: Tenant, vaults: list[dict]) -> None:
    summaries = [vault_summary(v) for v in vaults]
    data = {"supported": True, "vaults": summaries, "tenant": tenant.name, "tenant_id": tenant.pk}
    store.snapshot_put(store.VAULTS, tenant.company_id, data)


def _group_vault(tenant: Tenant, vaults: list[dict], vault_id: str) -> dict:
    found = next((v for v in vaults if str(v.get("id")) == vault_id), None)
    if found is None:
        raise VaultRefused(f"Vault {vault_id[:60]!r}: tenant {tenant.name!r} has no such vault.")
    if found.get("scope") != "group":
        raise VaultRefused(
            f"Vault {vault_id}: it is the admin's own user-scoped vault, which the web app "
            "manages; the console changes only group-scoped vaults."
        )
    return found


@sensitive_variables("document", "body")
def vault_set(
    *,
    tenant: Tenant,
    document: VaultDocument,
    description: str,
    actor: str,
    face: str = "form",
    group: str = "",
    vault_id: str = "",
    enabled: bool = True,
    credentials=None,
) -> VaultChange:
    """Create or update a group-scoped vault with the checked `document`. Raises VaultRefused,
    VaultDocumentError (a bad description), ApiError (the server could not be read)."""
    description = check_description(description)
    client = admin_client(tenant, credentials)
    vaults = vaults_live(tenant, client)
    existing = _group_vault(tenant, vaults, vault_id) if vault_id else None
    if existing is None and description:
        existing = next(
            (
                v
                for v in vaults
                if v.get("scope") == "group" and (v.get("description") or "") == description
            ),
            None,
        )
    body = {
        "scope": "group",
        "enabled": enabled,
        "format": document.format,
        "type": "config",
        "description": description,
    }
    if existing is not None:
        body["id"] = str(existing["id"])
    group = group or str((existing or {}).get("group") or "") or ALL_USERS_GROUP
    before = _shown(existing) if existing else None
    after = {**_shown({**body, "data": document.text}), "group": group}
    step = PlannedStep(
        kind=SET,
        target=f"{tenant.name}/{body.get('id') or description or 'new vault'}",
        before=before,
        after=after,
        call={
            "endpoint": "users.add_or_update_vault",
            "body": {"group": group, "vault": {**body, "data": IN_MEMORY}},
        },
    )
    verb = "Update" if existing else "Create"
    plan = ChangePlan(
        kind=SET,
        summary=f"{verb} the admin vault {description or body.get('id', '')!s} of {tenant.name}",
        steps=[step],
        desired={
            "tenant": tenant.pk,
            "vault": body.get("id", ""),
            "fingerprint": after["fingerprint"],
        },
    )
    changeset = _record(plan, actor=actor, face=face)
    values = {1: {"vault": {**body, "data": document.text}}}
    sent = send_steps(
        changeset,
        actor=actor,
        target_type=TARGET,
        client=client,
        values=values,
        answer_after=lambda s, data: {"id": data.get("vault") or body.get("id")},
    )
    change = VaultChange(changeset=changeset, error="" if sent.ok else changeset.error)
    if sent.ok:
        change.vault_id = str((sent.answers.get(1) or {}).get("vault") or body.get("id") or "")
        _store(tenant, vaults_live(tenant, client))
    return change


def _shown(vault: dict) -> dict:
    """What a changeset and the audit log keep of a vault: never its content."""
    data = vault.get("data") if isinstance(vault.get("data"), str) else ""
    return {
        "description": vault.get("description") or "",
        "format": vault.get("format") or "",
        "enabled": vault.get("enabled"),
        "size": len(data),
        "fingerprint": document_fingerprint(data),
    }


def _record(plan: ChangePlan, *, actor: str, face: str) -> Changeset:
    with transaction.atomic():
        changeset = changeset_open(
            kind=plan.kind, summary=plan.summary, actor=actor, face=face, desired=plan.desired
        )
        changeset_set_steps(changeset, plan)
    return changeset


def delete_plan(tenant: Tenant, vault: dict) -> ChangePlan:
    vault_id = str(vault["id"])
    return ChangePlan(
        kind=DELETE,
        summary=f"Delete the admin vault {vault.get('description') or vault_id} of {tenant.name}",
        steps=[
            PlannedStep(
                kind=DELETE,
                target=f"{tenant.name}/{vault_id}",
                before=_shown(vault),
                after=None,
                call={"endpoint": "users.delete_vaults", "body": {"vaults": [vault_id]}},
            )
        ],
        desired={"tenant": tenant.pk, "vault": vault_id},
    )


def vault_delete(
    *, tenant: Tenant, vault_id: str, actor: str, face: str = "form", credentials=None
) -> VaultChange:
    """Delete one group-scoped vault (held for approval when CONSOLE_APPROVALS is on)."""
    client = admin_client(tenant, credentials)
    vault = _group_vault(tenant, vaults_live(tenant, client), vault_id.strip())
    plan = delete_plan(tenant, vault)
    reason = approval_reason(plan.kind, plan.steps) if approvals_on() else ""
    if reason:
        with transaction.atomic():
            changeset = changeset_open(
                kind=plan.kind, summary=plan.summary, actor=actor, face=face, desired=plan.desired
            )
            return VaultChange(changeset=changeset_hold(changeset, plan, reason=reason))
    return _send_delete(_record(plan, actor=actor, face=face), tenant, client, actor)


def _send_delete(changeset: Changeset, tenant: Tenant, client: ApiClient, actor: str):
    sent = send_steps(
        changeset,
        actor=actor,
        target_type=TARGET,
        client=client,
        answer_after=lambda s, data: {"deleted": data.get("deleted")},
    )
    change = VaultChange(changeset=changeset, error="" if sent.ok else changeset.error)
    if sent.ok:
        _store(tenant, vaults_live(tenant, client))
    return change


def delete_applier(changeset: Changeset, *, actor: str, face: str = "form") -> list:
    """changes.apply's applier of an approved (or failed) `vault.delete`."""
    approval_gate(changeset, actor=actor)
    tenant = Tenant.objects.filter(pk=(changeset.desired or {}).get("tenant")).first()
    try:
        if tenant is None:
            raise VaultRefused("its tenant no longer exists")
        change = _send_delete(changeset, tenant, admin_client(tenant), actor)
    except VaultRefused as exc:
        raise ReplayFailed(f"Changeset {changeset.pk} was not applied: {exc}") from None
    if change.error:
        raise ReplayFailed(change.error)
    return []


@sensitive_variables()
def vault_reveal(*, tenant: Tenant, vault_id: str, actor: str, credentials=None) -> dict:
    """One group-scoped vault with its content, read now, for a page that shows it once; the
    reveal is audited (`vault.reveal`, the content's fingerprint only)."""
    client = admin_client(tenant, credentials)
    vault = _group_vault(tenant, vaults_live(tenant, client), vault_id.strip())
    audit_record(
        actor=actor,
        action="vault.reveal",
        target_type=TARGET,
        target_id=f"{tenant.name}/{vault_id}",
        target_repr=vault.get("description") or vault_id,
        after=_shown(vault),
    )
    return vault


__all__ = [
    "VaultChange",
    "VaultDocumentError",
    "VaultRefused",
    "VaultServerRefused",
    "vault_delete",
    "vault_reveal",
    "vault_set",
    "vault_summaries",
]


# -- vault templates: one document set on many tenants as one changeset --------------------------
TEMPLATE = "vault.template"


@dataclass
class TemplateApplied:
    changeset: Changeset | None
    saved: list[str]  # tenants whose vault was saved
    failed: list[str]  # "<tenant>: <why>" for tenants whose call failed
    skipped: list[str]  # "<tenant>: <why>" for tenants that could not be planned


@sensitive_variables("document", "values")
def vault_template(
    *,
    tenants: list[Tenant],
    document: VaultDocument,
    description: str,
    actor: str,
    face: str = "form",
    group: str = "",
) -> TemplateApplied:
    """Set the same group-scoped vault (matched by `description`) on every tenant, as one
    changeset of one `vault.set` step per tenant. A tenant whose admin cannot sign in, or whose
    server has no vaults, is skipped with the reason; the others go on after a failed call.
    With CONSOLE_APPROVALS on, a template of more than BULK_STEPS tenants is refused: the
    document is never kept, so a held changeset could not be sent later."""
    description = check_description(description)
    if not description:
        raise VaultDocumentError(
            "Description: a template needs one; it is how each tenant's vault is found again."
        )
    clients: dict[int, ApiClient] = {}
    steps, values, skipped = [], {}, []
    for tenant in tenants:
        try:
            client = admin_client(tenant)
            existing = next(
                (
                    v
                    for v in vaults_live(tenant, client)
                    if v.get("scope") == "group" and (v.get("description") or "") == description
                ),
                None,
            )
        except (VaultRefused, ApiError) as exc:
            skipped.append(f"{tenant.name}: {exc}")
            continue
        body = {
            "scope": "group",
            "enabled": True,
            "format": document.format,
            "type": "config",
            "description": description,
        }
        if existing is not None:
            body["id"] = str(existing["id"])
        vault_group = group or str((existing or {}).get("group") or "") or ALL_USERS_GROUP
        target = f"{tenant.name}/{description}"
        clients[tenant.pk] = client
        steps.append(
            PlannedStep(
                kind=SET,
                target=target,
                before=_shown(existing) if existing else None,
                after={**_shown({**body, "data": document.text}), "group": vault_group},
                call={
                    "endpoint": "users.add_or_update_vault",
                    "body": {"group": vault_group, "vault": {**body, "data": IN_MEMORY}},
                },
                ref={"tenant": tenant.pk},
            )
        )
        values[len(steps)] = {"vault": {**body, "data": document.text}}
    if not steps:
        return TemplateApplied(changeset=None, saved=[], failed=[], skipped=skipped)
    plan = ChangePlan(
        kind=TEMPLATE,
        summary=f"Set the admin vault {description} on {len(steps)} tenant(s)",
        steps=steps,
        desired={"description": description, "fingerprint": document.fingerprint},
    )
    if approvals_on() and approval_reason(plan.kind, plan.steps):
        raise VaultRefused(
            f"A template on {len(steps)} tenants would wait for approval, and the console does "
            "not keep a vault's content until then: apply it to 50 tenants or fewer at a time."
        )
    changeset = _record(plan, actor=actor, face=face)
    sent = send_steps(
        changeset,
        actor=actor,
        target_type=TARGET,
        values=values,
        client_for=lambda step: clients[step.ref["tenant"]],
        stop_on_failure=False,
        answer_after=lambda s, data: {"id": data.get("vault")},
    )
    by_position = {s.position: s for s in changeset.steps.all()}
    failed = [f"{by_position[p].target}: {e}" for p, e in sent.errors.items()]
    saved_ids = {by_position[p].ref.get("tenant") for p in sent.answers}
    saved = [t.name for t in tenants if t.pk in saved_ids]
    for tenant in tenants:
        if tenant.pk in saved_ids:
            try:
                _store(tenant, vaults_live(tenant, clients[tenant.pk]))
            except (VaultRefused, ApiError):
                pass  # the next refresh reads it
    return TemplateApplied(changeset=changeset, saved=saved, failed=failed, skipped=skipped)
