"""Apiserver failures as the real server reports them: HTTP status, result subcode and message.

Codes and messages follow clearml-server's `apiserver/apierrors/errors.conf`; a message is
built the way its `BaseError` does it: `<default message> (<extra>): key=value, ...`.
"""


class Fault(Exception):
    """A failed call: becomes the envelope's result_code/result_subcode/result_msg."""

    def __init__(self, code: int, subcode: int, message: str, extra: str = "", **data):
        text = message
        if extra:
            text += f" ({extra})"
        if data:
            text += ": " + ", ".join(f"{k}={_format(v)}" for k, v in data.items())
        super().__init__(text)
        self.code = code
        self.subcode = subcode
        self.msg = text
        self.error_data = {k: _jsonable(v) for k, v in data.items()}


def _format(value) -> str:
    if isinstance(value, list | tuple | set):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return str(value)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# 400 bad request
def malformed_body(reason: str) -> Fault:
    return Fault(400, 12, "validation error", f"malformed JSON body: {reason}")


def invalid_headers(extra: str, **data) -> Fault:
    return Fault(400, 5, "invalid headers", extra, **data)


def impersonation_error(extra: str, **data) -> Fault:
    return Fault(400, 6, "impersonation error", extra, **data)


def invalid_id(extra: str = "", **data) -> Fault:
    return Fault(400, 10, "invalid object id", extra, **data)


def missing_fields(missing: list[str]) -> Fault:
    return Fault(400, 11, "missing required fields", missing=missing)


def validation_error(extra: str, **data) -> Fault:
    return Fault(400, 12, "validation error", extra, **data)


def fields_not_allowed_for_role(extra: str, **data) -> Fault:
    return Fault(400, 13, "fields not allowed for role", extra, **data)


def invalid_fields(fields: list[str]) -> Fault:
    return Fault(400, 14, "fields not defined for object", fields=fields)


def fields_value_error(extra: str, **data) -> Fault:
    return Fault(400, 16, "invalid value for fields", extra, **data)


def batch_contains_no_items(field: str) -> Fault:
    return Fault(400, 17, "batch request contains no items", field=field)


def fields_type_error(extra: str, **data) -> Fault:
    return Fault(400, 20, "invalid type for fields", extra, **data)


def invalid_email(email) -> Fault:
    return Fault(400, 22, "malformed email address", email=email)


def invalid_domain(domain) -> Fault:
    return Fault(400, 23, "malformed domain name", domain=domain)


def invalid_user_id(**data) -> Fault:
    return Fault(400, 301, "invalid user id", **data)


def not_unique(extra: str, **data) -> Fault:
    return Fault(400, 801, "value combination already exists", extra, **data)


# 401 unauthorized
def no_credentials() -> Fault:
    return Fault(401, 20, "unauthorized (missing credentials)")


def bad_auth_type() -> Fault:
    return Fault(401, 10, "unauthorized (bad authentication header type)")


def bad_credentials(extra: str = "") -> Fault:
    return Fault(401, 21, "unauthorized (malformed credentials)", extra)


def invalid_credentials(extra: str = "") -> Fault:
    return Fault(401, 22, "unauthorized (invalid credentials)", extra)


def invalid_token(extra: str = "") -> Fault:
    return Fault(401, 30, "invalid token", extra)


# 403, 404
def role_not_allowed(role: str, allowed) -> Fault:
    return Fault(403, 20, "forbidden (not allowed for role)", role=role, allowed=sorted(allowed))


def unknown_endpoint(name: str, version: str) -> Fault:
    return Fault(404, 0, f"Unable to find endpoint for name {name} and version {version}")


def malformed_path(path: str) -> Fault:
    return Fault(400, 0, f"Invalid request path {path}")
