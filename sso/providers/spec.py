"""Validating identity provider settings: one checker for the SPEC, the browser form and the DB.

An entry is the SPEC's shape (docs/spec.md): `provider`, then every other key the tail of one of
that provider's variables, nested one mapping per further `__`. `allow_http` is the one key of
the console's own: it is never exported and lets a lab use http:// endpoints.

Values are kept exactly as written: a string, list item, URL or company with white space at its
start or end is refused with the value (a secret's is never repeated) and what to do, never
trimmed. The one normalisation is a custom MAP name's case (the apiserver lower-cases variable
names).
"""

import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from console.identifiers import MAX_COMPANY_ID
from console.secret_ref import ENV_REF, env_reference  # noqa: F401 - re-exported
from console.validation import ErrorCollector, FieldError, InvalidInput, join_path, shown, too_long
from tenants.models import MAX_TENANT_NAME, Tenant

from . import catalog
from .catalog import FieldDef, ProviderDef
from .models import MAX_SETTING_VALUE

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
COMPANY_ID = re.compile(rf"^[A-Za-z0-9_-]{{1,{MAX_COMPANY_ID}}}$")
# One more `__` segment: letters and digits joined by single underscores (encoding.PATH_SEGMENT).
MAP_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_VALUE = MAX_SETTING_VALUE
TENANT_PREFIX = "tenant:"
CONSOLE_KEYS = ("provider", "allow_http")


SENT_AS_WRITTEN = "the server receives the value exactly as written"


def surrounding_space_problem(
    text: str,
    why: str = SENT_AS_WRITTEN,
    *,
    secret: bool = False,
    blank_fix: str = "",
    what: str = "The value",
) -> str:
    """Why `text` cannot be used because of white space at its start or end, or "" when it can.

    The same rule as tenants/groups/validation.py: refuse, show the value (never a secret's),
    say what to do. `what` names the field ("Client ID")."""
    if text == text.strip():
        return ""
    subject = what if secret else f"{what} {shown(text, visible=True)}"
    if not text.strip():
        return f"{subject} is only white space; {blank_fix or 'leave the key out instead'}."
    first, last = text[0].isspace(), text[-1].isspace()
    where = "starts and ends" if first and last else ("starts" if first else "ends")
    return f"{subject} {where} with white space; remove it ({why})."


@dataclass
class ProviderEntry:
    """A checked entry. `values` maps a field key (dotted) to its value; MAP values are dicts."""

    provider: ProviderDef
    values: dict[str, object] = field(default_factory=dict)
    allow_http: bool = False
    path: str = ""

    def get(self, key: str, default=None):
        return self.values.get(key, default)

    def as_spec(self) -> dict:
        """The SPEC form: nested mappings, `provider` first."""
        out: dict = {"provider": self.provider.key}
        for key, value in self.values.items():
            node = out
            *parents, last = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
        if self.allow_http:
            out["allow_http"] = True
        return out


def check_url(value: object, path: str, *, allow_http: bool, what: str = "The URL") -> str:
    """An absolute https URL (http only when allowed), without credentials; returned as written
    (white space around it is refused, not trimmed)."""
    if not isinstance(value, str):
        raise InvalidInput(
            FieldError(path, f"{what} must be a URL written as text, not {shown(value)}.")
        )
    text = value
    if not text:
        raise InvalidInput(FieldError(path, f"{what} is empty; write an https:// URL."))
    if len(text) > MAX_VALUE:
        raise InvalidInput(FieldError(path, too_long(what, text, MAX_VALUE)))
    problem = surrounding_space_problem(text, blank_fix="write an https:// URL", what=what)
    if problem:
        raise InvalidInput(FieldError(path, problem))
    subject = f"{what} {shown(text)}"
    if any(ch.isspace() for ch in text) or CONTROL.search(text):
        raise InvalidInput(
            FieldError(path, f"{subject} contains a space or a line break; remove it.")
        )
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(
            FieldError(path, f"{subject} is not a valid URL ({exc}); check it.")
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput(
            FieldError(path, f"{subject} is not an absolute URL; write https://host/….")
        )
    if scheme == "http" and not allow_http:
        raise InvalidInput(
            FieldError(
                path,
                f"{subject} uses http://; identity provider endpoints must use https:// "
                "(tick 'allow http' only for a lab).",
            )
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            FieldError(path, f"{what} carries a user name or password; remove them from the URL.")
        )
    if parts.fragment:
        raise InvalidInput(
            FieldError(path, f"{subject} has a #fragment, which a server never sees; remove it.")
        )
    del port  # parsed only to refuse a bad port number
    return text


def check_ldap_server(value: str, path: str, *, use_tls: object, allow_http: bool) -> str:
    """`value` has been through _check_str (no white space around it); returned as written."""
    text = value
    subject = f"The LDAP server {shown(text)}"
    lowered = text.lower()
    if "://" in lowered:
        scheme = lowered.split("://", 1)[0]
        if scheme not in ("ldap", "ldaps"):
            raise InvalidInput(
                FieldError(
                    path, f"{subject} has another scheme; use ldaps://, ldap:// or a host name."
                )
            )
        try:
            parts = urllib.parse.urlsplit(text)
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            raise InvalidInput(
                FieldError(path, f"{subject} is not a valid URL ({exc}); check it.")
            ) from None
        if not parts.hostname:
            raise InvalidInput(
                FieldError(path, f"{subject} has no host; write ldaps://host[:port].")
            )
        if scheme == "ldap" and use_tls is not True and not allow_http:
            raise InvalidInput(
                FieldError(
                    path,
                    f"{subject} is a plain ldap:// connection: set use_tls: true, use ldaps://, "
                    "or tick 'allow plain connections' for a lab.",
                )
            )
        return text
    if any(ch.isspace() for ch in text) or "/" in text:
        raise InvalidInput(
            FieldError(
                path, f"{subject} is not a host name or an ldap(s):// URL; write ldaps://host."
            )
        )
    return text


def _tenant_name(text: str) -> str:
    """A tenant name as tenant names are stored: trimmed, runs of spaces made one."""
    return " ".join(text.split())


class CompanyResolver:
    """Knows the tenants a `tenant:<name>` may name: those of the SPEC and those of the console."""

    def __init__(self, spec_tenant_names: Iterable[str] = (), *, use_db: bool = True):
        self.spec_names = {
            _tenant_name(n).casefold(): n for n in spec_tenant_names if isinstance(n, str)
        }
        self.use_db = use_db

    def _db_tenant(self, name: str):
        # A name past the limit names no tenant, and is never fed to a LIKE (SQLite refuses a
        # pattern of more than 50,000 bytes: "LIKE or GLOB pattern too complex").
        if not self.use_db or len(_tenant_name(name)) > MAX_TENANT_NAME:
            return None
        return Tenant.objects.filter(
            name__iexact=_tenant_name(name), deleted_at__isnull=True
        ).first()

    def check(self, value: object, path: str, what: str = "The default company") -> str:
        """The value as written, but for the `tenant:` prefix, which is written in lower case.
        `tenant:<name>` names a tenant as tenant names are compared (ignoring case, surrounding
        spaces and runs of spaces), so the name is kept as written."""
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(
                FieldError(
                    path,
                    f"{what} must be tenant:<name> or a company id, not {shown(value)}; leave it "
                    "out for none.",
                )
            )
        problem = surrounding_space_problem(
            value, "a company id or tenant:<name> is used exactly as written", what=what
        )
        if problem:
            raise InvalidInput(FieldError(path, problem))
        text = value
        if text.lower().startswith(TENANT_PREFIX):
            name = _tenant_name(text[len(TENANT_PREFIX) :])
            if not name:
                raise InvalidInput(
                    FieldError(path, f"{what} 'tenant:' needs a tenant name after it.")
                )
            if len(name) > MAX_TENANT_NAME:
                raise InvalidInput(
                    FieldError(
                        path,
                        f"{what} names the tenant {shown(name, length=False)}, which is "
                        f"{len(name):,} characters long; a tenant name has at most "
                        f"{MAX_TENANT_NAME}, so check the name.",
                    )
                )
            if name.casefold() not in self.spec_names and self._db_tenant(name) is None:
                raise InvalidInput(
                    FieldError(
                        path,
                        f"{what} names the tenant {shown(name)}, which is neither in this SPEC's "
                        "tenants nor in the console; check the name or add the tenant.",
                    )
                )
            return TENANT_PREFIX + text[len(TENANT_PREFIX) :]
        if not COMPANY_ID.match(text):
            hint = "."
            if text.casefold() in self.spec_names or self._db_tenant(text) is not None:
                hint = f"; to name the tenant write tenant:{text}."
            raise InvalidInput(
                FieldError(
                    path,
                    f"{what} {shown(text)} is not a company id (1 to {MAX_COMPANY_ID} letters, "
                    f"digits, - and _){hint}",
                )
            )
        return text

    def company_id(self, value: str, path: str) -> str | None:
        """The id to export; None when `tenant:<name>` has no company id yet."""
        if not value.lower().startswith(TENANT_PREFIX):
            return value
        name = _tenant_name(value[len(TENANT_PREFIX) :])
        tenant = self._db_tenant(name)
        if tenant is not None and tenant.company_id:
            return tenant.company_id
        return None


def _check_str(f: FieldDef, value: object, path: str) -> str:
    secret = f.type == catalog.SECRET
    what = f.label
    if isinstance(value, bool) or not isinstance(value, str):
        kind = type(value).__name__
        quoted = "the value" if secret else value  # a secret is never repeated
        raise InvalidInput(
            FieldError(path, f'{what} must be a string, not {kind}; quote it in YAML: "{quoted}".')
        )
    text = value
    if not text and not f.allow_empty:
        raise InvalidInput(FieldError(path, f"{what} is empty; leave the key out instead."))
    if len(text) > MAX_VALUE:
        message = too_long(what, text, MAX_VALUE)
        if secret:
            message = (
                f"{what} is {len(text):,} characters long; shorten it to at most {MAX_VALUE:,}."
            )
        raise InvalidInput(FieldError(path, message))
    blank_fix = 'write "" for the empty value, or leave the key out' if f.allow_empty else ""
    problem = surrounding_space_problem(text, secret=secret, blank_fix=blank_fix, what=what)
    if problem:
        raise InvalidInput(FieldError(path, problem))
    if CONTROL.search(text):
        raise InvalidInput(
            FieldError(path, f"{what} contains a control character (a line break?); remove it.")
        )
    if f.env_ok or secret:
        name = env_reference(text)
        if name is not None:
            if not ENV_NAME.match(name):
                raise InvalidInput(
                    FieldError(
                        path,
                        f"{what}: {shown('env:' + name)} does not name a variable; a variable "
                        "name is letters, digits and _, not starting with a digit.",
                    )
                )
            return f"env:{name}"
    return text


def check_value(
    f: FieldDef,
    value: object,
    path: str,
    *,
    allow_http: bool,
    companies: CompanyResolver,
) -> object:
    """One field's value, checked and normalised; raises InvalidInput naming `path`."""
    what = f.label
    if f.type == catalog.BOOL:
        if not isinstance(value, bool):
            raise InvalidInput(
                FieldError(path, f"{what} must be true or false, not {shown(value)}.")
            )
        return value
    if f.type == catalog.URL:
        return check_url(value, path, allow_http=allow_http, what=what)
    if f.type in (catalog.STR, catalog.SECRET):
        return _check_str(f, value, path)
    if f.type == catalog.COMPANY:
        return companies.check(value, path, what=what)
    if f.type == catalog.PATH:
        text = _check_str(f, value, path)
        if not text.startswith("/"):
            raise InvalidInput(
                FieldError(
                    path,
                    f"{what} {shown(text)} is not an absolute path; write the path inside the "
                    "apiserver container, starting with /.",
                )
            )
        return text
    if f.type == catalog.CHOICE:
        if value not in f.choices:
            raise InvalidInput(
                FieldError(
                    path, f"{what} must be one of {', '.join(f.choices)}, not {shown(value)}."
                )
            )
        return value
    if f.type == catalog.LIST:
        if not isinstance(value, list):
            raise InvalidInput(
                FieldError(
                    path, f"{what} must be a list of strings, like [a, b], not {shown(value)}."
                )
            )
        out: list[str] = []
        errors = ErrorCollector()
        for i, item in enumerate(value):
            try:
                text = _check_str(f, item, f"{path}[{i}]")
            except InvalidInput as exc:
                errors.extend(exc)
                continue
            if text in out:
                errors.add(f"{path}[{i}]", f"{what}: {shown(text)} is listed twice; keep it once.")
            out.append(text)
        errors.raise_if_any()
        return out
    if f.type == catalog.MAP:
        if not isinstance(value, dict):
            raise InvalidInput(
                FieldError(
                    path, f"{what} must be a mapping of name: attribute, not {shown(value)}."
                )
            )
        out_map: dict[str, str] = {}
        errors = ErrorCollector()
        for key, item in value.items():
            item_path = join_path(path, str(key))
            if not isinstance(key, str) or not MAP_KEY.match(key):
                errors.add(
                    item_path,
                    f"{what}: the name {shown(str(key))} cannot be a variable name; use letters "
                    "and digits joined by single _, starting with a letter.",
                )
                continue
            folded = key.lower()  # the apiserver lower-cases variable names
            if folded in out_map:
                errors.add(
                    item_path,
                    f"{what}: '{key}' is the same setting as '{folded}' (the apiserver "
                    "lower-cases names); keep one of them.",
                )
                continue
            try:
                out_map[folded] = _check_str(f, item, item_path)
            except InvalidInput as exc:
                errors.extend(exc)
        errors.raise_if_any()
        return out_map
    raise AssertionError(f"unknown field type {f.type}")


def _flatten(
    provider: ProviderDef, data: Mapping, path: str, errors: ErrorCollector
) -> dict[str, tuple[object, str]]:
    """Nested SPEC keys -> {field key: (value, path)}; unknown keys become errors."""
    keys = {f.key for f in provider.fields}
    out: dict[str, tuple[object, str]] = {}

    def walk(node: Mapping, prefix: str, node_path: str) -> None:
        for raw_key, value in node.items():
            key_path = join_path(node_path, str(raw_key))
            if not isinstance(raw_key, str):
                errors.add(key_path, f"The key {shown(raw_key)} must be a string; quote it.")
                continue
            if not prefix and raw_key in CONSOLE_KEYS:
                continue
            dotted = f"{prefix}.{raw_key}" if prefix else raw_key
            if dotted in keys:
                out[dotted] = (value, key_path)
            elif any(k.startswith(dotted + ".") for k in keys):
                if not isinstance(value, dict):
                    inner = sorted(k[len(dotted) + 1 :] for k in keys if k.startswith(dotted + "."))
                    errors.add(
                        key_path,
                        f"{shown(raw_key)} must be a mapping with the keys {', '.join(inner)}, "
                        f"not {shown(value)}.",
                    )
                else:
                    walk(value, dotted, key_path)
            else:
                errors.add(key_path, _unknown_key_message(provider, raw_key, prefix, keys))

    walk(data, "", path)
    return out


def _unknown_key_message(provider: ProviderDef, key: str, prefix: str, keys: set[str]) -> str:
    here = sorted(
        {
            k[len(prefix) + 1 :].split(".")[0] if prefix else k.split(".")[0]
            for k in keys
            if not prefix or k.startswith(prefix + ".")
        }
    )
    hint = ""
    if "__" in key:
        nested = key.split("__")
        hint = f" (write each __ as a nested mapping: {nested[0]}: {{{'__'.join(nested[1:])}: …}})"
    elif key != key.lower() and key.lower() in here:
        hint = f" (keys are lower case: {key.lower()})"
    return (
        f"{shown(key)} is an unknown key: no variable the {provider.label} page names{hint}; "
        f"the known keys here are {', '.join(here)}."
    )


def validate_provider_entry(
    data: object,
    path: str = "",
    *,
    companies: CompanyResolver | None = None,
) -> ProviderEntry:
    """Check one `identity_providers` entry; raise InvalidInput listing every problem."""
    companies = companies or CompanyResolver()
    if not isinstance(data, dict):
        raise InvalidInput(
            FieldError(
                path,
                f"An identity provider must be a mapping with a provider key, not {shown(data)}.",
            )
        )
    key = data.get("provider")
    if key is None:
        raise InvalidInput(
            FieldError(
                join_path(path, "provider"),
                f"The provider is required; write one of {', '.join(catalog.PROVIDERS)}.",
            )
        )
    provider = catalog.get_provider(key) if isinstance(key, str) else None
    if provider is None:
        raise InvalidInput(
            FieldError(
                join_path(path, "provider"),
                f"{shown(key)} is not a provider the console knows; write one of "
                f"{', '.join(catalog.PROVIDERS)}.",
            )
        )
    errors = ErrorCollector()
    allow_http = data.get("allow_http", False)
    if not isinstance(allow_http, bool):
        errors.add(
            join_path(path, "allow_http"),
            f"allow_http must be true or false, not {shown(allow_http)}.",
        )
        allow_http = False
    raw = _flatten(provider, data, path, errors)
    values: dict[str, object] = {}
    for f in provider.fields:
        if f.key not in raw:
            if f.required:
                errors.add(
                    join_path(path, f.key),
                    f"{f.label} is required for {provider.label}; fill it in.",
                )
            continue
        value, value_path = raw[f.key]
        if f.type == catalog.STR and f.allow_empty and value is None:
            value = ""
        try:
            values[f.key] = check_value(
                f, value, value_path, allow_http=allow_http, companies=companies
            )
        except InvalidInput as exc:
            errors.extend(exc)
    if provider.key == "ldap" and isinstance(values.get("server"), str):
        try:
            values["server"] = check_ldap_server(
                values["server"],
                raw["server"][1],
                use_tls=values.get("use_tls"),
                allow_http=allow_http,
            )
        except InvalidInput as exc:
            errors.extend(exc)
    errors.raise_if_any()
    return ProviderEntry(provider=provider, values=values, allow_http=allow_http, path=path)


def validate_identity_providers(
    items: object,
    *,
    spec_tenant_names: Iterable[str] = (),
    path: str = "identity_providers",
) -> list[ProviderEntry]:
    """The SPEC's `identity_providers` list: each entry checked, a provider at most once."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidInput(
            FieldError(path, f"The identity providers must be a list, not {shown(items)}.")
        )
    companies = CompanyResolver(spec_tenant_names)
    errors = ErrorCollector()
    entries: list[ProviderEntry] = []
    first_at: dict[str, int] = {}
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]"
        key = item.get("provider") if isinstance(item, dict) else None
        if isinstance(key, str) and key in first_at:
            errors.add(
                join_path(item_path, "provider"),
                f"The provider {shown(key)} is configured twice (first at "
                f"{path}[{first_at[key]}]); a provider's variables exist once per server, so keep "
                "one entry.",
            )
            continue
        if isinstance(key, str):
            first_at[key] = i
        try:
            entries.append(validate_provider_entry(item, item_path, companies=companies))
        except InvalidInput as exc:
            errors.extend(exc)
    errors.raise_if_any()
    return entries


def spec_tenant_names(spec: Mapping) -> list[str]:
    tenants = spec.get("tenants") or []
    if not isinstance(tenants, list):
        return []
    return [t["name"] for t in tenants if isinstance(t, dict) and isinstance(t.get("name"), str)]
