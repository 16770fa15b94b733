"""The sandbox's `system.update_company_app_instance_access` (ClearML docs page "Application
Instance Visibility Policy", Multi-Tenant Configuration).

Body: `company` and `app_instance_access` {`allowed`?, `applications`? {<app_id>: {`allowed`}}}.
The page lists the values `all`, `owner` and `group`, but its per-tenant example sends `groups`:
the sandbox accepts both spellings and keeps what was sent. A call replaces the company's whole
policy (the console always sends all of it, so a merging server ends in the same state).
"""

import re

from . import errors
from . import fields as f
from .endpoints import SYSTEM_ROLES, Call, company_or_fail, endpoint

ACCESS_VALUES = ("all", "owner", "group", "groups")
APP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


def _allowed(value, path: str) -> str:
    if value not in ACCESS_VALUES:
        raise errors.fields_value_error(path, allowed=list(ACCESS_VALUES), value=value)
    return value


@endpoint("system.update_company_app_instance_access", SYSTEM_ROLES, changes=True)
def update_company_app_instance_access(call: Call, body: dict) -> dict:
    f.check_keys(
        body,
        allowed={"company", "app_instance_access"},
        required={"company", "app_instance_access"},
    )
    company = company_or_fail(call, body["company"])
    access = body["app_instance_access"]
    if not isinstance(access, dict):
        raise errors.fields_type_error("app_instance_access must be an object")
    f.check_keys(access, allowed={"allowed", "applications"})
    policy: dict = {}
    if access.get("allowed") is not None:
        policy["allowed"] = _allowed(access["allowed"], "app_instance_access.allowed")
    apps = access.get("applications") or {}
    if not isinstance(apps, dict):
        raise errors.fields_type_error("app_instance_access.applications must be an object")
    policy["applications"] = {}
    for app_id, value in apps.items():
        path = f"app_instance_access.applications.{app_id}"
        if not APP_ID.fullmatch(str(app_id)) or not isinstance(value, dict):
            raise errors.fields_value_error(path, value=value)
        f.check_keys(value, allowed={"allowed"}, required={"allowed"})
        policy["applications"][app_id] = {"allowed": _allowed(value["allowed"], path + ".allowed")}
    company["app_instance_access"] = policy
    return {"updated": 1}
