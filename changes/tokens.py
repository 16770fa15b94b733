"""API tokens through the pipeline: create and revoke, each an audited change; and the lookups the
JSON API's authentication makes.

A token is `ctc_` followed by 32 random bytes (URL-safe base64). The console keeps only its
SHA-256 and its first characters (to recognise it in a list); the value is returned once by
`token_create` and appears in no row, audit entry or changeset. Both changes are `local_change`s:
the token row, its audit entry and the changeset commit together.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from console.accounts.models import ApiToken
from console.audit import audit_record
from console.validation import ErrorCollector, FieldError, InvalidInput

from .engine import local_change
from .models import Changeset

TOKEN_PREFIX = "ctc_"  # noqa: S105 - the recognisable start of every token, not a secret
TOKEN_BYTES = 32
SHOWN_PREFIX = 12  # ApiToken.prefix: "ctc_" and 8 characters of the random part
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_EXPIRES_DAYS = 3650
TARGET_TYPE = "api_token"
# last_used_at is written at most this often per token (one UPDATE a minute, not per request).
LAST_USED_EVERY = timedelta(minutes=1)


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _new_value() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def _audit_view(token: ApiToken) -> dict:
    """What the audit log records of a token: never its value or its hash."""
    return {
        "name": token.name,
        "role": token.role,
        "prefix": token.prefix,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def check_token_input(*, name: str, role: str, expires_days: int | None) -> str:
    """The token's name, stripped; InvalidInput naming each bad field."""
    errors = ErrorCollector()
    name = (name or "").strip()
    if not NAME_PATTERN.match(name):
        errors.add(
            "name",
            "must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    elif ApiToken.objects.filter(name=name).exists():
        errors.add(
            "name", f"a token named '{name}' exists already (revoked tokens keep their name)"
        )
    if role not in ApiToken.Role.values:
        errors.add("role", f"must be one of {', '.join(ApiToken.Role.values)}")
    if expires_days is not None and not (1 <= expires_days <= MAX_EXPIRES_DAYS):
        errors.add("expires_days", f"must be a whole number of days from 1 to {MAX_EXPIRES_DAYS}")
    errors.raise_if_any()
    return name


@dataclass
class CreatedToken:
    changeset: Changeset | None
    token: ApiToken
    value: str  # shown once; never stored


def _write_create(*, name: str, role: str, expires_days: int | None, actor: str, value: str):
    now = timezone.now()
    try:
        with transaction.atomic():
            token = ApiToken.objects.create(
                name=name,
                role=role,
                token_hash=token_hash(value),
                prefix=value[:SHOWN_PREFIX],
                created_by=actor[:150],
                expires_at=now + timedelta(days=expires_days) if expires_days else None,
            )
    except IntegrityError:
        # Two creations of one name at once: the database's unique name decides.
        raise InvalidInput(FieldError("name", f"a token named '{name}' exists already")) from None
    audit_record(
        actor=actor,
        action="api_token.create",
        target_type=TARGET_TYPE,
        target_id=token.name,
        target_repr=f"token:{token.name}",
        after=_audit_view(token),
    )
    return token


def token_create(
    *, name: str, role: str, expires_days: int | None, actor: str, face: str = "form"
) -> CreatedToken:
    """A new token; its value is in the result only. InvalidInput names each bad field."""
    name = check_token_input(name=name, role=role, expires_days=expires_days)
    value = _new_value()
    changeset, token = local_change(
        kind="api_token.create",
        summary=f"Create API token {name} ({role})",
        actor=actor,
        face=face,
        desired={"name": name, "role": role, "expires_days": expires_days},
        write=lambda: _write_create(
            name=name, role=role, expires_days=expires_days, actor=actor, value=value
        ),
    )
    return CreatedToken(changeset=changeset, token=token, value=value)


def _write_revoke(*, token: ApiToken, actor: str) -> ApiToken:
    before = _audit_view(token)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor,
        action="api_token.revoke",
        target_type=TARGET_TYPE,
        target_id=token.name,
        target_repr=f"token:{token.name}",
        before=before,
        after=_audit_view(token),
    )
    return token


def token_revoke(*, name: str, actor: str, face: str = "form") -> Changeset | None:
    """Revoke the token named `name` (from now on it is refused). InvalidInput when there is no
    such token or it is revoked already."""
    token = ApiToken.objects.filter(name=(name or "").strip()).first()
    if token is None:
        raise InvalidInput(FieldError("name", f"there is no API token named '{name}'"))
    if token.revoked_at is not None:
        when = f"{token.revoked_at:%Y-%m-%d}"
        raise InvalidInput(FieldError("name", f"the token '{token.name}' was revoked on {when}"))
    changeset, _ = local_change(
        kind="api_token.revoke",
        summary=f"Revoke API token {token.name}",
        actor=actor,
        face=face,
        desired={"name": token.name},
        write=lambda: _write_revoke(token=token, actor=actor),
    )
    return changeset


def token_list() -> list[ApiToken]:
    return list(ApiToken.objects.order_by("name"))


# --- what the API's authentication reads (not changes: nothing is audited) --------------------


def token_for_value(value: str) -> tuple[ApiToken | None, str]:
    """The live token whose value this is, or (None, why it is refused)."""
    if not value.startswith(TOKEN_PREFIX) or len(value) > 200:
        return None, "not a console API token"
    token = ApiToken.objects.filter(token_hash=token_hash(value)).first()
    if token is None:
        return None, "unknown token"
    if token.revoked_at is not None:
        return None, "the token was revoked"
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return None, "the token has expired"
    return token, ""


def token_mark_used(token: ApiToken) -> None:
    """Record that the token was used now, at most once a minute (one conditional UPDATE)."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_EVERY)
    ).update(last_used_at=now)
    token.last_used_at = now
