"""`manage.py server_secrets --format {helm,compose,env,shell}`: a fresh set of server secrets.

Prints every setting of seeds 000/001 with a new value (keys: 30 characters of A-Z0-9; secrets:
secrets.token_urlsafe, 54 characters), through the snippet exporter. Exit codes: 0 printed;
2 bad input (an unknown option value, an invalid supervisor email or Secret name).
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from console.audit import cli_actor
from console.security.generate import (
    DEFAULT_CHART_SECRET_NAME,
    DEFAULT_ENV_SECRET_NAME,
    SupervisorUser,
    render_server_secrets,
)
from console.security.services import secrets_generate
from console.snippets import FORMATS, SECRET_MODES
from console.validation import InvalidInput


class Command(BaseCommand):
    help = (
        "Print fresh values for the ClearML server's secrets (session and token secrets, and the "
        "apiserver, fileserver, webserver and tests credentials) in the chosen format."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=FORMATS, default="helm", dest="fmt")
        parser.add_argument(
            "--secrets",
            choices=SECRET_MODES,
            default="inline",
            help="helm only: secret-ref puts the values in Kubernetes Secrets (two documents "
            "after the values) and sets clearml.existingSecret",
        )
        parser.add_argument("--secret-name", default=DEFAULT_ENV_SECRET_NAME)
        parser.add_argument(
            "--chart-secret-name",
            default=DEFAULT_CHART_SECRET_NAME,
            help="the Secret named by clearml.existingSecret (secret-ref)",
        )
        parser.add_argument(
            "--supervisor-email",
            metavar="EMAIL",
            help="also define the multi-tenant supervisor user with this email",
        )
        parser.add_argument(
            "--supervisor-company",
            metavar="COMPANY_ID",
            default="",
            help="services.workers.resource_usages.supervisor_company (with --supervisor-email)",
        )
        parser.add_argument(
            "--platform-management",
            action="store_true",
            help="also generate the Platform Management Center credentials",
        )

    def handle(self, *args, fmt, secrets, secret_name, chart_secret_name, **options):
        if options["supervisor_company"] and not options["supervisor_email"]:
            raise CommandError("--supervisor-company needs --supervisor-email", returncode=2)
        supervisor = None
        if options["supervisor_email"]:
            supervisor = SupervisorUser(
                email=options["supervisor_email"], company=options["supervisor_company"]
            )
        try:
            text = secrets_generate(
                actor=cli_actor(),
                formats=[fmt if secrets == "inline" else f"{fmt} ({secrets})"],
                supervisor=supervisor,
                platform_management=options["platform_management"],
                show=lambda generated: render_server_secrets(
                    generated,
                    fmt,
                    secrets=secrets,
                    secret_name=secret_name,
                    chart_secret_name=chart_secret_name,
                ),
            )
        except InvalidInput as exc:
            message = "; ".join(f"--supervisor-email: {e.message}" for e in exc.errors)
            raise CommandError(message, returncode=2) from None
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        except DatabaseError as exc:
            raise CommandError(
                f"cannot write the audit log ({type(exc).__name__}); run `manage.py migrate`",
                returncode=1,
            ) from None
        self.stdout.write(text, ending="")
