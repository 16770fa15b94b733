"""The steps that create and update a tenant on the apiserver (multi_tenant_k8s.md).

A step's body may name ids that only exist once an earlier step has run: `{{company_id}}` and
`{{user_id:<email>}}`. `fill()` replaces them when the step runs; `shown()` writes them the way
the ClearML docs do (`<COMPANY_ID>`), for plan pages and `manage.py plan`.
"""

import re
from dataclasses import dataclass, field

from console.apiserver.plan import PlannedCall

COMPANY_ID = "{{company_id}}"
PLACEHOLDER = re.compile(r"\{\{(company_id|user_id:([^}]+))\}\}")


def user_id_of(email: str) -> str:
    return "{{user_id:" + email + "}}"


class MissingId(Exception):
    """A placeholder names an id that no earlier step has produced."""


@dataclass
class StepSpec:
    """A step before it is recorded: what to send, and how to settle it if the answer is lost."""

    kind: str
    endpoint: str
    body: dict = field(default_factory=dict)
    act_as: str = ""
    impersonate_as: str = ""
    description: str = ""
    admin_email: str = ""
    # {dotted body path: secret}: sent, never stored (the body holds a marker instead).
    secret_values: dict[str, str] = field(default_factory=dict, repr=False)

    def planned_call(self) -> PlannedCall:
        return PlannedCall(
            endpoint=self.endpoint,
            body=self.body,
            act_as=self.act_as,
            impersonate_as=self.impersonate_as,
            description=self.description,
        )


def company_defaults(*, allowed_users, features, exclude_features) -> dict:
    """The `defaults` of system.create_company; only what the admin set (empty = server's)."""
    defaults: dict = {}
    if allowed_users:
        defaults["allowed_users"] = allowed_users
    if features:
        defaults["features"] = list(features)
    if exclude_features:
        defaults["exclude_features"] = list(exclude_features)
    return defaults


def company_create_step(*, name: str, allowed_users, features, exclude_features) -> StepSpec:
    body: dict = {"name": name}
    defaults = company_defaults(
        allowed_users=allowed_users, features=features, exclude_features=exclude_features
    )
    if defaults:
        body["defaults"] = defaults
    return StepSpec(
        kind="company.create",
        endpoint="system.create_company",
        body=body,
        description=f"Create the company “{name}”",
    )


def user_create_step(*, name: str, email: str, internal: bool) -> StepSpec:
    return StepSpec(
        kind="user.create",
        endpoint="auth.create_user",
        body={
            "name": name,
            "company": COMPANY_ID,
            "email": email,
            "role": "admin",
            "internal": internal,
        },
        description=f"Create the admin user {email}",
        admin_email=email,
    )


def credentials_step(*, email: str) -> StepSpec:
    return StepSpec(
        kind="credentials.create",
        endpoint="auth.create_credentials",
        body={},
        impersonate_as=user_id_of(email),
        description=f"Create credentials for {email} (impersonating the new admin)",
        admin_email=email,
    )


def features_update_step(*, company_id: str, features, exclude_features) -> StepSpec:
    body = {"company": company_id or COMPANY_ID, "features": list(features)}
    if exclude_features:
        body["exclude_features"] = list(exclude_features)
    return StepSpec(
        kind="call",
        endpoint="system.update_company_settings",
        body=body,
        description="Set the tenant's features",
    )


def call_step(call: PlannedCall, *, first_admin_email: str = "") -> StepSpec:
    """A step from another app's PlannedCall (login.*, SSO); act as the first admin if unset."""
    act_as = call.act_as
    if not act_as and not call.impersonate_as and call.endpoint.startswith("login."):
        act_as = user_id_of(first_admin_email) if first_admin_email else ""
    return StepSpec(
        kind="call",
        endpoint=call.endpoint,
        body=call.body,
        act_as=act_as,
        impersonate_as=call.impersonate_as,
        description=call.description,
        secret_values=dict(getattr(call, "secret_values", None) or {}),
    )


def _walk(value, replace):
    if isinstance(value, str):
        return replace(value)
    if isinstance(value, list):
        return [_walk(v, replace) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, replace) for k, v in value.items()}
    return value


def fill(value, *, company_id: str, user_ids: dict[str, str]):
    """Replace placeholders with the ids earlier steps produced; raise MissingId if one is not."""

    def one(match: re.Match) -> str:
        if match.group(1) == "company_id":
            if not company_id:
                raise MissingId("the company id (the company has not been created)")
            return company_id
        email = match.group(2)
        user_id = user_ids.get(email, "")
        if not user_id:
            raise MissingId(f"the user id of {email} (the user has not been created)")
        return user_id

    return _walk(value, lambda text: PLACEHOLDER.sub(one, text))


def shown(value, *, company_id: str = "", user_ids: dict[str, str] | None = None):
    """The value with known ids filled in and unknown ones written as the docs do."""
    user_ids = user_ids or {}

    def one(match: re.Match) -> str:
        if match.group(1) == "company_id":
            return company_id or "<COMPANY_ID>"
        email = match.group(2)
        return user_ids.get(email) or f"<USER_ID of {email}>"

    return _walk(value, lambda text: PLACEHOLDER.sub(one, text))


def shown_call(step, *, company_id: str = "", user_ids: dict[str, str] | None = None):
    """A PlannedCall for display (plan pages, `manage.py plan`) from a StepSpec or a step row."""
    return PlannedCall(
        endpoint=step.endpoint,
        body=shown(step.body, company_id=company_id, user_ids=user_ids),
        act_as=shown(step.act_as, company_id=company_id, user_ids=user_ids),
        impersonate_as=shown(step.impersonate_as, company_id=company_id, user_ids=user_ids),
        description=step.description,
    )
