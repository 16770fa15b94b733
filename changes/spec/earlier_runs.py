"""What a rerun of `apply` says about credentials an earlier, unfinished run handed out."""

from tenants.models import IssuedCredential, ProvisioningStep, Tenant

from ..models import Changeset


def unfinished_credentials(tenant_ids: list[int]) -> list[str]:
    """A line for each key handed out by a changeset that never finished (killed or failed):
    the secret was printed then (and written to --credentials-out), never stored."""
    steps = ProvisioningStep.objects.filter(
        tenant_id__in=tenant_ids,
        kind=ProvisioningStep.Kind.CREDENTIALS_CREATE,
        status=ProvisioningStep.Status.DONE,
    ).exclude(changeset="")
    by_key = {(s.result or {}).get("access_key"): s for s in steps}
    keys = [k for k in by_key if k]
    if not keys:
        return []
    unfinished = {
        str(pk)
        for pk in Changeset.objects.filter(
            pk__in={int(s.changeset) for s in by_key.values() if s.changeset.isdigit()}
        )
        .exclude(status=Changeset.Status.APPLIED)
        .values_list("pk", flat=True)
    }
    # Tenants whose run is still not finished (a later apply that finished would have settled it).
    unsettled = set(
        Tenant.objects.filter(pk__in=tenant_ids)
        .exclude(status=Tenant.Status.ACTIVE)
        .values_list("pk", flat=True)
    )
    lines = []
    issued = IssuedCredential.objects.filter(access_key__in=keys).select_related("admin__tenant")
    for credential in issued:
        step = by_key[credential.access_key]
        if step.changeset not in unfinished or credential.admin.tenant_id not in unsettled:
            continue
        admin = credential.admin
        lines.append(
            f"note: {admin.tenant.name} / {admin.email}: credentials {credential.access_key} were "
            f"created by changeset {step.changeset}, which did not finish; they were printed then "
            "(and written to the --credentials-out file, if one was given). If that output is "
            "lost, create new ones on the tenant's page (New credentials) and revoke "
            f"{credential.access_key}."
        )
    return lines


def admins_without_credentials(tenant_ids: list[int]) -> list[str]:
    """Admins of console-created tenants the console never handed credentials to."""
    lines = []
    for tenant in Tenant.objects.filter(
        pk__in=tenant_ids, origin=Tenant.Origin.CONSOLE, deleted_at__isnull=True
    ).prefetch_related("admins__credentials"):
        for admin in tenant.admins.all():
            if admin.user_id and not admin.credentials.all():
                lines.append(
                    f"note: {tenant.name} / {admin.email} has no credentials the console handed "
                    "out; create them on the tenant's page (New credentials)."
                )
    return lines
