"""Bulk import of whitelist emails from pasted text or a CSV file.

Every line is checked before anything is saved: the bad ones are reported with their line
numbers, and only an import with no bad line is kept (as a RoutingImport draft) for the admin to
save. Checking uses the same checker as forms and SPEC files, with one query per kind against
other tenants, so 10,000 lines take well under a second.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from console.identifiers import normalize_domain
from console.validation import FieldError, InvalidInput
from sso.models import RoutingImport
from tenants.models import Tenant

from .queries import tenant_routing
from .services import RoutingChange, routing_save
from .validation import (
    Item,
    RoutingChecker,
    RoutingSet,
    is_public_mail_domain,
    public_domain_reason,
)

ROLE_MODES = {
    "column": "Use the file's is_admin column",
    "admins": "Everyone in the file is an admin",
    "users": "Everyone in the file is a user",
}
MAX_LINES = 100_000
MAX_BYTES = 5 * 1024 * 1024
EMAIL_HEADERS = {"email", "e-mail", "email address", "mail", "emails"}
ROLE_HEADERS = {"is_admin", "admin", "role", "is admin"}
TRUE_VALUES = {"true", "yes", "y", "1", "admin", "t"}
FALSE_VALUES = {"false", "no", "n", "0", "user", "f"}
SHOWN_PROBLEMS = 500
DRAFT_LIFETIME = timedelta(days=1)


@dataclass
class LineProblem:
    line: int
    message: str


@dataclass
class ImportCheck:
    entries: list[tuple[str, bool, int]] = field(default_factory=list)  # email, is_admin, line
    errors: list[LineProblem] = field(default_factory=list)
    warnings: list[LineProblem] = field(default_factory=list)
    lines: int = 0
    new_admins: int = 0
    new_users: int = 0
    unchanged: int = 0
    role_changes: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.entries)

    def summary(self) -> dict:
        return {
            "lines": self.lines,
            "emails": len(self.entries),
            "new_admins": self.new_admins,
            "new_users": self.new_users,
            "unchanged": self.unchanged,
            "role_changes": self.role_changes,
            "warnings": len(self.warnings),
        }


def decode_upload(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise InvalidInput(FieldError("file", f"the file is larger than {MAX_BYTES // 2**20} MB"))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            FieldError("file", f"the file is not UTF-8 text (byte {exc.start + 1})")
        ) from None


def _line_number(path: str) -> int:
    return int(path[5:])  # "line N"


def _role(value: str) -> bool | None:
    folded = value.strip().lower()
    if folded in TRUE_VALUES:
        return True
    if folded in FALSE_VALUES:
        return False
    return None


def parse_lines(text: str, role_mode: str) -> tuple[list[Item], list[LineProblem], int]:
    """CSV rows to items with `line N` paths; blank lines and `#` comments are skipped.

    The first row is a header when one of its cells is `email`; then the email and `is_admin`
    (or `role`) columns are found by name. Otherwise the email is the first column and is_admin
    the second.
    """
    if role_mode not in ROLE_MODES:
        raise InvalidInput(FieldError("role_mode", "choose how to read each email's role"))
    items: list[Item] = []
    problems: list[LineProblem] = []
    email_col, role_col, lines = 0, 1, 0
    header_seen = False
    reader = csv.reader(io.StringIO(text))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(LineProblem(reader.line_num, f"cannot be read as CSV ({exc})"))
            break
        line = reader.line_num
        lines = line
        if line > MAX_LINES:
            raise InvalidInput(FieldError("file", f"at most {MAX_LINES:,} lines per import"))
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not header_seen:
            header_seen = True
            names = [c.lower() for c in cells]
            if EMAIL_HEADERS & set(names):
                email_col = next(i for i, n in enumerate(names) if n in EMAIL_HEADERS)
                role_col = next((i for i, n in enumerate(names) if n in ROLE_HEADERS), -1)
                if role_mode == "column" and role_col < 0:
                    raise InvalidInput(
                        FieldError(
                            "role_mode",
                            "the file has no is_admin column: add one, or choose admins or users",
                        )
                    )
                continue
            if role_mode == "column" and len(cells) < 2:
                raise InvalidInput(
                    FieldError(
                        "role_mode",
                        "the file has no is_admin column: add one (email,is_admin), or choose "
                        "admins or users",
                    )
                )
        value = cells[email_col] if email_col < len(cells) else ""
        if role_mode == "column":
            raw_role = cells[role_col] if 0 <= role_col < len(cells) else ""
            is_admin = _role(raw_role)
            if is_admin is None:
                shown = f"'{raw_role}'" if raw_role else "nothing"
                problems.append(
                    LineProblem(
                        line,
                        f"is_admin must be true or false (yes/no, 1/0, admin/user), not {shown}",
                    )
                )
                continue
        else:
            is_admin = role_mode == "admins"
        items.append(Item(value, f"line {line}", "admin" if is_admin else "user"))
    return items, problems, lines


def import_check(*, tenant: Tenant, text: str, role_mode: str) -> ImportCheck:
    """Check every line; nothing is saved. Raises InvalidInput only for a file-level problem."""
    items, problems, lines = parse_lines(text, role_mode)
    check = ImportCheck(lines=lines)
    if not items and not problems:
        raise InvalidInput(FieldError("text", "no email address found: paste or upload some"))
    checker = RoutingChecker(tenant_name=tenant.name, tenant_id=tenant.pk)
    raw = {item.path: item.raw for item in items}
    items = checker.normalise(items)
    items = checker.refuse_repeats(items)
    checker.refuse_conflicts(items)
    for error in checker.errors:
        message = _domain_line(raw.get(error.path), tenant.name) or error.message
        problems.append(LineProblem(_line_number(error.path), message))
    problems.sort(key=lambda p: p.line)
    check.errors = problems
    if problems:
        return check
    checker.warn_about_cross_routing(items)
    check.warnings = [LineProblem(_line_number(w.path), w.message) for w in checker.warnings]
    current = tenant_routing(tenant).whitelist
    for item in items:
        is_admin = item.kind == "admin"
        check.entries.append((item.key, is_admin, _line_number(item.path)))
        had = current.get(item.key)
        if had is None:
            if is_admin:
                check.new_admins += 1
            else:
                check.new_users += 1
        elif had == is_admin:
            check.unchanged += 1
        else:
            check.role_changes += 1
    return check


def _domain_line(value, tenant_name: str) -> str:
    """The reason for a line that holds a domain instead of an email ("" for any other line).

    An import only whitelists emails (an email at a public mail domain is one person, which is
    fine); a domain, and above all a public mail domain, is added on the tenant's page.
    """
    if not isinstance(value, str) or "@" in value:
        return ""
    try:
        domain = normalize_domain(value)
    except InvalidInput:
        return ""
    message = f"'{domain}' is a domain, not an email address: an import whitelists emails only"
    if is_public_mail_domain(domain):
        return (
            f"{message}. Besides, {public_domain_reason(domain, tenant_name)}; to route it "
            "anyway, add it to the tenant's domains on its routing page and tick the "
            "confirmation there"
        )
    return f"{message}; add domains on the tenant's routing page"


def import_draft(*, tenant: Tenant, check: ImportCheck, actor: str, source: str, role_mode: str):
    """Keep a checked import until the admin saves it (old drafts are cleared)."""
    RoutingImport.objects.filter(
        status=RoutingImport.Status.CHECKED, created_at__lt=timezone.now() - DRAFT_LIFETIME
    ).delete()
    return RoutingImport.objects.create(
        tenant=tenant,
        actor=actor,
        source=source[:255],
        role_mode=role_mode,
        entries=[list(e) for e in check.entries],
        summary=check.summary(),
        warnings=[[w.line, w.message] for w in check.warnings[:SHOWN_PROBLEMS]],
    )


def import_save(*, draft: RoutingImport, actor: str) -> RoutingChange:
    """Add the draft's emails to the tenant's whitelist (roles as imported), in one transaction.

    Emails already whitelisted keep their place and take the imported role. A race lost to
    another tenant since the check is refused by the database, naming the tenant and the line.
    """
    tenant = draft.tenant
    with transaction.atomic():
        locked = RoutingImport.objects.select_for_update().get(pk=draft.pk)
        if locked.status != RoutingImport.Status.CHECKED:
            raise InvalidInput(FieldError("import", "this import was saved already"))
        current = tenant_routing(tenant)
        imported = {email: is_admin for email, is_admin, _ in locked.entries}
        locations = {email: f"line {line}" for email, _, line in locked.entries}
        # Each list keeps its order; an email new to a list (new, or with a new role) goes at
        # its end, in the import's order.
        lists = {True: current.admins, False: current.users}
        kept = {
            is_admin: [e for e in emails if imported.get(e, is_admin) == is_admin]
            for is_admin, emails in lists.items()
        }
        held = {is_admin: set(emails) for is_admin, emails in lists.items()}
        for email, is_admin in imported.items():
            if email not in held[is_admin]:
                kept[is_admin].append(email)
        wanted = RoutingSet(
            tenant_name=tenant.name,
            domains=current.domains,
            admins=kept[True],
            users=kept[False],
            locations=locations,
        )
        change = routing_save(
            tenant=tenant,
            routing=wanted,
            actor=actor,
            action="login.routing.import",
            source=f"import #{locked.pk}: {locked.source}",
        )
        locked.status = RoutingImport.Status.SAVED
        locked.saved_at = timezone.now()
        locked.save(update_fields=["status", "saved_at"])
    draft.refresh_from_db()
    return change
