"""`manage.py snippets SPEC --format {helm,compose,env,shell} [--secrets {inline,secret-ref}]`.

Prints the server configuration of a SPEC (docs/commands.md): its `groups`, `builtin_groups`,
`organization`, `identity_providers` and `multi_tenant_login` sections as the variables the
apiserver (and webserver) read, in the same text the console's pages show. Makes no apiserver
call. Exit codes: 0 printed; 2 bad input (the file, the field path and the reason).
"""

from django.core.management.base import BaseCommand, CommandError

from console.snippets import DEFAULT_SECRET_NAME, FORMATS, SECRET_MODES, render
from console.spec import load_spec, spec_error_lines
from console.validation import ErrorCollector, InvalidInput
from tenants.groups.settings import spec_server_settings
from tenants.groups.validation import validate_server_sections


def identity_provider_settings(spec: dict) -> list:
    """sso.snippets.identity_provider_settings, or nothing if that part is not installed."""
    try:
        from sso.snippets import identity_provider_settings as idp_settings
    except ImportError:
        return []
    return idp_settings(spec)


class Command(BaseCommand):
    help = (
        "Print the server-side configuration of SPEC (cross-tenant groups, built-in groups, "
        "organization features, identity providers, multi-tenant login) as Helm values, "
        "docker-compose, an env file or shell exports."
    )

    def add_arguments(self, parser):
        parser.add_argument("spec", metavar="SPEC", help="the SPEC file (YAML)")
        parser.add_argument("--format", choices=FORMATS, default="helm", dest="fmt")
        parser.add_argument(
            "--secrets",
            choices=SECRET_MODES,
            default="inline",
            help="helm only: secret-ref moves secret values into a v1 Secret (a second YAML "
            "document) and refers to it with valueFrom.secretKeyRef",
        )
        parser.add_argument(
            "--secret-name",
            default=DEFAULT_SECRET_NAME,
            help=f"name of the Secret with --secrets secret-ref (default {DEFAULT_SECRET_NAME})",
        )

    def handle(self, *args, spec, fmt, secrets, secret_name, **options):
        try:
            raw = load_spec(spec)
        except InvalidInput as exc:
            raise CommandError("\n".join(spec_error_lines(exc, spec)), returncode=2) from None
        errors = ErrorCollector()
        settings = []
        try:
            groups, builtin, organization = validate_server_sections(raw)
            settings = spec_server_settings(groups, builtin, organization)
            missing_ids = [
                f"groups[{i}] ({g.name})" for i, g in enumerate(groups) if not g.group_id
            ]
        except InvalidInput as exc:
            errors.extend(exc)
            missing_ids = []
        try:
            settings += identity_provider_settings(raw)
        except InvalidInput as exc:
            errors.extend(exc)
        if errors:
            raise CommandError(
                "\n".join(spec_error_lines(InvalidInput(errors.errors), spec)), returncode=2
            )
        try:
            text = render(settings, fmt, secrets=secrets, secret_name=secret_name)
        except ValueError as exc:
            raise CommandError(f"{spec}: {exc}", returncode=2) from None
        self.stdout.write(text, ending="")
        if missing_ids:
            self.stderr.write(
                f"note: {', '.join(missing_ids)} give no id; the printed id is the one the "
                "console keeps for that name (or derives from it). Add it to the SPEC as `id:` "
                "to pin it."
            )
