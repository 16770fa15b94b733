"""The API's errors: one JSON shape for every refusal, naming the field when there is one.

    {"detail": "tenants[0].admins[0].email: is not an email address",
     "errors": [{"field": "tenants[0].admins[0].email", "message": "is not an email address"}]}

Bad input is 400 (a query parameter, a body field or a SPEC: every problem at once, each with its
field path); 401 no or a bad token; 403 the token's role may not; 404 no such object; 409 the
object's state refuses it (a changed plan, an applied changeset); 413 too large; 415 a body type
the endpoint does not read; 429 too many failed token attempts (with Retry-After); 502 the
apiserver could not be read.
"""

import logging

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from console.validation import FieldError, InvalidInput

logger = logging.getLogger("console.api")


class FieldProblem(Schema):
    field: str
    message: str


class Error(Schema):
    detail: str
    errors: list[FieldProblem] = []


class ApiError(Exception):
    """A refusal with a status, a message and, for bad input, the fields."""

    status = 400

    def __init__(self, detail: str, errors: list[FieldError] = (), *, status: int | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        if status is not None:
            self.status = status


class BadInput(ApiError):
    status = 400

    @classmethod
    def of(cls, exc: InvalidInput) -> "BadInput":
        return cls("; ".join(str(e) for e in exc.errors), exc.errors)

    @classmethod
    def of_form(cls, form) -> "BadInput":
        """A Django form's errors, each with its field's name."""
        problems = [
            FieldError(name if name != "__all__" else "", str(message))
            for name, messages in form.errors.items()
            for message in messages
        ]
        return cls("; ".join(str(p) for p in problems), problems)

    @classmethod
    def field(cls, field: str, message: str) -> "BadInput":
        return cls(f"{field}: {message}", [FieldError(field, message)])


class NotAuthenticated(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class TooManyFailures(ApiError):
    status = 429

    def __init__(self, wait: int):
        super().__init__(
            f"Too many failed token attempts from this address; try again in {wait} s."
        )
        self.wait = wait


class UpstreamFailed(ApiError):
    status = 502


# Every operation may answer these (the OpenAPI document lists them).
COMMON = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}


def error_response(api: NinjaAPI, request: HttpRequest, exc: ApiError) -> HttpResponse:
    body = {
        "detail": exc.detail,
        "errors": [{"field": e.path, "message": e.message} for e in exc.errors],
    }
    response = api.create_response(request, body, status=exc.status)
    if isinstance(exc, NotAuthenticated):
        response["WWW-Authenticate"] = 'Bearer realm="console"'
    if isinstance(exc, TooManyFailures):
        response["Retry-After"] = str(exc.wait)
    response["Cache-Control"] = "no-store"
    return response


def _location(loc) -> str:
    """A pydantic error location as a field path: ("query", "since") -> "since",
    ("body", "payload", "hash") -> "hash", ("body", "x", "items", 0) -> "items[0]"."""
    parts = list(loc)
    if parts and parts[0] in ("query", "path", "body", "header", "cookie", "form", "file"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "payload":
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def install_error_handlers(api: NinjaAPI) -> None:
    """JSON answers for every error, including ninja's own and anything unexpected."""

    @api.exception_handler(ApiError)
    def _api_error(request, exc: ApiError):
        return error_response(api, request, exc)

    @api.exception_handler(ValidationError)
    def _validation(request, exc: ValidationError):
        problems = [
            FieldError(_location(e.get("loc", ())) or "body", str(e.get("msg", "is not valid")))
            for e in exc.errors
        ]
        return error_response(api, request, BadInput("; ".join(map(str, problems)), problems))

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request, exc):
        return error_response(
            api, request, NotAuthenticated("Send an API token: `Authorization: Bearer <token>`.")
        )

    @api.exception_handler(Http404)
    def _not_found(request, exc):
        return error_response(api, request, NotFound(str(exc) or "Not found."))

    @api.exception_handler(HttpError)
    def _http_error(request, exc: HttpError):
        return error_response(api, request, ApiError(str(exc), status=exc.status_code))

    @api.exception_handler(Exception)
    def _unexpected(request, exc):
        logger.exception("API request failed: %s %s", request.method, request.path)
        request_id = getattr(request, "request_id", "")
        return error_response(
            api,
            request,
            ApiError(
                f"The console hit an unexpected error (request id {request_id}); it is logged.",
                status=500,
            ),
        )
