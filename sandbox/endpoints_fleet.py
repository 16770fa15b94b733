"""The sandbox's calls for fleet operations: relabelling credentials and administrator vaults.

`auth.edit_credentials` follows clearml-server's `auth.conf` (2.19). The vault calls are
Enterprise-only; they follow the ClearML docs page "Administrator Vaults" (REST API section):
`users.get_vaults` lists the caller's company's group-scoped vaults and the caller's own
user-scoped vault, `users.add_or_update_vault` creates (no `vault.id`) or updates one,
`users.delete_vaults` deletes by id. Vaults live in memory only (`State.vaults`, never in the
state file): their content is configuration that may hold storage credentials.
"""

from . import errors
from . import fields as f
from .endpoints import ADMIN_ROLES, Call, endpoint
from .state import new_id, now

VAULT_FORMATS = ("hocon", "json", "yaml")
VAULT_SCOPES = ("group", "user")
VAULT_FIELDS = {"id", "scope", "enabled", "data", "format", "type", "description", "name"}
MAX_VAULT_DATA = 256 * 1024


@endpoint("auth.edit_credentials", changes=True)
def edit_credentials(call: Call, body: dict) -> dict:
    """Set the label of one of the user's keys (the impersonated user's, if any)."""
    f.check_keys(body, allowed={"access_key", "label"}, required={"access_key"})
    key = f.text(body, "access_key", required=True)
    label = f.text(body, "label", max_len=256)
    record = call.state.find_credentials(key)
    if record is None or record["user"] != call.user["id"]:
        return {"updated": 0}
    record["label"] = label or ""
    return {"updated": 1}


def _vaults(call: Call) -> dict[str, dict]:
    return call.state.vaults


def _user_vault(call: Call) -> dict:
    """The caller's own (user-scoped) vault, as the web app's Settings > Workspace keeps it."""
    vaults = _vaults(call)
    for vault in vaults.values():
        if vault["scope"] == "user" and vault.get("user") == call.user["id"]:
            return vault
    vault = {
        "id": new_id(),
        "company": call.company,
        "scope": "user",
        "user": call.user["id"],
        "enabled": True,
        "data": "",
        "format": "hocon",
        "type": "config",
        "description": "",
        "created": now(),
        "last_update": now(),
    }
    vaults[vault["id"]] = vault
    return vault


def _public(vault: dict) -> dict:
    keys = ("id", "scope", "enabled", "data", "format", "type", "description", "group")
    record = {k: vault.get(k) for k in keys if vault.get(k) is not None}
    record["last_update"] = vault.get("last_update")
    return record


@endpoint("users.get_vaults")
def get_vaults(call: Call, body: dict) -> dict:
    f.check_keys(body, allowed={"scope", "type"})
    own = _user_vault(call)
    found = [
        v
        for v in _vaults(call).values()
        if v["company"] == call.company and (v["scope"] == "group" or v is own)
    ]
    if body.get("scope"):
        found = [v for v in found if v["scope"] == body["scope"]]
    return {"vaults": [_public(v) for v in sorted(found, key=lambda v: v["created"])]}


@endpoint("users.add_or_update_vault", ADMIN_ROLES, changes=True)
def add_or_update_vault(call: Call, body: dict) -> dict:
    f.check_keys(body, allowed={"group", "vault"}, required={"vault"})
    vault = body["vault"]
    if not isinstance(vault, dict):
        raise errors.fields_type_error("vault must be an object", vault=vault)
    unknown = sorted(set(vault) - VAULT_FIELDS)
    if unknown:
        raise errors.invalid_fields([f"vault.{k}" for k in unknown])
    scope = f.text(vault, "scope", path="vault.scope") or "group"
    if scope not in VAULT_SCOPES:
        raise errors.fields_value_error("vault.scope", scope=scope, allowed=list(VAULT_SCOPES))
    fmt = f.text(vault, "format", path="vault.format") or "hocon"
    if fmt not in VAULT_FORMATS:
        raise errors.fields_value_error("vault.format", format=fmt, allowed=list(VAULT_FORMATS))
    data = vault.get("data", "")
    if not isinstance(data, str) or len(data) > MAX_VAULT_DATA:
        raise errors.validation_error(f"vault.data must be a string of at most {MAX_VAULT_DATA}")
    group = f.text(body, "group")
    if scope == "group" and not group:
        raise errors.missing_fields(["group"])
    existing = None
    if vault.get("id"):
        existing = _vaults(call).get(str(vault["id"]))
        if existing is None or existing["company"] != call.company:
            raise errors.invalid_id("unknown vault", id=vault["id"])
    record = existing or {
        "id": new_id(),
        "company": call.company,
        "user": call.user["id"],
        "created": now(),
    }
    record.update(
        scope=scope,
        group=group if scope == "group" else None,
        enabled=f.boolean(vault, "enabled", default=True, path="vault.enabled"),
        data=data,
        format=fmt,
        type=f.text(vault, "type", path="vault.type") or "config",
        description=f.text(vault, "description", path="vault.description") or "",
        last_update=now(),
    )
    _vaults(call)[record["id"]] = record
    return {"vault": record["id"]}


@endpoint("users.delete_vaults", ADMIN_ROLES, changes=True)
def delete_vaults(call: Call, body: dict) -> dict:
    f.check_keys(body, allowed={"vaults"}, required={"vaults"})
    ids = f.string_list(body["vaults"], "vaults", allow_empty=False)
    vaults = _vaults(call)
    deleted = 0
    for vault_id in ids:
        vault = vaults.get(vault_id)
        if vault is not None and vault["company"] == call.company:
            del vaults[vault_id]
            deleted += 1
    return {"deleted": deleted}
