"""The calls the sandbox implements, one function each, with the roles allowed to make them.

Request and response fields follow clearml-server's `apiserver/schema/services/*.conf` where the
open-source server has the call (auth.*, users.*, server.info); the Enterprise-only calls
(system.*, login.*, sso.*) follow the ClearML docs pages and the response shapes in
docs/sandbox.md.
"""

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import errors
from . import fields as f
from .state import State, fingerprint, fold, new_id, now

VERSION = "3.25.0-sandbox"
API_VERSION = "2.31"

SYSTEM_ROLES = frozenset({"system", "root"})
ADMIN_ROLES = SYSTEM_ROLES | {"admin"}
ANY_ROLE = None
USER_ROLES = ("admin", "superuser", "user", "annotator")
# Most emails or domains one login.* call may carry (documented in the README).
MAX_BATCH = 500
TOKEN_LIFETIME = 30 * 24 * 3600
COMPANY_SETTINGS = ("features", "exclude_features", "allowed_users")
SSO_PROVIDERS = frozenset(
    "keycloak auth0 okta azure_ad ad_oauth google cognito ping "
    "microsoft_ad google_saml duo jumpcloudsaml ldap".split()
)


@dataclass
class Call:
    """One authorised call: who makes it, as whom, in which company."""

    state: State
    endpoint: str
    caller: dict  # the user whose credentials or token were presented
    user: dict  # the user the call acts as (the caller unless Act-As / Impersonate-As)
    role: str  # the effective role
    company: str  # the effective company id
    access_key: str = ""
    options: dict = field(default_factory=dict)  # server options: unique_company_names


@dataclass
class Endpoint:
    name: str
    func: Callable[[Call, dict], dict]
    roles: frozenset | None
    authorize: bool = True
    changes: bool = False


REGISTRY: dict[str, Endpoint] = {}


def endpoint(
    name: str, roles: frozenset | None = ANY_ROLE, *, authorize: bool = True, changes: bool = False
):
    def register(func):
        REGISTRY[name] = Endpoint(name, func, roles, authorize, changes)
        return func

    return register


def company_or_fail(call: Call, company_id) -> dict:
    if not isinstance(company_id, str) or company_id not in call.state.companies:
        raise errors.invalid_id("unknown company", company=company_id)
    return call.state.companies[company_id]


def public_company(company: dict) -> dict:
    record = {
        "id": company["id"],
        "name": company["name"],
        "created": company["created"],
        "defaults": dict(company.get("defaults") or {}),
    }
    if company.get("sso"):
        record["sso"] = company["sso"]
    return record


def public_user(user: dict) -> dict:
    return {
        k: user.get(k)
        for k in (
            "id",
            "name",
            "given_name",
            "family_name",
            "avatar",
            "company",
            "role",
            "email",
            "internal",
            "created",
        )
    }


def parse_company_settings(value, label: str, *, clearing: bool) -> dict:
    """`features`, `exclude_features`, `allowed_users`; with `clearing`, null removes a key."""
    if not isinstance(value, dict):
        raise errors.fields_type_error(f"{label} must be an object", **{label: value})
    unknown = sorted(set(value) - set(COMPANY_SETTINGS))
    if unknown:
        raise errors.invalid_fields([f"{label}.{k}" if label else k for k in unknown])
    result: dict = {}
    prefix = f"{label}." if label else ""
    for key in COMPANY_SETTINGS:
        if key not in value:
            continue
        if value[key] is None:
            if clearing:
                result[key] = None
            continue
        if key == "allowed_users":
            result[key] = f.positive_int(value[key], prefix + key)
        else:
            result[key] = f.string_list(value[key], prefix + key)
    return result


# server
@endpoint("server.info", authorize=False)
def server_info(call: Call, body: dict) -> dict:
    return {
        "version": VERSION,
        "build": "sandbox",
        "commit": "",
        "uid": call.options["uid"],
        "api_version": API_VERSION,
        "sandbox": True,
    }


@endpoint("debug.ping", authorize=False)
def debug_ping(call: Call, body: dict) -> dict:
    return {"msg": "ClearML server (sandbox)"}


# system.* (platform administrator only)
@endpoint("system.create_company", SYSTEM_ROLES, changes=True)
def create_company(call: Call, body: dict) -> dict:
    f.check_keys(body, allowed={"name", "defaults"}, required={"name"})
    name = f.text(body, "name", required=True, max_len=256)
    defaults = parse_company_settings(body.get("defaults") or {}, "defaults", clearing=False)
    if call.options.get("unique_company_names") and call.state.company_name_taken(name):
        raise errors.not_unique("a company with this name already exists", name=name)
    company = {"id": new_id(), "name": name, "created": now(), "defaults": defaults}
    call.state.add_company(company)
    return {"id": company["id"]}


@endpoint("system.get_companies", SYSTEM_ROLES)
def get_companies(call: Call, body: dict) -> dict:
    f.check_keys(body, allowed={"id", "name", "only_fields", "page", "page_size"})
    companies = call.state.companies
    if body.get("id") is not None:
        wanted = f.string_list(body["id"], "id", single=True)
        selected = [companies[i] for i in wanted if i in companies]
    elif body.get("name") is not None:
        ids = call.state.company_ids_by_name
        selected = [
            companies[i]
            for n in f.string_list(body["name"], "name", single=True)
            for i in ids.get(fold(n), [])
        ]
    else:
        selected = list(companies.values())
    only = f.optional_list(body, "only_fields")
    return {"companies": [f.project(public_company(c), only) for c in f.page(selected, body)]}


@endpoint("system.update_company_settings", SYSTEM_ROLES, changes=True)
def update_company_settings(call: Call, body: dict) -> dict:
    """Replaces each given key (a whole list), leaves the others; null removes a key."""
    f.check_keys(body, allowed={"company", *COMPANY_SETTINGS}, required={"company"})
    company = company_or_fail(call, body["company"])
    changes = parse_company_settings(
        {k: v for k, v in body.items() if k != "company"}, "", clearing=True
    )
    if not any(k in body for k in COMPANY_SETTINGS):
        raise errors.missing_fields(["features|exclude_features|allowed_users"])
    defaults = dict(company.get("defaults") or {})
    for key, value in changes.items():
        if value is None:
            defaults.pop(key, None)
        else:
            defaults[key] = value
    company["defaults"] = defaults
    return {"updated": 1, "fields": changes}


@endpoint("system.update_company_sso_config", SYSTEM_ROLES, changes=True)
def update_company_sso_config(call: Call, body: dict) -> dict:
    """Replaces the company's whole multi-tenant SSO settings; `sso: {}` removes them."""
    f.check_keys(body, allowed={"company", "sso"}, required={"company"})
    company = company_or_fail(call, body["company"])
    sso = body.get("sso")
    if sso is None:
        raise errors.missing_fields(["sso"])
    if not isinstance(sso, dict):
        raise errors.fields_type_error("sso must be an object", sso=sso)
    state = call.state
    old_tenant = (company.get("sso") or {}).get("tenant")
    if not sso:
        if old_tenant:
            state.sso_tenants.pop(fold(old_tenant), None)
        company.pop("sso", None)
        return {"updated": 1}
    f.check_keys(sso, allowed={"tenant", "group_mapping", "admin_groups"}, required={"tenant"})
    tenant = f.text(sso, "tenant", required=True, max_len=256, path="sso.tenant")
    mapping = sso.get("group_mapping") or {}
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and k.strip() and isinstance(v, str) and v.strip()
        for k, v in mapping.items()
    ):
        raise errors.fields_type_error(
            "sso.group_mapping must map IdP group names to ClearML group names",
            group_mapping=mapping,
        )
    admin_groups = f.string_list(sso.get("admin_groups") or [], "sso.admin_groups")
    owner = state.sso_tenants.get(fold(tenant))
    if owner and owner != company["id"]:
        raise errors.not_unique(
            "the external tenant is already associated with another company",
            tenant=tenant,
            company=owner,
        )
    if old_tenant:
        state.sso_tenants.pop(fold(old_tenant), None)
    state.sso_tenants[fold(tenant)] = company["id"]
    company["sso"] = {
        "tenant": tenant,
        "group_mapping": {k.strip(): v.strip() for k, v in mapping.items()},
        "admin_groups": admin_groups,
    }
    return {"updated": 1}


# sso.*
@endpoint("sso.save_provider_configuration", ADMIN_ROLES, changes=True)
def save_provider_configuration(call: Call, body: dict) -> dict:
    """Creates or replaces one identity provider of a company, keyed by `configuration.id`."""
    f.check_keys(
        body,
        allowed={"provider", "company", "configuration"},
        required={"provider", "configuration"},
    )
    provider = f.text(body, "provider", required=True)
    if provider not in SSO_PROVIDERS:
        raise errors.fields_value_error(
            "unknown provider", provider=provider, allowed=sorted(SSO_PROVIDERS)
        )
    company_id = body.get("company") or call.company
    if call.role not in SYSTEM_ROLES and company_id != call.company:
        raise errors.fields_not_allowed_for_role(
            "must be empty or your own company", role=call.role, field="company"
        )
    company_or_fail(call, company_id)
    config = body["configuration"]
    if not isinstance(config, dict):
        raise errors.fields_type_error("configuration must be an object", configuration=config)
    config_id = f.text(config, "id", required=True, max_len=256, path="configuration.id")
    for key, value in config.items():
        if not isinstance(value, str | bool | int | float | list | type(None)):
            raise errors.fields_type_error(f"configuration.{key} has an unsupported type")
    stored = dict(config, id=config_id)
    if isinstance(stored.get("client_secret"), str) and stored["client_secret"]:
        stored["client_secret"] = fingerprint(stored["client_secret"])
    providers = call.state.providers.setdefault(company_id, {})
    replaced = config_id in providers
    providers[config_id] = {"provider": provider, "configuration": stored, "updated": now()}
    return {"id": config_id, "updated": int(replaced)}


# auth.*
@endpoint("auth.login")
def login(call: Call, body: dict) -> dict:
    f.check_keys(body, allowed={"expiration_sec"})
    expiration = f.non_negative_int(body, "expiration_sec") or TOKEN_LIFETIME
    token = secrets.token_urlsafe(32)
    call.state.tokens[token] = {
        "user": call.user["id"],
        "role": call.role,
        "company": call.company,
        "expires": time.time() + expiration,
    }
    return {"token": token}


@endpoint("auth.create_user", ADMIN_ROLES, changes=True)
def create_user(call: Call, body: dict) -> dict:
    f.check_keys(
        body,
        allowed={
            "name",
            "company",
            "email",
            "role",
            "given_name",
            "family_name",
            "avatar",
            "internal",
        },
        required={"name", "company", "email"},
    )
    state = call.state
    name = f.text(body, "name", required=True, max_len=256)
    company = company_or_fail(call, body["company"])
    if call.role not in SYSTEM_ROLES and company["id"] != call.company:
        raise errors.fields_not_allowed_for_role(
            "must be your own company", role=call.role, field="company"
        )
    email = f.email(f.text(body, "email", required=True))
    role = f.text(body, "role") or "user"
    if role not in USER_ROLES:
        raise errors.fields_value_error("role", role=role, allowed=list(USER_ROLES))
    if email in state.user_ids_by_email:
        raise errors.not_unique("a user with this email already exists", email=email)
    limit = (company.get("defaults") or {}).get("allowed_users")
    if limit is not None and state.company_user_count(company["id"]) >= limit:
        raise errors.fields_value_error(
            "the company has reached its allowed_users limit",
            company=company["id"],
            allowed_users=limit,
        )
    user = {
        "id": new_id(),
        "name": name,
        "company": company["id"],
        "email": email,
        "role": role,
        "given_name": f.text(body, "given_name") or "",
        "family_name": f.text(body, "family_name") or "",
        "avatar": f.text(body, "avatar") or "",
        "internal": f.boolean(body, "internal", default=False),
        "created": now(),
    }
    state.add_user(user)
    return {"id": user["id"]}


@endpoint("auth.create_credentials", changes=True)
def create_credentials(call: Call, body: dict) -> dict:
    """New credentials for the user the call is made as (the impersonated one, if any)."""
    f.check_keys(body, allowed={"label"})
    label = f.text(body, "label", max_len=256)
    key, secret = call.state.add_credentials(call.user["id"], label=label)
    credentials = {"access_key": key, "secret_key": secret}
    if label is not None:
        credentials["label"] = label
    return {"credentials": credentials}


@endpoint("auth.get_credentials")
def get_credentials(call: Call, body: dict) -> dict:
    """The user's keys, never a secret."""
    f.check_keys(body, allowed=set())
    return {
        "credentials": [
            {
                k: c.get(k)
                for k in ("access_key", "label", "last_used", "last_used_from")
                if k != "label" or c.get("label") is not None
            }
            for c in call.state.user_credentials(call.user["id"])
        ]
    }


@endpoint("auth.revoke_credentials", changes=True)
def revoke_credentials(call: Call, body: dict) -> dict:
    f.check_keys(body, allowed={"access_key"}, required={"access_key"})
    key = f.text(body, "access_key", required=True)
    return {"revoked": call.state.revoke_credentials(call.user["id"], key)}


# users.*
@endpoint("users.get_all")
def get_all_users(call: Call, body: dict) -> dict:
    """Users of the call's company; the platform administrator may name other companies."""
    f.check_keys(
        body,
        allowed={"id", "email", "name", "company", "only_fields", "page", "page_size", "order_by"},
    )
    state = call.state
    companies = [call.company]
    if body.get("company") is not None:
        companies = f.string_list(body["company"], "company", single=True)
        if call.role not in SYSTEM_ROLES and companies != [call.company]:
            raise errors.fields_not_allowed_for_role(
                "must be empty or your own company", role=call.role, field="company"
            )
    if body.get("email") is not None:
        found = (
            state.user_ids_by_email.get(fold(e))
            for e in f.string_list(body["email"], "email", single=True)
        )
        users = [state.users[i] for i in found if i]
    elif body.get("id") is not None:
        users = [
            state.users[i] for i in f.string_list(body["id"], "id", single=True) if i in state.users
        ]
    else:
        users = list(state.users.values())
    users = [u for u in users if u["company"] in companies]
    if body.get("name") is not None:
        pattern = f.text(body, "name")
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise errors.Fault(400, 21, "malformed regular expression", str(exc)) from None
        users = [u for u in users if regex.search(u["name"])]
    for key in reversed(f.optional_list(body, "order_by") or []):
        name = key.lstrip("-")
        users.sort(key=lambda u, n=name: str(u.get(n) or ""), reverse=key.startswith("-"))
    only = f.optional_list(body, "only_fields")
    return {"users": [f.project(public_user(u), only) for u in f.page(users, body)]}


@endpoint("users.get_current_user")
def get_current_user(call: Call, body: dict) -> dict:
    user = public_user(call.user)
    company = call.state.companies[call.company]
    user["company"] = {"id": company["id"], "name": company["name"]}
    user["role"] = call.role
    return {"user": user}


# login.* (tenant sign-in routing; the company is the call's, usually set by Act-As)
@endpoint("login.set_domains", ADMIN_ROLES, changes=True)
def set_domains(call: Call, body: dict) -> dict:
    """Replaces the company's whole domain list (an empty list removes every domain)."""
    f.check_keys(body, allowed={"domains"}, required=set())
    if body.get("domains") is None:
        raise errors.missing_fields(["domains"])
    items = f.string_list(body["domains"], "domains")
    if len(items) > MAX_BATCH:
        raise errors.validation_error(
            f"too many domains: {len(items)} in one call, at most {MAX_BATCH}",
            count=len(items),
            limit=MAX_BATCH,
        )
    domains: list[str] = []
    for item in items:
        value = f.domain(item)
        if value not in domains:
            domains.append(value)
    call.state.login_settings(call.company)["domains"] = domains
    return {"updated": 1}


@endpoint("login.add_whitelist_entries", ADMIN_ROLES, changes=True)
def add_whitelist_entries(call: Call, body: dict) -> dict:
    """Adds emails; an email already listed takes the new `is_admin`."""
    f.check_keys(body, allowed={"emails", "is_admin"}, required={"emails"})
    emails = [f.email(e) for e in f.batch(body, "emails", MAX_BATCH)]
    is_admin = f.boolean(body, "is_admin", default=False)
    whitelist = call.state.login_settings(call.company)["whitelist"]
    added = sum(1 for e in dict.fromkeys(emails) if e not in whitelist)
    updated = sum(1 for e in dict.fromkeys(emails) if e in whitelist and whitelist[e] != is_admin)
    for value in emails:
        whitelist[value] = is_admin
    return {"added": added, "updated": updated}


@endpoint("login.remove_whitelist_entries", ADMIN_ROLES, changes=True)
def remove_whitelist_entries(call: Call, body: dict) -> dict:
    """Removes emails; an email that is not listed is ignored."""
    f.check_keys(body, allowed={"emails"}, required={"emails"})
    emails = [f.email(e) for e in f.batch(body, "emails", MAX_BATCH)]
    whitelist = call.state.login_settings(call.company)["whitelist"]
    removed = sum(1 for e in dict.fromkeys(emails) if whitelist.pop(e, None) is not None)
    return {"removed": removed}


@endpoint("login.get_settings", ADMIN_ROLES)
def get_settings(call: Call, body: dict) -> dict:
    settings = call.state.login.get(call.company) or {"domains": [], "whitelist": {}}
    return {
        "domains": list(settings["domains"]),
        "whitelist": [{"email": e, "is_admin": a} for e, a in settings["whitelist"].items()],
    }
