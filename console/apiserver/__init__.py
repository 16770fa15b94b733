"""The one way the console talks to the ClearML apiserver."""

from .client import ApiClient, CallRecord, client_from_settings
from .errors import (
    ApiBadRequest,
    ApiCannotConnect,
    ApiError,
    ApiForbidden,
    ApiNotConfigured,
    ApiNotFound,
    ApiServerError,
    ApiTimeout,
    ApiUnauthorized,
)

__all__ = [
    "ApiBadRequest",
    "ApiCannotConnect",
    "ApiClient",
    "ApiError",
    "ApiForbidden",
    "ApiNotConfigured",
    "ApiNotFound",
    "ApiServerError",
    "ApiTimeout",
    "ApiUnauthorized",
    "CallRecord",
    "client_from_settings",
]
