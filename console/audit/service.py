"""Recording audit entries: the one way anything is written to the audit log.

Every change in the console (forms, commands, pushes to the apiserver) calls `audit_record`
inside the same `transaction.atomic()` as its local change. Writers are serialised (a PostgreSQL
advisory lock held to the end of the transaction; `BEGIN IMMEDIATE` on SQLite), so each entry
links to the true head of the chain and the chain cannot fork.
"""

import getpass
import json
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, router, transaction
from django.utils import timezone

from console.middleware import changeset_var, request_id_var
from console.roles import LOCAL_ADMIN

from . import masking
from .chain import compute_hash
from .models import GENESIS_HASH, AuditEntry

# pg_advisory_xact_lock key that serialises audit writers ("CMLaudit" as an integer).
ADVISORY_LOCK_KEY = 0x434D4C6175646974
CALL_FIELDS = (
    "endpoint",
    "status",
    "result_msg",
    "trx",
    "duration_ms",
    "error",
    "act_as",
    "impersonate_as",
)
OUTCOMES = tuple(AuditEntry.Outcome.values)
MAX_ERROR = 20_000
MAX_SEARCH_TEXT = 4_000

_process_request_id = ""
# The audit actor of the local break-glass account, and the prefix of OpenID Connect users'
# names (console/oidc/backend.py; repeated here so the audit log imports no sign-in code).
LOCAL_ACTOR = "admin (local)"
OIDC_USERNAME_PREFIX = "oidc:"


def cli_actor() -> str:
    """The actor name of a management command: `cli:<os user>`."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers; fall back to the uid
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


def actor_for_request(request) -> str:
    """Who is behind a request, as the audit log names them: an API token as `token:<name>`
    (the API's authentication sets `request.console_token_name`), the local break-glass account
    as `admin (local)`, a person signed in through OpenID Connect as their email (their `sub`
    when the provider gave none), and `anonymous` before sign-in."""
    token_name = getattr(request, "console_token_name", None)
    if token_name:
        return f"token:{token_name}"
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return "anonymous"
    return actor_for_user(user)


def actor_for_user(user) -> str:
    """A person's name in the audit log (see actor_for_request)."""
    username = user.get_username()
    if username == LOCAL_ADMIN:
        return LOCAL_ACTOR
    # The audit log's actor column holds 150 characters.
    return (user.email or username.removeprefix(OIDC_USERNAME_PREFIX))[:150]


@contextmanager
def current_changeset(key: str) -> Iterator[None]:
    """Audit entries written inside this block carry the changeset `key`."""
    token = changeset_var.set(key)
    try:
        yield
    finally:
        changeset_var.reset(token)


def current_request_id() -> str:
    """The id of the request being handled, or one id for this whole process (a command run)."""
    global _process_request_id
    request_id = request_id_var.get()
    if request_id:
        return request_id
    if not _process_request_id:
        _process_request_id = uuid.uuid4().hex
    return _process_request_id


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    try:
        return DjangoJSONEncoder().default(value)
    except TypeError:
        return str(value)


def _strip_nul(value: Any) -> Any:
    # PostgreSQL cannot store NUL in text or jsonb.
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    return value


def plain_json(value: Any) -> Any:
    """The value exactly as a JSON column gives it back (so the hash is stable)."""
    if value is None:
        return None
    text = json.dumps(value, default=_json_default)
    # json.dumps writes a NUL (in a key or a value) as \u0000: without one there is none to strip.
    return _strip_nul(json.loads(text)) if "\\u0000" in text else json.loads(text)


def _call_dict(call: Any) -> dict:
    if hasattr(call, "as_dict"):
        data = call.as_dict()
    elif isinstance(call, Mapping):
        data = dict(call)
    else:
        raise TypeError(f"calls must hold CallRecord objects or dicts, not {type(call).__name__}")
    out: dict[str, Any] = {}
    for name in CALL_FIELDS:
        value = data.get(name)
        if name == "status":
            out[name] = int(value) if value not in (None, "") else None
        elif name == "duration_ms":
            out[name] = int(value or 0)
        else:
            out[name] = "" if value is None else str(value)
    return out


def _clip(text: str, limit: int) -> str:
    text = (text or "").replace("\x00", "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _known_secret_values() -> set[str]:
    """Secrets of the console's own configuration, scrubbed from every entry as well."""
    values = set()
    for name in ("CLEARML_API_SECRET",):
        value = getattr(settings, name, "") or ""
        if len(value) >= masking.MIN_SCRUB_LENGTH:
            values.add(value)
    return values


def prepare_fields(
    *,
    actor: str,
    action: str,
    target_type: str = "",
    target_id: str = "",
    target_repr: str = "",
    before: dict | None = None,
    after: dict | None = None,
    secret_fields: Iterable[str] = (),
    calls: Sequence[Any] = (),
    outcome: str = "success",
    error: str = "",
    request_id: str | None = None,
    outcome_of: int | None = None,
) -> dict:
    """Everything stored for an entry except its place in the chain, with secrets masked."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    if not actor or not action:
        raise ValueError("an audit entry needs an actor and an action")
    masked = masking.mask_change(plain_json(before), plain_json(after), secret_fields)
    secrets = masked.secret_values | _known_secret_values()

    def clean(text: str, limit: int) -> str:
        return _clip(masking.scrub_text(str(text or ""), secrets), limit)

    call_dicts = [masking.scrub(_call_dict(c), secrets) for c in calls]
    fields = {
        "request_id": _clip(request_id if request_id is not None else current_request_id(), 64),
        "actor": clean(actor, 150),
        "action": _clip(action, 100),
        "target_type": _clip(target_type, 50),
        "target_id": clean(target_id, 255),
        "target_repr": clean(target_repr, 1000),
        "outcome": outcome,
        "error": clean(error, MAX_ERROR),
        "before": masking.scrub(masked.before, secrets),
        "after": masking.scrub(masked.after, secrets),
        "changed_fields": masked.changed_fields,
        "calls": call_dicts,
        "changeset": changeset_var.get(),
        "outcome_of": outcome_of,
    }
    fields["search_text"] = search_text_for(fields)
    return fields


def search_text_for(fields: dict) -> str:
    """The lower-cased text the free-text filter looks in."""
    parts = [
        fields["actor"],
        fields["action"],
        fields["target_type"],
        fields["target_id"],
        fields["target_repr"],
        fields["error"],
    ]
    for call in fields["calls"]:
        parts += [call["endpoint"], call["trx"], call["result_msg"], call["error"]]
    # Values inside before/after (already masked), so a search finds "acme.io" in a change.
    parts += _leaf_texts(fields["before"]) + _leaf_texts(fields["after"])
    return _clip(" ".join(p for p in parts if p).lower(), MAX_SEARCH_TEXT)


def _leaf_texts(value: Any, limit: int = 200) -> list[str]:
    """Scalar values (and keys) of a JSON document, in order, at most `limit` of them."""
    out: list[str] = []
    stack = [value]
    while stack and len(out) < limit:
        item = stack.pop()
        if isinstance(item, dict):
            out += [str(k) for k in item]
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
        elif item is not None and item != "":
            out.append(str(item))
    return out


def lock_chain(using: str) -> None:
    """Serialise audit writers until the end of the current transaction."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
    # SQLite: the settings open every transaction with BEGIN IMMEDIATE, which already holds the
    # database's write lock. Elsewhere the unique seq and prev_hash columns refuse a fork.


_HEAD_SQL: dict[tuple[str, str], str] = {}


def chain_head(using: str) -> tuple[int, str, datetime | None]:
    """(seq, entry_hash, created_at) of the newest entry; (0, genesis, None) for an empty log.

    Read once per append, under the chain lock: the ORM's query for it (the same SQL) cost
    several times the query itself, so its SQL is made once and its time converted as the ORM
    would."""
    connection = connections[using]
    sql = _HEAD_SQL.get((using, connection.vendor))
    if sql is None:
        query = AuditEntry.objects.using(using).order_by("-seq")
        query = query.values_list("seq", "entry_hash", "created_at")[:1].query
        sql, params = query.get_compiler(using).as_sql()
        if params:  # the LIMIT is written into the SQL; anything else would need its value
            raise AssertionError(f"chain_head: unexpected parameters {params!r}")
        _HEAD_SQL[using, connection.vendor] = sql
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    if row is None:
        return (0, GENESIS_HASH, None)
    seq, entry_hash, created_at = row
    column = AuditEntry._meta.get_field("created_at").cached_col
    for convert in (
        *connection.ops.get_db_converters(column),
        *column.output_field.get_db_converters(connection),
    ):
        created_at = convert(created_at, column, connection)
    return seq, entry_hash, created_at


def next_link(head: tuple[int, str, datetime | None], now: datetime) -> dict:
    """Chain fields of the entry after `head`; the time never sorts behind the head's."""
    seq, prev_hash, head_time = head
    created_at = max(now, head_time) if head_time else now
    return {"seq": seq + 1, "prev_hash": prev_hash, "created_at": created_at}


def audit_record(
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str = "",
    target_repr: str = "",
    before: dict | None = None,
    after: dict | None = None,
    secret_fields: Iterable[str] = (),
    calls: Sequence[Any] = (),
    outcome: str = "success",
    error: str = "",
    outcome_of: int | None = None,
) -> AuditEntry:
    """Append one entry to the audit log and return it.

    Call it inside the `transaction.atomic()` of the change it records (it then commits or rolls
    back with it), and as late as possible there: the chain lock is held until that transaction
    ends. Secret values are masked (see `masking`) before anything is written.
    """
    fields = prepare_fields(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        target_repr=str(target_repr),
        before=before,
        after=after,
        secret_fields=secret_fields,
        calls=calls,
        outcome=outcome,
        error=error,
        outcome_of=outcome_of,
    )
    using = router.db_for_write(AuditEntry)
    with transaction.atomic(using=using):
        lock_chain(using)
        fields.update(next_link(chain_head(using), timezone.now()))
        fields["entry_hash"] = compute_hash(fields)
        entry = AuditEntry(**fields)
        entry._written_by_service = True
        entry.save(using=using)
    return entry
