"""The refresh's fleet reads of one tenant: its users' API credentials and its admin vaults.

Run in the refresh's worker threads (changes/refresh.py): they only talk to the apiserver; the
refresh saves what they return afterwards on its own thread.

- **Credentials**: `auth.get_credentials` impersonating each user of the tenant (as
  `users.get_all` by company listed them): access key, label, `last_used`, `last_used_from`
  (and `created` when the server gives it). The call never returns a secret, and nothing here
  would keep one.
- **Vaults**: `auth.login` impersonating the tenant's first admin gives a token, and
  `users.get_vaults` with it lists the vaults (the ClearML docs page "Administrator Vaults").
  Only what a page may show is kept: id, scope, group, description, format, type, enabled, last
  update, the content's size and a fingerprint (SHA-256, first 16 hex digits). Never the content.

A server without a call (404, or "not supported") is not a failure of the refresh: the row says
`supported: false` with the server's message, and the pages say so for that tenant.
"""

import hashlib

from console.apiserver import ApiCannotConnect, ApiClient, ApiError, ApiNotFound, ApiTimeout
from console.apiserver.token_client import client_with_token

# At most this many users' credentials are read per tenant (the rest are counted, not read).
MAX_USERS_READ = 2000
# Kept per tenant: the first failures of single users' credential reads.
KEPT_USER_ERRORS = 5
CREDENTIAL_FIELDS = ("access_key", "label", "last_used", "last_used_from", "created")
VAULT_FIELDS = ("id", "scope", "group", "description", "format", "type", "enabled")


def not_supported(exc: ApiError) -> bool:
    """The server does not have this call (an open-source server has no vault calls)."""
    return isinstance(exc, ApiNotFound) or "not supported" in (exc.result_msg or "").lower()


def credentials_of_users(client: ApiClient, users: list[dict]) -> dict:
    """Each user's keys, as one snapshot row's data: {"credentials": [...], "users": n, ...}.

    A user whose keys cannot be read is noted (`user_errors`, `failed_users`) and the others are
    still read; a server without `auth.get_credentials` ends the tenant's read with
    `supported: false`. Raises ApiError when the server cannot be reached."""
    rows: list[dict] = []
    errors: list[str] = []
    failed = 0
    for user in users[:MAX_USERS_READ]:
        user_id = str(user.get("id") or "")
        if not user_id:
            continue
        try:
            data = client.call("auth.get_credentials", {}, impersonate_as=user_id)
        except ApiError as exc:
            if not_supported(exc):
                return {"supported": False, "message": str(exc), "credentials": []}
            if isinstance(exc, ApiCannotConnect | ApiTimeout):
                raise
            failed += 1
            if len(errors) < KEPT_USER_ERRORS:
                errors.append(f"{user.get('email') or user_id}: {exc}")
            continue
        for item in data.get("credentials") or []:
            if not isinstance(item, dict) or not item.get("access_key"):
                continue
            row = {k: item.get(k) for k in CREDENTIAL_FIELDS}
            row.update(
                user_id=user_id,
                user=str(user.get("name") or ""),
                email=str(user.get("email") or ""),
                role=str(user.get("role") or ""),
            )
            rows.append(row)
    return {
        "supported": True,
        "credentials": rows,
        "users": len(users),
        "users_not_read": max(0, len(users) - MAX_USERS_READ),
        "failed_users": failed,
        "user_errors": errors,
    }


def fingerprint(text: str) -> str:
    """What the console keeps of a vault's content: enough to tell a change, never the text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def vault_summary(vault: dict) -> dict:
    data = vault.get("data")
    text = data if isinstance(data, str) else ""
    summary = {k: vault.get(k) for k in VAULT_FIELDS}
    summary["last_update"] = vault.get("last_update") or vault.get("updated")
    summary["size"] = len(text)
    summary["fingerprint"] = fingerprint(text) if text else ""
    return summary


def admin_token_client(client: ApiClient, admin_user_id: str) -> ApiClient:
    """A client signed in as the tenant's admin: `auth.login` impersonating them (the console
    never holds a tenant admin's secret), then the token as a bearer."""
    data = client.call("auth.login", {}, impersonate_as=admin_user_id, read=True)
    token = str(data.get("token") or "")
    if not token:
        raise ApiError(endpoint="auth.login", result_msg="the server's answer had no token")
    return client_with_token(client, token)


def vaults_of_tenant(client: ApiClient, admin_user_id: str) -> dict:
    """The tenant's vaults as one snapshot row's data (summaries only, never the content)."""
    try:
        admin = admin_token_client(client, admin_user_id)
        data = admin.call("users.get_vaults", {})
    except ApiError as exc:
        if not_supported(exc):
            return {"supported": False, "message": str(exc), "vaults": []}
        raise
    vaults = [vault_summary(v) for v in data.get("vaults") or [] if isinstance(v, dict)]
    return {"supported": True, "vaults": vaults}
