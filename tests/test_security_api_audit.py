"""The Security page shows the settings that turn on ClearML's own API audit, in every snippet
format, as the snippet exporter writes them (read back by each format's own reader)."""

import pytest

from console.security.api_audit import api_audit_snippets
from tests.snippet_readers import read_compose, read_env_file, read_helm, read_shell

pytestmark = pytest.mark.django_db

EXPECTED = {
    "CLEARML__apiserver__log_calls": "true",
    "CLEARML__apiserver__apilog__adapter": "raw_log",
}


def test_each_format_sets_the_documented_variables():
    snippets = {s["id"]: s["text"] for s in api_audit_snippets()}
    assert read_helm(snippets["api-audit-helm"])[0] == EXPECTED
    assert read_compose(snippets["api-audit-compose"]) == EXPECTED
    assert read_env_file(snippets["api-audit-env"]) == EXPECTED
    assert read_shell(snippets["api-audit-shell"], list(EXPECTED)) == EXPECTED


def test_identity_redaction_is_one_more_variable():
    env = next(s for s in api_audit_snippets(redact_identity=True) if s["id"] == "api-audit-env")
    assert "CLEARML__apiserver__apilog__redact_identity=true" in env["text"]


def test_the_security_page_shows_them(admin_client):
    page = admin_client.get("/security/").content.decode()
    assert 'id="security-api-audit"' in page
    assert "CLEARML__apiserver__apilog__adapter=raw_log" in page
    assert "export CLEARML__apiserver__log_calls=&#x27;true&#x27;" in page
