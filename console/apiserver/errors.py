"""Typed apiserver failures; each carries what an admin needs to understand it, never a secret."""

from dataclasses import dataclass


@dataclass
class ApiError(Exception):
    endpoint: str
    status: int | None = None
    result_code: int | None = None
    result_subcode: int | None = None
    result_msg: str = ""
    trx: str = ""

    kind = "apiserver error"
    # True when the request may have reached the server and changed something before failing.
    outcome_unknown = False

    def __str__(self) -> str:
        parts = [f"{self.endpoint}: {self.kind}"]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.result_code is not None:
            parts.append(f"result {self.result_code}/{self.result_subcode or 0}")
        text = ", ".join(parts)
        if self.result_msg:
            text += f": {self.result_msg}"
        if self.trx:
            text += f" (trx {self.trx})"
        return text

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "endpoint": self.endpoint,
            "status": self.status,
            "result_code": self.result_code,
            "result_subcode": self.result_subcode,
            "result_msg": self.result_msg,
            "trx": self.trx,
        }


class ApiNotConfigured(ApiError):
    kind = "not configured"


class ApiUnauthorized(ApiError):
    kind = "unauthorized"


class ApiForbidden(ApiError):
    kind = "forbidden"


class ApiBadRequest(ApiError):
    kind = "bad request"


class ApiNotFound(ApiError):
    kind = "not found"


class ApiServerError(ApiError):
    kind = "server error"
    outcome_unknown = True


class ApiTimeout(ApiError):
    kind = "timeout"
    outcome_unknown = True


class ApiCannotConnect(ApiError):
    kind = "cannot connect"


class ApiBadResponse(ApiError):
    """The server answered something that is not the JSON envelope."""

    kind = "malformed response"
    outcome_unknown = True


def error_class_for_status(status: int) -> type[ApiError]:
    if status == 401:
        return ApiUnauthorized
    if status == 403:
        return ApiForbidden
    if status == 404:
        return ApiNotFound
    if 400 <= status < 500:
        return ApiBadRequest
    return ApiServerError
