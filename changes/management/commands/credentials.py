"""`manage.py credentials [--tenant NAME] [--stale-days N] [--json]` and
`manage.py credentials revoke ACCESS_KEY [--yes]`.

The list reads the snapshot only (what the last refresh read: `refresh_server_state`, the
worker); it makes no call. `revoke` is a changeset through the change pipeline
(`auth.revoke_credentials` impersonating the key's user), audited as `cli:<os user>`.

Exit codes: 0 done; 1 the apiserver failed; 2 bad input (an unknown tenant or key, a bad
number, a confirmation not given); 4 the revocation waits for another admin's approval.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from changes import credentials as key_changes
from console.audit import cli_actor
from console.snapshot import credentials as inventory
from console.snapshot.queries import age_text
from tenants.models import Tenant

WAITS_FOR_APPROVAL = 4


class Command(BaseCommand):
    help = (
        "List every tenant user's API keys from the snapshot, or revoke one key "
        "(`credentials revoke ACCESS_KEY`)."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", nargs="?", choices=["list", "revoke"], default="list")
        parser.add_argument("access_key", nargs="?", metavar="ACCESS_KEY", default="")
        parser.add_argument("--tenant", metavar="NAME", default="", help="one tenant's keys")
        parser.add_argument(
            "--stale-days",
            type=int,
            metavar="N",
            default=None,
            help="only keys not used for N days (never-used keys included)",
        )
        parser.add_argument("--json", action="store_true", help="print a JSON list")
        parser.add_argument("--yes", action="store_true", help="revoke without asking")

    def handle(self, *args, action, access_key, tenant, stale_days, json, yes, **options):
        if action == "revoke":
            return self._revoke(access_key, yes)
        if access_key:
            raise CommandError(f"unexpected argument {access_key!r}", returncode=2)
        if stale_days is not None and stale_days < 1:
            raise CommandError(
                f"--stale-days {stale_days}: give a whole number of days, 1 or more", returncode=2
            )
        rows = _rows(tenant, stale_days)
        if json:
            self.stdout.write(_dumps([r.as_json() for r in rows]))
            return
        self._print_table(rows)

    def _print_table(self, rows) -> None:
        found = inventory.inventory()
        self.stdout.write(f"{len(rows)} key(s); the tenants' keys {age_text(found.as_of)}")
        for row in rows:
            used = row.last_used.strftime("%Y-%m-%d %H:%M") if row.last_used else "never used"
            mark = f" [{row.marked}]" if row.marked else ""
            self.stdout.write(
                f"{row.tenant}\t{row.email or row.user_id}\t{row.access_key}\t"
                f"{row.label or '-'}{mark}\t{used}\t{row.last_used_from or '-'}"
            )
        for note in found.notes:
            self.stderr.write(f"note: {note.tenant}: {note.message}")

    def _revoke(self, access_key: str, yes: bool) -> None:
        if not access_key:
            raise CommandError("credentials revoke: give the ACCESS_KEY to revoke", returncode=2)
        try:
            row = key_changes.key_row(access_key)
            confirm = access_key if yes else self._ask(row)
            change = key_changes.credential_revoke(
                access_key=access_key, actor=cli_actor(), face="command", confirm=confirm
            )
        except key_changes.CredentialRefused as exc:
            raise CommandError(str(exc), returncode=2) from None
        if change.held:
            raise CommandError(
                f"changeset {change.changeset.pk} waits for another admin's approval on "
                f"/changes/{change.changeset.pk}/; nothing was revoked",
                returncode=WAITS_FOR_APPROVAL,
            )
        if change.error:
            raise CommandError(
                f"revoking {access_key} failed (changeset {change.changeset.pk}): {change.error}",
                returncode=1,
            )
        self.stdout.write(
            f"Revoked {access_key} of {row.email or row.user_id} ({row.tenant}); "
            f"changeset {change.changeset.pk}."
        )

    def _ask(self, row) -> str:
        """The typed confirmation: the access key again for a marked key, else y/N."""
        what = f" It is labelled {row.label!r} ({row.marked})." if row.marked else ""
        self.stdout.write(
            f"Revoke {row.access_key} of {row.email or row.user_id} ({row.tenant})?{what}"
        )
        try:
            if row.marked:
                typed = input("Type the access key again to revoke it: ").strip()
                return typed
            answer = input("Revoke it? [y/N] ").strip().lower()
        except EOFError:
            answer = ""
        if answer not in ("y", "yes"):
            raise CommandError(
                "not revoked (no confirmation; --yes skips the question)", returncode=2
            )
        return row.access_key


def _rows(tenant: str, stale_days: int | None):
    found = inventory.inventory()
    rows = found.rows
    if tenant:
        name = tenant.strip().casefold()
        if not Tenant.objects.filter(name__iexact=tenant.strip(), deleted_at__isnull=True).exists():
            raise CommandError(
                f"--tenant {tenant!r}: no console tenant has this name (ignoring case)",
                returncode=2,
            )
        rows = [r for r in rows if r.tenant.casefold() == name]
    usage = "stale" if stale_days is not None else "all"
    return inventory.select(rows, usage=usage, days=stale_days, sort="tenant")


def _dumps(items: list[dict]) -> str:
    return json.dumps(items, indent=2, ensure_ascii=False)
