"""Turning checked identity provider entries into the apiserver's environment variables.

Secrets are resolved here and nowhere else: `env:NAME` is read from the environment of the process
that exports (the `snippets` command, or the console for a download), and a missing variable is
an error naming it. With `placeholders=True` (pages and `plan`), a secret becomes a marker that
says where it comes from, and a tenant without a company id yet becomes a marker too.
"""

import os
from collections.abc import Mapping

from console.secret_ref import resolve_secret
from console.snippets import EnvSetting
from console.validation import ErrorCollector, InvalidInput, join_path

from . import catalog
from .catalog import FieldDef
from .spec import CompanyResolver, ProviderEntry, env_reference

SECRET_SHOWN_AS = "<{label}: write-only, not shown>"  # noqa: S105 - a marker
ENV_SHOWN_AS = "<read from ${name} when exported>"


def _resolve_env(name: str, path: str, environ: Mapping[str, str], errors: ErrorCollector):
    try:
        return resolve_secret(
            f"env:{name}",
            path,
            environ=environ,
            where="this command (the value is read when the snippet is made)",
        )
    except InvalidInput as exc:
        errors.errors.extend(exc.errors)
        return None


def _value_for(
    entry: ProviderEntry,
    f: FieldDef,
    value: object,
    path: str,
    *,
    companies: CompanyResolver,
    environ: Mapping[str, str],
    placeholders: bool,
    errors: ErrorCollector,
) -> object:
    name = env_reference(value) if (f.is_secret or f.env_ok) else None
    if f.is_secret:
        if placeholders:
            return ENV_SHOWN_AS.format(name=name) if name else SECRET_SHOWN_AS.format(label=f.label)
        return _resolve_env(name, path, environ, errors) if name else value
    if name is not None:
        if placeholders:
            return ENV_SHOWN_AS.format(name=name)
        return _resolve_env(name, path, environ, errors)
    if f.type == catalog.COMPANY:
        company = companies.company_id(str(value), path)
        if company is None:
            tenant = str(value)[len("tenant:") :]
            if placeholders:
                return f"<company id of tenant {tenant}>"
            errors.add(
                path,
                f"tenant '{tenant}' has no company id yet: apply the SPEC (or create the tenant) "
                "first, then export the snippets",
            )
            return None
        return company
    return value


def entry_settings(
    entry: ProviderEntry,
    *,
    companies: CompanyResolver | None = None,
    environ: Mapping[str, str] | None = None,
    placeholders: bool = False,
) -> list[EnvSetting]:
    """The variables of one provider, in the catalog's order; raise InvalidInput naming paths."""
    companies = companies or CompanyResolver()
    environ = os.environ if environ is None else environ
    provider = entry.provider
    errors = ErrorCollector()
    settings = [EnvSetting(name, value) for name, value in provider.fixed]
    for f in provider.fields:
        if f.key not in entry.values:
            continue
        path = join_path(entry.path, f.key)
        raw = entry.values[f.key]
        if f.type == catalog.MAP:
            for extra, item in raw.items():
                settings.append(EnvSetting(provider.variable(f, extra), item))
            continue
        value = _value_for(
            entry,
            f,
            raw,
            path,
            companies=companies,
            environ=environ,
            placeholders=placeholders,
            errors=errors,
        )
        if value is None:
            continue
        try:
            settings.append(EnvSetting(provider.variable(f), value, secret=f.is_secret))
        except ValueError as exc:
            # The message of a secret's failure never carries the value (encoding.check_text).
            errors.add(path, f"cannot be written as an environment variable: {exc}")
    errors.raise_if_any()
    return settings


def entries_settings(
    entries: list[ProviderEntry],
    *,
    companies: CompanyResolver | None = None,
    environ: Mapping[str, str] | None = None,
    placeholders: bool = False,
) -> list[EnvSetting]:
    errors = ErrorCollector()
    out: list[EnvSetting] = []
    for entry in entries:
        try:
            out += entry_settings(
                entry, companies=companies, environ=environ, placeholders=placeholders
            )
        except InvalidInput as exc:
            errors.extend(exc)
    errors.raise_if_any()
    return out
