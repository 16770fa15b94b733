"""Normalising and validating email addresses and domains: the one place that does it.

Emails and domains are compared after trimming, lower-casing and IDNA-encoding the domain, so
`Alice@Bücher.example ` and `alice@xn--bcher-kva.example` are the same routing key.
"""

import re
from functools import lru_cache

import idna

from .validation import FieldError, InvalidInput

MAX_EMAIL_LENGTH = 254
LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+$")


def normalize_domain(value: str, path: str = "") -> str:
    """Return the domain in ASCII lower case, or raise InvalidInput naming the problem."""
    text = (value or "").strip().lower().rstrip(".")
    ascii_text, reason = _domain_or_reason(text)
    if reason:
        raise InvalidInput(FieldError(path, reason))
    return ascii_text


@lru_cache(maxsize=8192)
def _domain_or_reason(text: str) -> tuple[str, str]:
    """(ASCII domain, "") or ("", why not). Cached: a bulk import repeats a few domains a lot."""
    if not text:
        return "", "a domain is required"
    if "@" in text:
        return "", f"'{text}' is an email address, not a domain"
    if any(ch.isspace() for ch in text):
        return "", f"'{text}' contains a space"
    try:
        ascii_text = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        return "", f"'{text}' is not a valid domain ({exc})"
    labels = ascii_text.split(".")
    if len(labels) < 2:
        return "", f"'{text}' needs at least two labels, like example.com"
    if len(ascii_text) > 253:
        return "", f"'{text}' is longer than 253 characters"
    for label in labels:
        if not LABEL.match(label):
            return "", f"'{text}' has an invalid label '{label}'"
    if labels[-1].isdigit():
        return "", f"'{text}' looks like an IP address, not a domain"
    return ascii_text, ""


def normalize_email(value: str, path: str = "") -> str:
    """Return the email with a lower-case local part and an ASCII domain, or raise InvalidInput."""
    text = (value or "").strip().lower()
    if not text:
        raise InvalidInput(FieldError(path, "an email address is required"))
    if text.count("@") != 1:
        raise InvalidInput(
            FieldError(path, f"'{text}' is not an email address (it needs exactly one @)")
        )
    local, domain = text.split("@")
    if not local:
        raise InvalidInput(FieldError(path, f"'{text}' has nothing before the @"))
    if not LOCAL_PART.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidInput(FieldError(path, f"'{text}' has characters not allowed before the @"))
    try:
        ascii_domain = normalize_domain(domain)
    except InvalidInput as exc:
        reason = exc.errors[0].message
        raise InvalidInput(FieldError(path, f"'{text}': {reason}")) from None
    email = f"{local}@{ascii_domain}"
    if len(email) > MAX_EMAIL_LENGTH:
        raise InvalidInput(
            FieldError(path, f"'{text}' is longer than {MAX_EMAIL_LENGTH} characters")
        )
    return email


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1]
