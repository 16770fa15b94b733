"""`manage.py refresh_server_state`: read the apiserver into the snapshot the pages show.

Makes read calls only (server.info, system.get_companies, and per console tenant
login.get_settings and users.get_all). Exit status 1 when the apiserver cannot be read (the
snapshot keeps what was read before) or when some tenant's read failed (the others are saved).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from changes.refresh import CONCURRENCY, refresh_server_state
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Read the apiserver's companies, and each tenant's routing and users, into the snapshot."

    def add_arguments(self, parser):
        parser.add_argument(
            "--tenant",
            action="append",
            default=[],
            metavar="NAME_OR_ID",
            help="read only this console tenant's routing and users (repeatable)",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=CONCURRENCY,
            help=f"tenants read at the same time (default {CONCURRENCY})",
        )

    def handle(self, *args, tenant: list[str], concurrency: int, **options):
        tenant_ids = _tenant_ids(tenant) if tenant else None
        result = refresh_server_state(tenant_ids=tenant_ids, concurrency=max(1, concurrency))
        url = settings.CLEARML_API_URL or "(CLEARML_API_URL is not set)"
        if not result.reached:
            raise CommandError(
                f"cannot read the apiserver at {url}: {result.error}. "
                "The snapshot keeps what was read before.",
                returncode=1,
            )
        version = f" (version {result.version})" if result.version else ""
        self.stdout.write(f"Read the apiserver at {url}{version}:")
        self.stdout.write(f"  companies: {result.companies}")
        self.stdout.write(f"  console tenants: {result.tenants}")
        self.stdout.write(f"  routing read (login.get_settings): {result.routing}")
        self.stdout.write(f"  users read (users.get_all): {result.users}")
        self.stdout.write(
            f"  credentials read (auth.get_credentials): {result.keys} key(s) of "
            f"{result.credentials} tenant(s)"
        )
        self.stdout.write(f"  admin vaults read (users.get_vaults): {result.vaults}")
        self.stdout.write(f"  calls: {result.calls} in {result.duration_ms} ms")
        for line in result.skipped:
            self.stdout.write(f"  skipped: {line}")
        if result.failures:
            for line in result.failures:
                self.stderr.write(f"failed: {line}")
            raise CommandError(
                f"{len(result.failures)} read(s) failed; the other rows were saved and the "
                "failed ones keep what was read before.",
                returncode=1,
            )


def _tenant_ids(values: list[str]) -> list[int]:
    ids = []
    live = Tenant.objects.filter(deleted_at__isnull=True)
    for value in values:
        found = None
        if value.isdigit():
            found = live.filter(pk=int(value)).values_list("pk", flat=True).first()
        if found is None:
            found = live.filter(name__iexact=value).values_list("pk", flat=True).first()
        if found is None:
            raise CommandError(f"no console tenant named or numbered {value!r}", returncode=2)
        ids.append(found)
    return ids
