"""Normalising and validating email addresses and domains: the one place that does it.

Emails and domains are compared after trimming, lower-casing and IDNA-encoding the domain, so
`Alice@Bücher.example ` and `alice@xn--bcher-kva.example` are the same routing key.
"""

import re
from functools import lru_cache

import idna

from .validation import FieldError, InvalidInput, shown, too_long

MAX_EMAIL_LENGTH = 254  # RFC 5321's limit; TenantAdmin.email and WhitelistEntry.email
MAX_DOMAIN_LENGTH = 253  # DNS's limit; LoginDomain.domain
MAX_COMPANY_ID = 64  # Tenant.company_id; the apiserver's ids are 32 hexadecimal digits
LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+$")


def normalize_domain(value: str, path: str = "") -> str:
    """Return the domain in ASCII lower case, or raise InvalidInput naming the problem."""
    text = (value or "").strip().lower().rstrip(".")
    if not text:
        raise InvalidInput(FieldError(path, "A domain is required; write one like example.com."))
    if "@" in text:
        raise InvalidInput(
            FieldError(
                path,
                f"{shown(text)} is an email address, not a domain; write only the part after "
                f"the @ ({shown(text.rsplit('@', 1)[-1])}).",
            )
        )
    ascii_text, reason = _domain_or_reason(text)
    if reason:
        raise InvalidInput(FieldError(path, f"The domain {shown(text, length=False)} {reason}"))
    return ascii_text


@lru_cache(maxsize=8192)
def _domain_or_reason(text: str) -> tuple[str, str]:
    """(ASCII domain, "") or ("", why not, to follow "The domain '…'"). Cached: a bulk import
    repeats a few domains a lot."""
    if len(text) > MAX_DOMAIN_LENGTH:
        return "", (
            f"is {len(text):,} characters long; a domain has at most {MAX_DOMAIN_LENGTH} "
            "characters, so shorten it."
        )
    if any(ch.isspace() for ch in text):
        return "", "contains a space; remove it."
    try:
        ascii_text = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        return "", f"is not a valid domain name ({exc}); check its spelling."
    labels = ascii_text.split(".")
    if len(labels) < 2:
        return "", "needs at least two labels, like example.com; add the missing part."
    if len(ascii_text) > MAX_DOMAIN_LENGTH:
        return "", (
            f"is {len(ascii_text):,} characters long once encoded for DNS; a domain has at most "
            f"{MAX_DOMAIN_LENGTH}, so shorten it."
        )
    for label in labels:
        if not LABEL.match(label):
            return "", (
                f"has an invalid label {shown(label)}: each part between dots is 1 to 63 letters, "
                "digits or hyphens, and does not start or end with a hyphen."
            )
    if labels[-1].isdigit():
        return "", "looks like an IP address, not a domain; write a domain name like example.com."
    return ascii_text, ""


def normalize_email(value: str, path: str = "") -> str:
    """Return the email with a lower-case local part and an ASCII domain, or raise InvalidInput."""
    text = (value or "").strip().lower()
    if not text:
        raise InvalidInput(
            FieldError(path, "An email address is required; write one like name@example.com.")
        )
    if len(text) > MAX_EMAIL_LENGTH:
        raise InvalidInput(FieldError(path, too_long("The email address", text, MAX_EMAIL_LENGTH)))
    if text.count("@") != 1:
        raise InvalidInput(
            FieldError(
                path,
                f"{shown(text)} is not an email address: it needs exactly one @, like "
                "name@example.com.",
            )
        )
    local, domain = text.split("@")
    if not local:
        raise InvalidInput(
            FieldError(
                path,
                f"The email address {shown(text)} has nothing before the @; write the whole "
                "address, like name@example.com.",
            )
        )
    if not LOCAL_PART.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidInput(
            FieldError(
                path,
                f"The email address {shown(text)} has characters not allowed before the @; use "
                "letters, digits and symbols such as . _ + - (no space, no accented letter, and "
                "no dot at the start, at the end or twice in a row).",
            )
        )
    domain = domain.rstrip(".")
    if not domain:
        raise InvalidInput(
            FieldError(
                path,
                f"The email address {shown(text)} has nothing after the @; add its domain, like "
                "name@example.com.",
            )
        )
    ascii_domain, reason = _domain_or_reason(domain)
    if reason:
        raise InvalidInput(
            FieldError(
                path,
                f"The email address {shown(text, length=False)} has the domain "
                f"{shown(domain, length=False)}, which {reason}",
            )
        )
    email = f"{local}@{ascii_domain}"
    if len(email) > MAX_EMAIL_LENGTH:
        raise InvalidInput(FieldError(path, too_long("The email address", email, MAX_EMAIL_LENGTH)))
    return email


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1]
