"""`manage.py onboarding TENANT [--format helm] [--credentials-from FILE]`.

Prints a tenant's onboarding kit (docs/onboarding.md) as YAML documents: the clearml-agent chart
values, then the Kubernetes manifests (the tenant's Namespace, its NetworkPolicy, the v1 Secret the
agent values name), then the App Gateway chart values. The Secret is a template with empty values
unless FILE (as `apply --credentials-out` writes it) has the tenant's credentials. Read-only: no
apiserver call, nothing written, nothing audited. Exit codes: 0 printed; 2 an unknown tenant, a
tenant without a company, a bad FILE (naming the line).
"""

from django.core.management.base import BaseCommand, CommandError
from django.views.decorators.debug import sensitive_variables

from tenants.models import Tenant
from tenants.onboarding import (
    FORMATS,
    PARTS,
    CredentialsFileError,
    KitError,
    credentials_from_text,
    onboarding_kit,
)

PRINTED_PARTS = ("agent", "manifests", "gateway")


def find_tenant(text: str) -> Tenant:
    """A tenant by id or by name (ignoring case); deleted tenants are not found by name."""
    text = text.strip()
    found = None
    if text.isdigit():
        found = Tenant.objects.filter(pk=int(text)).first()
    if found is None:
        found = Tenant.objects.filter(name__iexact=text, deleted_at__isnull=True).first()
    if found is None:
        raise CommandError(
            f"no tenant {text!r}: give a tenant's name (ignoring case) or its id", returncode=2
        )
    return found


def read_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not a UTF-8 text file", returncode=2) from None
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror or exc}", returncode=2) from None


class Command(BaseCommand):
    help = (
        "Print a tenant's onboarding kit: the clearml-agent chart values, the Kubernetes "
        "manifests (Namespace, NetworkPolicy, the agent's credentials Secret) and the App "
        "Gateway chart values, as YAML documents."
    )

    def add_arguments(self, parser):
        parser.add_argument("tenant", metavar="TENANT", help="the tenant's name or id")
        parser.add_argument("--format", choices=FORMATS, default="helm", dest="fmt")
        parser.add_argument(
            "--credentials-from",
            metavar="FILE",
            default=None,
            help="fill the Secret from FILE, as `apply --credentials-out FILE` wrote it",
        )
        parser.add_argument(
            "--only",
            choices=PRINTED_PARTS,
            default=None,
            help="print one part: the agent values, the manifests or the App Gateway values",
        )

    @sensitive_variables()  # the credentials read from FILE
    def handle(self, *args, tenant, fmt, credentials_from, only, **options):
        found = find_tenant(tenant)
        credentials = None
        if credentials_from is not None:
            try:
                credentials, note = credentials_from_text(
                    read_file(credentials_from), found, credentials_from
                )
            except CredentialsFileError as exc:
                raise CommandError(str(exc), returncode=2) from None
            if note:
                self.stderr.write(note)
        try:
            kit = onboarding_kit(found, credentials)
        except KitError as exc:
            raise CommandError(str(exc), returncode=2) from None
        text = kit.part(only).text if only else kit.text()
        self.stdout.write(text, ending="")
        for note in kit.notes:
            self.stderr.write(f"note: {note}")
        if only is None:
            self.stderr.write(
                f"Printed {PARTS['agent'][1]}, {PARTS['manifests'][1]} (3 manifests) and "
                f"{PARTS['gateway'][1]} for namespace {kit.namespace.name}."
            )
