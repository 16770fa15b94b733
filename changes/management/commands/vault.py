"""`manage.py vault list TENANT [--json]`, `vault set TENANT --file F [--format {hocon,json,yaml}]
[--description D]`, `vault delete TENANT VAULT_ID`: a tenant's group-scoped admin vaults; and
`vault template (--tenant NAME ... | --all) --file F --description D`: one vault on many
tenants, as one changeset.

The calls are made as the tenant's admin (changes/vaults.py): by impersonating its first admin,
or with `--credentials-from FILE` (an admin's key pair, as `apply --credentials-out` writes it)
where the server refuses that. `set` and `delete` are changesets, audited with the document's
fingerprint, never its content; `list` prints summaries (size and fingerprint), never content.

Exit codes: 0 done; 1 the apiserver failed (no vault calls, the admin cannot sign in); 2 bad
input (an unknown tenant or vault, a document that does not parse or sets a forbidden key, the
user-scoped vault); 4 a deletion waits for another admin's approval.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.views.decorators.debug import sensitive_variables

from changes import vaults
from console.apiserver import ApiError
from console.audit import cli_actor
from tenants.management.commands.onboarding import find_tenant, read_file
from tenants.models import Tenant
from tenants.onboarding import CredentialsFileError, credentials_from_text
from tenants.vaults import FORMATS, VaultDocumentError, parse_vault_document

WAITS_FOR_APPROVAL = 4
EXTENSIONS = {".json": "json", ".yaml": "yaml", ".yml": "yaml", ".conf": "hocon"}


class Command(BaseCommand):
    help = "List, create or update, and delete a tenant's group-scoped admin vaults."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        listing = actions.add_parser("list", help="the tenant's group-scoped vaults")
        setting = actions.add_parser("set", help="create or update a vault from a file")
        deleting = actions.add_parser("delete", help="delete one group-scoped vault")
        for sub in (listing, setting, deleting):
            sub.add_argument("tenant", metavar="TENANT", help="the tenant's name or id")
            sub.add_argument(
                "--credentials-from",
                metavar="FILE",
                default=None,
                help="sign in with an admin's key pair from FILE (as apply --credentials-out "
                "writes it) instead of impersonating the tenant's first admin",
            )
        listing.add_argument("--json", action="store_true")
        setting.add_argument("--file", required=True, metavar="F")
        setting.add_argument("--format", choices=FORMATS, default=None, dest="fmt")
        setting.add_argument("--description", default="", metavar="D")
        setting.add_argument("--group", default="", metavar="GROUP_ID")
        setting.add_argument("--id", default="", metavar="VAULT_ID", dest="vault_id")
        setting.add_argument("--disabled", action="store_true", help="create it disabled")
        deleting.add_argument("vault_id", metavar="VAULT_ID")
        template = actions.add_parser(
            "template", help="set one vault (by description) on many tenants, as one changeset"
        )
        template.add_argument("--tenant", action="append", default=[], metavar="NAME")
        template.add_argument("--all", action="store_true", help="every console tenant")
        template.add_argument("--file", required=True, metavar="F")
        template.add_argument("--format", choices=FORMATS, default=None, dest="fmt")
        template.add_argument("--description", required=True, metavar="D")
        template.add_argument("--group", default="", metavar="GROUP_ID")

    @sensitive_variables()
    def handle(self, *args, action, tenant, credentials_from=None, **options):
        if action == "template":
            return self._guarded(lambda: self._template(tenant, **options))
        found = find_tenant(tenant)
        credentials = None
        if credentials_from:
            try:
                credentials, _ = credentials_from_text(
                    read_file(credentials_from), found, credentials_from
                )
            except CredentialsFileError as exc:
                raise CommandError(str(exc), returncode=2) from None
        if action == "list":
            return self._guarded(lambda: self._list(found, credentials, options["json"]))
        if action == "set":
            return self._guarded(lambda: self._set(found, credentials, **options))
        return self._guarded(lambda: self._delete(found, credentials, options["vault_id"]))

    def _guarded(self, run) -> None:
        """The exit codes: 2 for bad input, 1 for the server."""
        try:
            return run()
        except VaultDocumentError as exc:
            raise CommandError(str(exc), returncode=2) from None
        except vaults.VaultServerRefused as exc:
            raise CommandError(str(exc), returncode=1) from None
        except vaults.VaultRefused as exc:
            raise CommandError(str(exc), returncode=2) from None
        except ApiError as exc:
            raise CommandError(f"the apiserver failed: {exc}", returncode=1) from None

    def _list(self, tenant, credentials, as_json: bool) -> None:
        summaries = vaults.vault_summaries(tenant, credentials=credentials)
        if as_json:
            self.stdout.write(json.dumps(summaries, indent=2, ensure_ascii=False))
            return
        self.stdout.write(f"{len(summaries)} group-scoped vault(s) of {tenant.name}")
        for vault in summaries:
            state = "enabled" if vault.get("enabled") else "disabled"
            self.stdout.write(
                f"{vault['id']}\t{vault.get('description') or '-'}\t{vault.get('format')}\t"
                f"{state}\tgroup {vault.get('group') or '-'}\t{vault['size']} characters\t"
                f"sha256 {vault['fingerprint'] or '-'}"
            )

    @sensitive_variables("text", "document")
    def _set(self, tenant, credentials, *, file, fmt, description, group, vault_id, **options):
        fmt = fmt or EXTENSIONS.get(Path(file).suffix.lower(), "hocon")
        text = read_file(file)
        document = parse_vault_document(text, fmt, source=file)
        change = vaults.vault_set(
            tenant=tenant,
            document=document,
            description=description,
            group=group,
            vault_id=vault_id,
            enabled=not options.get("disabled"),
            actor=cli_actor(),
            face="command",
            credentials=credentials,
        )
        if change.error:
            raise CommandError(
                f"the vault was not saved (changeset {change.changeset.pk}): {change.error}",
                returncode=1,
            )
        self.stdout.write(
            f"Saved vault {change.vault_id} of {tenant.name} ({document.format}, "
            f"sha256 {document.fingerprint}); changeset {change.changeset.pk}."
        )

    def _delete(self, tenant, credentials, vault_id: str) -> None:
        change = vaults.vault_delete(
            tenant=tenant,
            vault_id=vault_id,
            actor=cli_actor(),
            face="command",
            credentials=credentials,
        )
        if change.held:
            raise CommandError(
                f"changeset {change.changeset.pk} waits for another admin's approval on "
                f"/changes/{change.changeset.pk}/; nothing was deleted",
                returncode=WAITS_FOR_APPROVAL,
            )
        if change.error:
            raise CommandError(
                f"the vault was not deleted (changeset {change.changeset.pk}): {change.error}",
                returncode=1,
            )
        self.stdout.write(
            f"Deleted vault {vault_id} of {tenant.name}; changeset {change.changeset.pk}."
        )

    @sensitive_variables("text", "document")
    def _template(self, names, *, file, fmt, description, group, **options) -> None:
        if options.get("all") == bool(names):
            raise CommandError("give --tenant NAME (repeatable) or --all, not both", returncode=2)
        tenants = (
            list(
                Tenant.objects.filter(deleted_at__isnull=True)
                .exclude(company_id="")
                .order_by("name")
            )
            if options.get("all")
            else [find_tenant(name) for name in names]
        )
        fmt = fmt or EXTENSIONS.get(Path(file).suffix.lower(), "hocon")
        document = parse_vault_document(read_file(file), fmt, source=file)
        applied = vaults.vault_template(
            tenants=tenants,
            document=document,
            description=description,
            group=group,
            actor=cli_actor(),
            face="command",
        )
        where = f" (changeset {applied.changeset.pk})" if applied.changeset else ""
        self.stdout.write(
            f"Saved the vault {description!r} on {len(applied.saved)} of {len(tenants)} "
            f"tenant(s){where}, sha256 {document.fingerprint}."
        )
        for line in applied.skipped + applied.failed:
            self.stderr.write(f"not saved: {line}")
        if applied.skipped or applied.failed:
            raise CommandError(
                f"{len(applied.skipped) + len(applied.failed)} tenant(s) not saved", returncode=1
            )
