"""The API object: django-ninja, its OpenAPI document at /api/v1/openapi.json, the routers."""

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from .auth import TokenAuth
from .changes import router as changes_router
from .errors import install_error_handlers
from .reads import router as reads_router
from .snippets import router as snippets_router

DESCRIPTION = """The ClearML Tenant Console's JSON API (docs/api.md).

Send `Authorization: Bearer <token>` (`manage.py api_token create`, or /account/tokens/).
Errors are `{"detail", "errors": [{"field", "message"}]}`. Every answer is `no-store`."""


class ConsoleAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation) -> str:
        return operation.view_func.__name__  # "tenants_list", not the module path

    def create_response(self, request: HttpRequest, data, **kwargs) -> HttpResponse:
        response = super().create_response(request, data, **kwargs)
        # Answers hold the console's data (and, from apply and snippets, secrets): no cache.
        response["Cache-Control"] = "no-store"
        return response


api = ConsoleAPI(
    title="ClearML Tenant Console API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=TokenAuth(),
    docs_url=None,  # the docs page loads scripts from a CDN; docs/api.md is the guide
)
install_error_handlers(api)
api.add_router("/", reads_router)
api.add_router("/", changes_router)
api.add_router("/", snippets_router)
