"""Schemathesis fuzzes the API from its own OpenAPI document (/api/v1/openapi.json), in process
through WSGI with an admin token: no answer is a server error, and every answer (status, content
type, headers, body) matches the document.

`make test` keeps it small (API_FUZZ_EXAMPLES, default 15 per operation); raise it for a longer
run, e.g. `API_FUZZ_EXAMPLES=500 .venv/bin/python -m pytest tests/test_api_schema.py`.
"""

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

from changes.tokens import token_create

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "15"))


# Loading the document needs no database: the OpenAPI view reads only the code.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def admin_token(db, sandbox_settings):
    # The fuzzer also sends wrong tokens on purpose; the throttle is tests/test_api.py's.
    sandbox_settings.API_TOKEN_MAX_FAILURES = 10**9
    return token_create(name="fuzz", role="admin", expires_days=None, actor="test").value


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_answers_as_its_openapi_document_says(case, admin_token):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {admin_token}"},
        # Not checked: that every schema-valid request is accepted (a SPEC, an audit range
        # whose start is after its end, are refused with 400 by rules a schema cannot say),
        # and that every invalid one is refused (unknown query parameters are ignored, as
        # most HTTP APIs do). tests/test_api.py checks the refusals that matter.
        excluded_checks=[
            schemathesis.checks.positive_data_acceptance,
            schemathesis.checks.negative_data_rejection,
        ],
    )
