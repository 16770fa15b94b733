"""What the fuzz tests share (tests/test_fuzz_forms.py, tests/test_fuzz_spec.py): hostile
values, a fingerprint of the console's tables, the world they act on and how each example is
isolated (a savepoint rolled back, the sandbox's data put back).
"""

import contextlib
import hashlib
import os
from pathlib import Path

from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
# The CPU one request or command may take in its own thread. The slowest legitimate inputs (1 MB
# of emails checked, a 5 MiB file audited, a SPEC with 1 MB values) take a few seconds; an
# unbounded one takes far more.
CPU_BUDGET_SECONDS = 10.0
# Raw in an HTML answer, this tag means an input was echoed without escaping.
MARK = "<fz-mark>"

# --- hostile values -----------------------------------------------------------------------------

SPECIALS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x07\x1b[31m\x7f",
    "\x85\u2028\u2029",
    "\r\n\r\n",
    "\t",
    "\u202eevil\u202c",
    "\u2066\u200f\u061c",
    "\u200b\u200d\ufeff",
    "Bücher",
    "日本語",
    "😀",
    "İı",
    "ﬀ",
    MARK,
    f"<script>alert(1)</script>{MARK}",
    f"\"'>{MARK}<img src=x onerror=alert(1)>",
    "{{ request }}",
    "{% debug %}",
    "' OR '1'='1",
    "'; DROP TABLE tenants_tenant; --",
    "%",
    "_%",
    "\\",
    "${x}",
    "${jndi:ldap://x}",
    "$(VAR)",
    "$$",
    "`id`",
    "%(x)s",
    "{0}",
    "env:",
    "env:HOME",
    "env:NO SUCH",
    "tenant:",
    "tenant:Acme Research",
    "tenant:Nobody",
    "0",
    "-1",
    "+1",
    "1.5",
    "1e309",
    "NaN",
    "-inf",
    "99999999999999999999",
    "9" * 5000,
    "0x1F",
    "1_000",
    "١٢٣",
    "true",
    "false",
    "on",
    "null",
    "None",
    "[]",
    "{}",
    '[1, [2, {"a": 3}]]',
    "a: [b, {c: d}]",
    "- a\n- b",
    "a = b",
    "=",
    ": x",
    "http://",
    "https://x",
    "https://kc.example.com/realms/acme",
    "http://127.0.0.1:1/",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "//evil.example/",
    "/\n/evil.example",
    "../../etc/passwd",
    "a@b.co",
    "@",
    "a@@b",
    "x" * 250 + "@acme.io",
    "acme.io",
    "xn--",
    "-.-",
    "..",
    "*",
    "acme.io\nglobex.com,,;;\n",
]
UNITS = ["a", "é", "\x00", "%", "[", "{", "(", "a@b.co\n", "acme.io,", "- ", "😀", "\u202e"]


def big_text():
    """5,000, 60,000 and 1 MB characters, or 100,000 nested brackets or YAML levels. One field
    of an example at most gets one (several 1 MB fields only meet the body limit of 5 MB)."""
    huge = st.builds(
        lambda unit, n: (unit * (n // len(unit) + 1))[:n],
        st.sampled_from(UNITS),
        st.sampled_from([5_000, 60_000, MB]),
    )
    return st.one_of(huge, deep_text(100_000))


def deep_text(levels: int | None = None):
    """Nested brackets (JSON, YAML flow, HOCON) and deep YAML blocks."""
    return st.builds(
        lambda opener, n: opener[0] * n + opener[1] * n,
        st.sampled_from(
            [("[", "]"), ("{", "}"), ("(", ")"), ("{a:", "}"), ("- ", ""), ("a:\n ", "")]
        ),
        st.just(levels) if levels else st.sampled_from([50, 200, 1_000]),
    )


def hostile_text(valid: list[str]):
    """A hostile value of moderate size (big ones: big_text)."""
    branches = [
        st.sampled_from(SPECIALS),
        st.sampled_from(SPECIALS),
        st.text(max_size=40),
        deep_text(),
        st.integers().map(str),
        st.lists(st.sampled_from(SPECIALS), min_size=2, max_size=4).map("".join),
    ]
    if valid:
        branches.append(
            st.tuples(st.sampled_from(valid), st.sampled_from(SPECIALS), st.booleans()).map(
                lambda t: t[0] + t[1] if t[2] else t[1] + t[0]
            )
        )
    return st.one_of(branches)


# --- the world ------------------------------------------------------------------------------------


def complete_example() -> str:
    """docs/spec.md's complete example: every key the SPEC accepts."""
    docs = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    return docs.split("```yaml\n", 1)[1].split("```", 1)[0]


SSO_SECRET_ENV = {"ACME_SSO_SECRET": "acme-sso-secret-value"}


def apply_spec(text: str, tmp: Path) -> None:
    """`manage.py apply` of a SPEC, one tenant at a time (the test's database transaction is
    not shared with the threads of a concurrent apply)."""
    import io

    spec = tmp / "world.yaml"
    spec.write_text(text, encoding="utf-8")
    out = io.StringIO()
    call_command("apply", str(spec), "--yes", "--concurrency", "1", stdout=out, stderr=out)


@contextlib.contextmanager
def world_transaction(django_db_blocker, sandbox_server):
    """The world of a module: built inside a transaction rolled back at the end (each test runs
    in a savepoint of it, pytest-django's, and each example in a savepoint of that), with the
    console pointed at the sandbox, whose data is emptied before and after."""
    saved_env = {name: os.environ.get(name) for name in SSO_SECRET_ENV}
    os.environ.update(SSO_SECRET_ENV)
    sandbox_server.reset()
    overrides = override_settings(
        CLEARML_API_URL=sandbox_server.url,
        CLEARML_API_KEY=sandbox_server.key,
        CLEARML_API_SECRET=sandbox_server.secret,
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    )
    with django_db_blocker.unblock(), overrides:
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            sandbox_server.reset()
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def point_at_sandbox(settings, sandbox_server) -> None:
    settings.CLEARML_API_URL = sandbox_server.url
    settings.CLEARML_API_KEY = sandbox_server.key
    settings.CLEARML_API_SECRET = sandbox_server.secret


def restore_sandbox(sandbox_server, state_json: str) -> None:
    """The sandbox's data as the world left it, no injected failure, an empty call log."""
    app = sandbox_server.app
    with app.lock, app._log_lock:
        if app.state.to_json() != state_json:
            app.state.load_json(state_json)
        app.faults.clear()
        app.requests.clear()


def sandbox_data(sandbox_server) -> str:
    app = sandbox_server.app
    with app.lock:
        return app.state.to_json()


# --- the console's state --------------------------------------------------------------------------

EXCLUDED_TABLES = {"console_usersession"}  # the test's own sign-in


def console_tables() -> list[tuple[str, str]]:
    """(table, primary key column) of every console table (not sessions, users, cache)."""
    from django.apps import apps

    return [
        (m._meta.db_table, m._meta.pk.column)
        for m in apps.get_models()
        if m._meta.app_label in ("console", "tenants", "sso", "changes")
        and m._meta.db_table not in EXCLUDED_TABLES
    ]


def fingerprint() -> dict[str, str]:
    """A hash of every row of every console table, read as the database stores it."""
    from django.db import connection

    quote = connection.ops.quote_name
    out = {}
    with connection.cursor() as cursor:
        for table, pk in console_tables():
            cursor.execute(f"SELECT * FROM {quote(table)} ORDER BY {quote(pk)}")  # noqa: S608
            out[table] = hashlib.sha256(repr(cursor.fetchall()).encode()).hexdigest()
    return out


def new_audit_actions(after_seq: int) -> set[str]:
    from console.audit import AuditEntry

    return set(AuditEntry.objects.filter(seq__gt=after_seq).values_list("action", flat=True))


def last_seq() -> int:
    from console.audit import AuditEntry

    return AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def changed_tables(before: dict[str, str]) -> set[str]:
    return {table for table, digest in fingerprint().items() if before.get(table) != digest}


# --- figures for bench/fuzz_nightly.sh ------------------------------------------------------------


class Tally:
    """Examples run and CPU spent by one test; written to $FUZZ_STATS (JSON lines) when set."""

    def __init__(self):
        self.examples = 0
        self.cpu = 0.0
        self.slowest = 0.0

    def add(self, cpu: float) -> None:
        self.examples += 1
        self.cpu += cpu
        self.slowest = max(self.slowest, cpu)

    def write(self, test: str, wall: float) -> None:
        path = os.environ.get("FUZZ_STATS")
        if not path:
            return
        import json

        line = {
            "test": test,
            "examples": self.examples,
            "cpu_seconds": round(self.cpu, 3),
            "slowest_cpu_seconds": round(self.slowest, 3),
            "wall_seconds": round(wall, 3),
        }
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
