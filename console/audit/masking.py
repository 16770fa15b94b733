"""Replace secret values by markers before an audit entry is written.

Masking is by allowlist of secret *names*: the caller names its secret fields, and a built-in set
of names that are secrets wherever they appear (`client_secret`, `password`, `token_secret`, ...)
is matched at any nesting depth, ignoring case. A secret is replaced as a whole by a marker that
says only whether it is set or changed; no part of the value is ever kept (never
half-mask). As a second line of defence every other stored string (error texts, the apiserver's
`result_msg`, names) is scrubbed of any secret value found in the before/after data.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

MASK_SET = "•••• (set)"
MASK_CHANGED = "•••• (changed)"
MASK_UNCHANGED = "•••• (unchanged)"
UNSET = "(unset)"
SCRUBBED = "••••"
MARKERS = frozenset({MASK_SET, MASK_CHANGED, MASK_UNCHANGED, UNSET})

# Names that are secrets wherever they appear. A key matches when one of its segments (a key
# may be a dotted path or a CLEARML__a__b variable name) is in this set or ends with a suffix.
BUILTIN_SECRET_NAMES = frozenset(
    {
        "secret",
        "secrets",
        "secret_key",
        "secretkey",
        "client_secret",
        "clientsecret",
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "user_secret",
        "token_secret",
        "session_secret",
        "auth_secret",
        "api_secret",
        "apisecret",
        "private_key",
        "privatekey",
        "signing_key",
        "encryption_key",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "bearer",
        "authorization",
        "cookie",
        "secret_value",
        "password_hash",
        "bcrypt",
    }
)
SECRET_SUFFIXES = ("_secret", "_password", "_passwd", "_private_key", "_secret_key", "_token")
# Settings whose names end like a secret but hold none (Keycloak's boolean switch).
NOT_SECRET_NAMES = frozenset({"get_info_from_access_token"})
# Secret values shorter than this are not searched for in other text: scrubbing "ab" out of every
# message would mangle it, and a secret that short is not a secret worth the name.
MIN_SCRUB_LENGTH = 4

_SEGMENT_SPLIT = re.compile(r"\.|__|/")
_MISSING = object()


# Every audit entry walks its keys through these; the same few hundred key names come back
# again and again (an apply of 200 tenants masks thousands of entries), so they are cached.
def _segments(key: object) -> tuple[str, ...]:
    return _segments_of(str(key))


@lru_cache(maxsize=4096)
def _segments_of(text: str) -> tuple[str, ...]:
    text = text.strip().lower().replace("-", "_")
    return tuple(s for s in _SEGMENT_SPLIT.split(text) if s)


def is_builtin_secret_name(key: object) -> bool:
    """True when the key names a secret by the built-in allowlist."""
    return _is_builtin_secret_text(str(key))


@lru_cache(maxsize=4096)
def _is_builtin_secret_text(text: str) -> bool:
    return any(
        s not in NOT_SECRET_NAMES
        and (s in BUILTIN_SECRET_NAMES or s.endswith(SECRET_SUFFIXES) or s.startswith("secret_"))
        for s in _segments_of(text)
    )


@dataclass
class _Matcher:
    """Decides whether the value at a path of dict keys is a secret."""

    names: frozenset[str] = frozenset()
    paths: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def build(cls, secret_fields: Iterable[str]) -> "_Matcher":
        if isinstance(secret_fields, str):
            secret_fields = (secret_fields,)
        names, paths = set(), []
        for item in secret_fields or ():
            parts = tuple(_segments(item))
            if len(parts) == 1:
                names.add(parts[0])
            elif parts:
                paths.append(parts)
        return cls(frozenset(names), tuple(paths))

    def is_secret(self, path: tuple[str, ...]) -> bool:
        key = path[-1]
        if is_builtin_secret_name(key):
            return True
        if not self.names and not self.paths:
            return False  # no secret fields named: the built-in names are all there is
        segments = _segments(key)
        if any(s in self.names for s in segments):
            return True
        flat = [s for k in path for s in _segments(k)]
        return any(tuple(flat[-len(p) :]) == p for p in self.paths if len(flat) >= len(p))


@dataclass
class MaskResult:
    before: object
    after: object
    changed_fields: list[str]
    secret_values: set[str] = field(default_factory=set)


def _present(value: object) -> bool:
    return value is not _MISSING and value not in (None, "", [], {})


def _collect_strings(value: object, into: set[str]) -> None:
    if isinstance(value, dict):
        for v in value.values():  # keys name the parts of a secret; only values are secret
            _collect_strings(v, into)
    elif isinstance(value, list | tuple):
        for v in value:
            _collect_strings(v, into)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, str | int | float):
        text = str(value)
        if len(text) >= MIN_SCRUB_LENGTH:
            into.add(text)


def _markers(before: object, after: object, before_given: bool) -> tuple[object, object]:
    masked_before = _MISSING
    if before is not _MISSING:
        masked_before = MASK_SET if _present(before) else UNSET
    masked_after = _MISSING
    if after is not _MISSING:
        if not _present(after):
            masked_after = UNSET
        elif not before_given or not _present(before):
            masked_after = MASK_SET
        elif before == after:
            masked_after = MASK_UNCHANGED
        else:
            masked_after = MASK_CHANGED
    return masked_before, masked_after


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, list):
        return "list"
    return "missing" if value is _MISSING else "scalar"


def _mask_one(value, path, matcher, secrets):
    """`_mask` of a value the other side does not have (a new entry's `after`, a removed one's
    `before`): the same walk over one side, for the many entries that have only one."""
    if path and matcher.is_secret(path):
        _collect_strings(value, secrets)
        return MASK_SET if _present(value) else UNSET
    if isinstance(value, dict):
        return {
            key: _mask_one(item, (*path, str(key)), matcher, secrets) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mask_one(item, path, matcher, secrets) for item in value]
    return value


def _mask(before, after, path, matcher, secrets, before_given):
    """Walk before and after together; return both with every secret replaced by a marker."""
    if before is _MISSING:
        return _MISSING, _MISSING if after is _MISSING else _mask_one(after, path, matcher, secrets)
    if after is _MISSING:
        return _mask_one(before, path, matcher, secrets), _MISSING
    if path and matcher.is_secret(path):
        _collect_strings(before if before is not _MISSING else None, secrets)
        _collect_strings(after if after is not _MISSING else None, secrets)
        return _markers(before, after, before_given)
    kind_before, kind_after = _kind(before), _kind(after)
    if kind_before != kind_after and _MISSING not in (before, after):
        # The shape changed (a list became a dict, ...): mask each side on its own.
        masked_before, _ = _mask(before, _MISSING, path, matcher, secrets, before_given)
        _, masked_after = _mask(_MISSING, after, path, matcher, secrets, before_given)
        return masked_before, masked_after
    if isinstance(before, dict) or isinstance(after, dict):
        b = before if isinstance(before, dict) else {}
        a = after if isinstance(after, dict) else {}
        keys = list(dict.fromkeys([*b.keys(), *a.keys()]))
        out_b, out_a = {}, {}
        for key in keys:
            mb, ma = _mask(
                b.get(key, _MISSING),
                a.get(key, _MISSING),
                (*path, str(key)),
                matcher,
                secrets,
                before_given,
            )
            if mb is not _MISSING:
                out_b[key] = mb
            if ma is not _MISSING:
                out_a[key] = ma
        # A side that was not a dict keeps its own (non-dict) value.
        return (
            out_b if isinstance(before, dict) else before,
            out_a if isinstance(after, dict) else after,
        )
    if isinstance(before, list) or isinstance(after, list):
        b = before if isinstance(before, list) else []
        a = after if isinstance(after, list) else []
        out_b, out_a = [], []
        for i in range(max(len(b), len(a))):
            # List items keep the path of the list itself: `credentials[0].secret_key` matches
            # `secret_key`, and a list under a secret name was masked as a whole above.
            mb, ma = _mask(
                b[i] if i < len(b) else _MISSING,
                a[i] if i < len(a) else _MISSING,
                path,
                matcher,
                secrets,
                before_given,
            )
            if mb is not _MISSING:
                out_b.append(mb)
            if ma is not _MISSING:
                out_a.append(ma)
        return (
            out_b if isinstance(before, list) else before,
            out_a if isinstance(after, list) else after,
        )
    return before, after


def _changed(before, after, path, matcher, out: list[str]) -> None:
    """Dotted paths of the leaves that differ; lists and secrets count as single leaves."""
    if path and matcher.is_secret(path):
        if before != after:
            out.append(".".join(path))
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in dict.fromkeys([*before.keys(), *after.keys()]):
            _changed(
                before.get(key, _MISSING), after.get(key, _MISSING), (*path, str(key)), matcher, out
            )
        return
    if before != after:
        out.append(".".join(path) if path else "*")


def mask_change(
    before: dict | None, after: dict | None, secret_fields: Iterable[str] = ()
) -> MaskResult:
    """Mask the secrets of a before/after pair and list the changed fields.

    `before` and `after` must already be plain JSON values. The returned `secret_values` are the
    raw secrets found, for scrubbing other text; they must never be stored.
    """
    matcher = _Matcher.build(secret_fields)
    secrets: set[str] = set()
    before_given = before is not None
    masked_before, masked_after = _mask(
        before if before is not None else _MISSING,
        after if after is not None else _MISSING,
        (),
        matcher,
        secrets,
        before_given,
    )
    changed: list[str] = []
    if before is None and isinstance(after, dict):
        changed = [str(k) for k in after]
    elif after is None and isinstance(before, dict):
        changed = [str(k) for k in before]
    elif before is not None or after is not None:
        _changed(
            before if before is not None else _MISSING,
            after if after is not None else _MISSING,
            (),
            matcher,
            changed,
        )
    return MaskResult(
        before=None if masked_before is _MISSING else masked_before,
        after=None if masked_after is _MISSING else masked_after,
        changed_fields=changed,
        secret_values=secrets,
    )


def scrub_text(text: str, secret_values: Iterable[str]) -> str:
    """Replace every occurrence of a secret value in free text by a marker (the one scrubber:
    audit entries, error messages and call records all go through it). Values shorter than
    MIN_SCRUB_LENGTH are left alone: replacing "a" everywhere would destroy the text."""
    if not text:
        return text
    return _scrub_text(text, sorted(secret_values, key=len, reverse=True))


def _scrub_text(text: str, longest_first: list[str]) -> str:
    """scrub_text with the secret values already sorted, longest first."""
    if not text:
        return text
    for value in longest_first:
        if value and len(value) >= MIN_SCRUB_LENGTH and value in text:
            text = text.replace(value, SCRUBBED)
    return text


def scrub(value: object, secret_values: Iterable[str]) -> object:
    """Scrub secret values out of every string (and dict key) of a JSON value."""
    secret_values = [v for v in secret_values if v]
    if not secret_values:
        return value
    # Sorted once for the whole value, not again for each of its strings.
    return _scrub(value, secret_values, sorted(secret_values, key=len, reverse=True))


def _scrub(value: object, secret_values: list[str], longest_first: list[str]) -> object:
    if isinstance(value, str):
        return value if value in MARKERS else _scrub_text(value, longest_first)
    if isinstance(value, dict):
        return {
            _scrub_text(str(k), longest_first): _scrub(v, secret_values, longest_first)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v, secret_values, longest_first) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A numeric secret (a PIN-like password) must not survive as a number either.
        return SCRUBBED if str(value) in secret_values else value
    return value
