"""API routes (mounted at /api/ by console/urls.py): version 1, and JSON 404s under /api/."""

from django.http import JsonResponse
from django.urls import path, re_path

from .main import api


def not_found(request, rest: str = ""):
    response = JsonResponse(
        {
            "detail": f"There is no API endpoint at {request.path}; see /api/v1/openapi.json.",
            "errors": [],
        },
        status=404,
    )
    response["Cache-Control"] = "no-store"
    return response


urlpatterns = [
    path("v1/", api.urls),
    re_path(r"^(?P<rest>.*)$", not_found),
]
