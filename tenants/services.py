"""Changing tenants: every write goes through one of these, with its audit entry.

Local changes and their audit entry share one `transaction.atomic()`. Calls to the apiserver are
recorded as provisioning steps (tenants.provisioning) and run outside that transaction, so a
failure part-way leaves a tenant that can be resumed, never a half-made one nobody knows about.
Secrets never reach the audit log: new credentials live only in the returned RunOutcome.
"""

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from console.apiserver import ApiClient
from console.audit import audit_record
from console.audit.bulk import bulk_append
from console.validation import FieldError, InvalidInput, shown, too_long
from tenants.models import MAX_TENANT_NAME, ProvisioningStep, Tenant, TenantAdmin
from tenants.provisioning import calls as steps
from tenants.provisioning.engine import (
    record_run,
    supersede_open_steps,
)
from tenants.validation import AdminInput, TenantInput, name_taken_by

STALE_MESSAGE = "This tenant was changed by someone else since you opened it; review and retry."
EMPTY_LOGIN = {"domains": [], "whitelist": []}


class TenantChanged(Exception):
    """Optimistic locking: the version the form was rendered with is no longer current."""

    def __init__(self, message: str = STALE_MESSAGE):
        super().__init__(message)


class NotAllowed(Exception):
    """The tenant is not in a state that allows this (e.g. editing while provisioning)."""


def tenant_snapshot(tenant: Tenant, admins=None) -> dict:
    admins = tenant.admins.all() if admins is None else admins
    return {
        "name": tenant.name,
        "company_id": tenant.company_id,
        "allowed_users": tenant.allowed_users,
        "features": list(tenant.features or []),
        "exclude_features": list(tenant.exclude_features or []),
        "status": tenant.status,
        "origin": tenant.origin,
        "admins": [a.email for a in admins],
    }


# --- building steps -----------------------------------------------------------------------------


def creation_steps(tenant: Tenant, data: TenantInput) -> list[steps.StepSpec]:
    """multi_tenant_k8s.md "Create a Tenant", in the docs' order, for a saved tenant: the company,
    then each admin and their credentials. (Routing and SSO calls follow; the change pipeline
    adds them.)"""
    specs = [
        steps.company_create_step(
            name=tenant.name,
            allowed_users=tenant.allowed_users,
            features=tenant.features,
            exclude_features=tenant.exclude_features,
        )
    ]
    for admin in data.admins:
        specs.append(
            steps.user_create_step(name=admin.name, email=admin.email, internal=admin.internal)
        )
        specs.append(steps.credentials_step(email=admin.email))
    return specs


# --- services -----------------------------------------------------------------------------------


def _save_admins(tenant: Tenant, admins: list[AdminInput]) -> None:
    for admin in admins:
        TenantAdmin.objects.create(
            tenant=tenant, name=admin.name, email=admin.email, internal=admin.internal
        )


def tenant_save_new(*, data: TenantInput, actor: str) -> Tenant:
    """Save a new (planned) tenant and its admins with the audit entry; nothing is sent.

    Call inside the caller's transaction (the change pipeline records the tenant's steps in it).
    Raises InvalidInput when another admin saved the same name or email meanwhile.
    """
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(
                name=data.name,
                allowed_users=data.allowed_users,
                features=data.features,
                exclude_features=data.exclude_features,
                origin=Tenant.Origin.CONSOLE,
                status=Tenant.Status.PLANNED,
            )
            _save_admins(tenant, data.admins)
            _audit_tenant(tenant, actor=actor, action="tenant.create")
    except IntegrityError:
        # Another admin saved the same name or email between validation and now.
        raise InvalidInput(
            FieldError(
                "name",
                f"A tenant named '{data.name}' or one of these admins was just created by "
                "someone else; reload the page and check before saving again.",
            )
        ) from None
    return tenant


def _claim_version(tenant_id: int, version: int, **changes) -> int:
    """Bump the version if it is still `version`; raise TenantChanged otherwise."""
    updated = Tenant.objects.filter(pk=tenant_id, version=version, deleted_at__isnull=True).update(
        version=F("version") + 1, updated_at=timezone.now(), **changes
    )
    if updated != 1:
        raise TenantChanged()
    return version + 1


def settings_changes(tenant: Tenant, *, allowed_users, features, exclude_features) -> dict:
    """The keys of system.update_company_settings that differ (each key replaces the list)."""
    body = {}
    if list(features) != list(tenant.features or []):
        body["features"] = list(features)
    if list(exclude_features) != list(tenant.exclude_features or []):
        body["exclude_features"] = list(exclude_features)
    if allowed_users != tenant.allowed_users:
        body["allowed_users"] = allowed_users  # None removes the limit (server default)
    return body


def check_editable(tenant: Tenant) -> None:
    """Raise NotAllowed unless the tenant is active on the server (its settings can be pushed)."""
    if tenant.status != Tenant.Status.ACTIVE or not tenant.company_id:
        raise NotAllowed(
            "Only an active tenant can be edited; finish or resume its provisioning first."
        )


def tenant_update(
    *,
    tenant: Tenant,
    version: int,
    data: TenantInput,
    actor: str,
    changeset: str = "",
) -> bool:
    """Change allowed_users / features through system.update_company_settings.

    Saves the new settings and records the call (with its pending audit entry); the change
    pipeline runs it. Returns False when nothing changed. Raises TenantChanged (someone saved
    since `version`) or NotAllowed (the tenant is not active on the server yet).
    """
    check_editable(tenant)
    changes = settings_changes(
        tenant,
        allowed_users=data.allowed_users,
        features=data.features,
        exclude_features=data.exclude_features,
    )
    if not changes:
        if tenant.version != version:
            raise TenantChanged()
        return False
    before = tenant_snapshot(tenant)
    with transaction.atomic():
        _claim_version(
            tenant.pk,
            version,
            allowed_users=data.allowed_users,
            features=data.features,
            exclude_features=data.exclude_features,
        )
        tenant.refresh_from_db()
        _audit_tenant(tenant, actor=actor, action="tenant.update", before=before)
        record_run(
            tenant,
            actor=actor,
            changeset=changeset,
            specs=[
                steps.StepSpec(
                    kind=ProvisioningStep.Kind.CALL,
                    endpoint="system.update_company_settings",
                    body={"company": tenant.company_id, **changes},
                    description="Update the tenant's settings: " + ", ".join(changes),
                )
            ],
        )
    return True


ADOPTABLE_SETTINGS = ("features", "exclude_features", "allowed_users")


def tenant_settings_adopt(*, tenant: Tenant, field: str, value, actor: str) -> Tenant:
    """Take the server's value of one setting as the console's (drift: "adopt the server's
    value"); nothing is sent. Raises TenantChanged (someone saved meanwhile)."""
    if field not in ADOPTABLE_SETTINGS:
        raise InvalidInput(FieldError("field", f"{field!r} is not a tenant setting"))
    if field == "allowed_users":
        value = int(value) if value not in (None, "") else None
    else:
        value = [str(v) for v in value or []]
    before = tenant_snapshot(tenant)
    with transaction.atomic():
        _claim_version(tenant.pk, tenant.version, **{field: value})
        tenant.refresh_from_db()
        _audit_tenant(tenant, actor=actor, action="tenant.adopt", before=before)
    return tenant


def tenant_credentials_record(
    *, tenant: Tenant, admin: TenantAdmin, actor: str, changeset: str = ""
) -> None:
    """Record the call that makes a new key pair for a tenant admin (impersonating the admin);
    the change pipeline runs it. The secret is shown once, never stored."""
    if tenant.status != Tenant.Status.ACTIVE or not admin.user_id:
        raise NotAllowed("Credentials can be created for an admin of an active tenant only.")
    if admin.tenant_id != tenant.pk:
        raise NotAllowed("This admin belongs to another tenant.")
    with transaction.atomic():
        record_run(
            tenant, [steps.credentials_step(email=admin.email)], actor=actor, changeset=changeset
        )


def company_admins(client: ApiClient, company_id: str) -> list[dict]:
    from tenants.provisioning.lookups import company_users

    return [u for u in company_users(client, company_id) if u.get("role") == "admin"]


def tenant_import(*, company: dict, actor: str, admins: list[dict] | None = None) -> Tenant:
    """Adopt a company created outside the console (its id, name, defaults and admin users)."""
    name = " ".join(str(company.get("name") or "").split())
    company_id = str(company.get("id") or "")
    if not name or not company_id:
        raise InvalidInput(
            FieldError(
                "company",
                "The server's company has no name or no id, so it cannot be imported; give it a "
                "name on the server, press Refresh and try again.",
            )
        )
    if len(name) > MAX_TENANT_NAME:
        raise InvalidInput(
            FieldError(
                "name",
                f"{too_long('The company name', name, MAX_TENANT_NAME)[:-1]} on the server before "
                "importing it (the console keeps tenant names that short).",
            )
        )
    if Tenant.objects.filter(company_id=company_id).exists():
        raise InvalidInput(
            FieldError(
                "company",
                f"The company {company_id} is already imported; open its tenant page instead.",
            )
        )
    other = name_taken_by(name, None)
    if other is not None:
        raise InvalidInput(
            FieldError(
                "name",
                f"The console already has a tenant named '{other.name}' (names are compared "
                "ignoring case); rename one of them first.",
            )
        )
    defaults = company.get("defaults") or {}
    allowed = defaults.get("allowed_users")
    try:
        allowed = int(allowed) if allowed not in (None, "") else None
    except (TypeError, ValueError):
        allowed = None
    taken = set(
        TenantAdmin.objects.filter(
            email__in=[str(a.get("email") or "").lower() for a in admins or []], released=False
        ).values_list("email", flat=True)
    )
    with transaction.atomic():
        tenant = Tenant.objects.create(
            name=name[:100],
            company_id=company_id,
            allowed_users=allowed if allowed and allowed > 0 else None,
            features=[str(f) for f in defaults.get("features") or []],
            exclude_features=[str(f) for f in defaults.get("exclude_features") or []],
            origin=Tenant.Origin.IMPORTED,
            status=Tenant.Status.ACTIVE,
        )
        for user in admins or []:
            email = str(user.get("email") or "").strip().lower()
            if not email or email in taken:
                continue
            taken.add(email)
            TenantAdmin.objects.create(
                tenant=tenant,
                name=str(user.get("name") or email)[:200],
                email=email,
                internal=bool(user.get("internal", True)),
                user_id=str(user.get("id") or ""),
            )
        _audit_tenant(tenant, actor=actor, action="tenant.import")
    return tenant


def tenant_mark_deleted(*, tenant: Tenant, version: int, typed_name: str, actor: str) -> Tenant:
    """After the admin ran the deletion runbook: mark the tenant deleted (there is no API)."""
    if typed_name.strip() != tenant.name:
        raise InvalidInput(
            FieldError(
                "confirm_name",
                f"{shown(typed_name.strip())} is not the tenant's name; type '{tenant.name}' "
                "exactly to confirm.",
            )
        )
    if tenant.is_deleted:
        raise NotAllowed("This tenant is already marked as deleted.")
    before = tenant_snapshot(tenant)
    with transaction.atomic():
        _claim_version(tenant.pk, version, status=Tenant.Status.DELETED, deleted_at=timezone.now())
        # The runbook removed the company's users and routing; free their emails and domains.
        tenant.admins.update(released=True)
        tenant.login_domains.all().delete()
        tenant.whitelist.all().delete()
        bulk_append(supersede_open_steps(tenant, actor=actor))
        tenant.refresh_from_db()
        _audit_tenant(tenant, actor=actor, action="tenant.delete", before=before)
    return tenant


def discardable(tenant: Tenant) -> bool:
    """Nothing of the tenant can exist on the server: no company id and no lost answer."""
    if tenant.company_id or tenant.is_deleted or tenant.status == Tenant.Status.PROVISIONING:
        return False
    return not tenant.steps.filter(
        status__in=[ProvisioningStep.Status.SENT, ProvisioningStep.Status.UNKNOWN]
    ).exists()


def tenant_discard(*, tenant: Tenant, actor: str) -> None:
    """Forget a tenant that never reached the apiserver (see `discardable`)."""
    if not discardable(tenant):
        raise NotAllowed(
            "Only a tenant that does not exist on the apiserver can be discarded (no company "
            "was created and no call's answer was lost); use the deletion runbook instead."
        )
    before = tenant_snapshot(tenant)
    with transaction.atomic():
        # Its calls were never sent: their pending entries are closed as "not sent".
        bulk_append(supersede_open_steps(tenant, actor=actor))
        audit_record(
            actor=actor,
            action="tenant.delete",
            target_type="tenant",
            target_id=str(tenant.pk),
            target_repr=tenant.name,
            before=before,
            after={"discarded": True},
        )
        tenant.delete()


def _audit_tenant(tenant: Tenant, *, actor: str, action: str, before: dict | None = None) -> None:
    """The audit entry of a change to `tenant`: what it was (`before`) and what it is now."""
    audit_record(
        actor=actor,
        action=action,
        target_type="tenant",
        target_id=str(tenant.pk),
        target_repr=tenant.name,
        before=before,
        after=tenant_snapshot(tenant),
    )
