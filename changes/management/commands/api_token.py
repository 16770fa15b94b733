"""`manage.py api_token create --name NAME --role {viewer,operator,admin} [--expires-days N]`,
`api_token list`, `api_token revoke NAME`: the JSON API's bearer tokens (docs/api.md).

`create` prints the token once, on the last line; the console keeps only its SHA-256. Creating
and revoking are changes through the pipeline, audited as `cli:<os user>` (never the token).
Exit codes: 0 done; 2 bad input (the field and what is wrong).
"""

from django.core.management.base import BaseCommand, CommandError
from django.views.decorators.debug import sensitive_variables

from changes.tokens import token_create, token_list, token_revoke
from console.accounts.models import ApiToken
from console.audit import cli_actor
from console.validation import InvalidInput


def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


def _bad_input(exc: InvalidInput) -> CommandError:
    return CommandError("\n".join(f"api_token: {e}" for e in exc.errors), returncode=2)


class Command(BaseCommand):
    help = "Create, list and revoke the JSON API's bearer tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = sub.add_parser("create", help="create a token and print it once")
        create.add_argument("--name", required=True, help="a name for the token (unique)")
        create.add_argument("--role", required=True, choices=ApiToken.Role.values)
        create.add_argument(
            "--expires-days",
            type=int,
            default=None,
            metavar="N",
            help="refuse the token N days from now (default: never)",
        )
        sub.add_parser("list", help="every token: name, role, created, last used, expires")
        revoke = sub.add_parser("revoke", help="refuse the token from now on")
        revoke.add_argument("name", metavar="NAME")

    def handle(self, *args, action: str, **options):
        if action == "create":
            self._create(options["name"], options["role"], options["expires_days"])
        elif action == "list":
            self._list()
        else:
            self._revoke(options["name"])

    @sensitive_variables("created")
    def _create(self, name: str, role: str, expires_days: int | None) -> None:
        try:
            created = token_create(
                name=name, role=role, expires_days=expires_days, actor=cli_actor(), face="command"
            )
        except InvalidInput as exc:
            raise _bad_input(exc) from None
        token = created.token
        expires = f"expires {_when(token.expires_at)} UTC" if token.expires_at else "no expiry"
        self.stdout.write(
            f"Created API token {token.name} (role {token.role}, {expires}). It is shown once "
            "and cannot be read back; send it as `Authorization: Bearer <token>`:"
        )
        self.stdout.write(created.value)

    def _list(self) -> None:
        tokens = token_list()
        if not tokens:
            self.stdout.write("No API tokens. Create one with `api_token create`.")
            return
        header = ("NAME", "ROLE", "PREFIX", "CREATED", "BY", "LAST USED", "EXPIRES", "REVOKED")
        rows = [
            (
                t.name,
                t.role,
                t.prefix + "…",
                _when(t.created_at),
                t.created_by,
                _when(t.last_used_at),
                _when(t.expires_at),
                _when(t.revoked_at),
            )
            for t in tokens
        ]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))

    def _revoke(self, name: str) -> None:
        try:
            token_revoke(name=name, actor=cli_actor(), face="command")
        except InvalidInput as exc:
            raise _bad_input(exc) from None
        self.stdout.write(f"Revoked API token {name.strip()}: it is refused from now on.")
