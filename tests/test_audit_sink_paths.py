"""A file path the system cannot look up (longer than a name may be) is refused with a message
naming the field, not an OSError (the form fuzzer found the 500)."""

import pytest

from console.audit.sinks.services import check_sink_input
from console.validation import InvalidInput

pytestmark = pytest.mark.django_db
LONG = "/" + "[" * 300 + "]" * 300 + "/audit.jsonl"  # a directory name over the limit


def fields(error: InvalidInput) -> set[str]:
    return {e.path for e in error.errors}


def test_a_jsonl_path_too_long_to_look_up_is_refused_naming_the_url():
    with pytest.raises(InvalidInput) as info:
        check_sink_input(name="s1", kind="jsonl", url=LONG, secret="", ca_file="", from_seq=None)
    assert fields(info.value) == {"url"}


def test_a_ca_file_too_long_to_look_up_is_refused_naming_it():
    with pytest.raises(InvalidInput) as info:
        check_sink_input(
            name="s1",
            kind="webhook",
            url="https://siem.example/hook",
            secret="env:SIEM_SECRET",
            ca_file="{a:" * 200,
            from_seq=None,
        )
    assert "ca_file" in fields(info.value)


def test_a_start_sequence_of_thousands_of_digits_is_refused_naming_it(admin_client):
    from django.urls import reverse

    answer = admin_client.post(
        reverse("audit_sinks:list"),
        {"name": "s2", "kind": "jsonl", "url": "/tmp/s2.jsonl", "from": "9" * 5000},
    )
    assert answer.status_code in (200, 400)
