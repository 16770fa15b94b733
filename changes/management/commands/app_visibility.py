"""`manage.py app_visibility`: application instance visibility (docs/app-visibility.md).

    app_visibility server [--allowed V] [--app APP_ID=V ...] [--format {helm,compose,env,shell}]
    app_visibility show [TENANT] [--json]
    app_visibility set TENANT [--allowed V] [--app APP_ID=V ...]

`server` prints the apiserver variables of the server's default and per-application overrides
(no call); `show` what the console last sent per tenant; `set` sends a tenant's whole policy as a
changeset (`system.update_company_app_instance_access`). Exit 1 when the server refused or could
not be reached, 2 for bad input or an unknown tenant, 4 when the change waits for approval.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from changes.app_access import last_sent, tenant_app_access_set
from changes.engine import ApprovalMissing
from console.app_visibility import parse_policy, policy_body, policy_settings
from console.audit.service import cli_actor
from console.snippets import FORMATS, render
from console.validation import InvalidInput
from tenants.models import Tenant
from tenants.provisioning.engine import TenantBusy
from tenants.services import NotAllowed

WAITS_FOR_APPROVAL = 4


def _tenant(name: str) -> Tenant:
    tenant = Tenant.objects.filter(deleted_at__isnull=True, name__iexact=name.strip()).first()
    if tenant is None:
        raise CommandError(f"TENANT {name!r}: no console tenant has this name.", returncode=2)
    return tenant


def _policy(options: dict):
    lines = "\n".join(options.get("app") or [])
    try:
        return parse_policy(options.get("allowed") or "", lines)
    except InvalidInput as exc:
        message = " ".join(e.message for e in exc.errors).replace("apps line", "--app number")
        raise CommandError(message, returncode=2) from None


class Command(BaseCommand):
    help = "Application instance visibility: server variables, and each tenant's policy."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        server = actions.add_parser("server", help="print the server's variables")
        server.add_argument("--format", choices=FORMATS, default="helm", dest="fmt")
        show = actions.add_parser("show", help="what the console last sent per tenant")
        show.add_argument("tenant", nargs="?", metavar="TENANT")
        show.add_argument("--json", action="store_true")
        change = actions.add_parser("set", help="send a tenant's whole policy")
        change.add_argument("tenant", metavar="TENANT")
        for sub in (server, change):
            sub.add_argument("--allowed", choices=("all", "owner", "group", "groups"))
            sub.add_argument("--app", action="append", metavar="APP_ID=VALUE")

    def handle(self, *args, action: str, **options):
        if action == "server":
            self.stdout.write(render(policy_settings(_policy(options)), options["fmt"]), ending="")
        elif action == "show":
            self._show(options.get("tenant"), options["json"])
        else:
            self._set(_tenant(options["tenant"]), _policy(options))

    def _show(self, name: str | None, as_json: bool) -> None:
        tenants = [_tenant(name)] if name else Tenant.objects.filter(deleted_at__isnull=True)
        rows = []
        for tenant in tenants.order_by("name") if not name else tenants:
            sent = last_sent(tenant)
            rows.append(
                {
                    "tenant": tenant.name,
                    "app_instance_access": policy_body(sent.policy) if sent else None,
                    "status": sent.status if sent else None,
                }
            )
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for row in rows:
            policy = json.dumps(row["app_instance_access"]) if row["status"] else "never set"
            self.stdout.write(f"{row['tenant']}\t{row['status'] or '-'}\t{policy}")

    def _set(self, tenant: Tenant, policy) -> None:
        try:
            applied = tenant_app_access_set(
                tenant=tenant, policy=policy, actor=cli_actor(), face="command"
            )
        except ApprovalMissing as exc:
            raise CommandError(str(exc), returncode=WAITS_FOR_APPROVAL) from None
        except (NotAllowed, TenantBusy) as exc:
            raise CommandError(str(exc), returncode=2) from None
        if not applied.outcome.ok:
            raise CommandError(f"not applied: {applied.outcome.failure_line()}", returncode=1)
        self.stdout.write(f"Sent {tenant.name}'s policy: changeset #{applied.changeset.pk}.")
