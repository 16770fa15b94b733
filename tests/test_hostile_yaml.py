"""Hostile YAML gets a clear error and changes nothing (issue 14, findings 12, 13 and 15)."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from changes.models import Changeset
from console.security.audit_files import AuditInputError
from console.security.file_audit import audit_inputs
from console.snippets.merge import MergeError, detect_kind, merge_file
from console.spec import parse_spec_text
from console.validation import InvalidInput
from console.yaml_budget import MAX_ALIASES, MAX_DEPTH, YamlBudgetExceeded, check_yaml_budget

pytestmark = pytest.mark.django_db


def deep(levels: int) -> str:
    return "version: 1\ntenants: " + "[" * levels + "]" * levels + "\n"


def laughs(levels: int = 40) -> str:
    """Each anchor names a list of two of the previous: 2**levels values once expanded."""
    lines = ["version: 1", "tenants:", '  - name: &a0 "lol"']
    lines += [f"    x{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def many_aliases(count: int) -> str:
    return "version: 1\na: &x 1\nb: [" + ", ".join(["*x"] * count) + "]\n"


UNHASHABLE = ["version: 1\n? [a, b]\n: 1\n", "version: 1\n? {a: 1}\n: 2\n", "{[1]: 2}\n"]


@pytest.mark.parametrize(
    "text,expected",
    [
        (deep(3_000), f"nested more than {MAX_DEPTH} levels deep"),
        (laughs(), "once its aliases are expanded"),
        (many_aliases(MAX_ALIASES + 1), f"more than {MAX_ALIASES} aliases"),
    ],
    ids=["deep", "billion-laughs", "aliases"],
)
def test_the_budget_refuses_a_hostile_document_naming_the_limit(text, expected):
    with pytest.raises(YamlBudgetExceeded) as info:
        check_yaml_budget(text, "spec.yaml")
    assert str(info.value).startswith("spec.yaml: ") and expected in str(info.value)


@pytest.mark.parametrize(
    "text",
    ["values:\n" + "- 1\n" * 300_000, "a:\n  b: [\n" + "    1,\n" * 300_000 + "  ]\n"],
    ids=["block list", "flow list"],
)
def test_a_long_list_inside_a_mapping_is_refused_where_it_passes_the_limit(text):
    """Each value counts as it is read: the values of an open list were counted only when the
    list closed, so a list of 300,000 values in a mapping was read to its end (the merge's CI
    test took two seconds of CPU for one request)."""
    with pytest.raises(YamlBudgetExceeded) as info:
        check_yaml_budget(text, "values.yaml", max_nodes=20_000)
    line = int(str(info.value).split("(line ")[1].split(")")[0])
    assert line < 20_010, str(info.value)


def test_ordinary_documents_pass_the_budget():
    check_yaml_budget(deep(MAX_DEPTH - 1))
    check_yaml_budget(many_aliases(MAX_ALIASES))
    check_yaml_budget("a: &t {x: 1}\nb: *t\nc: *t\n")


@pytest.mark.parametrize("text", [deep(3_000), laughs(), *UNHASHABLE])
def test_a_spec_with_hostile_yaml_is_refused_with_exit_2_and_nothing_recorded(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    for command in ("plan", "apply"):
        with pytest.raises(CommandError) as info:
            call_command(command, str(path), "--yes") if command == "apply" else call_command(
                command, str(path)
            )
        assert info.value.returncode == 2
        assert str(path) in str(info.value)
    assert not Changeset.objects.exists()


@pytest.mark.parametrize("text", UNHASHABLE)
def test_an_unhashable_key_is_a_clear_error_not_a_traceback(text):
    with pytest.raises(InvalidInput) as info:
        parse_spec_text(text, "spec.yaml")
    assert "a key must be a plain value" in str(info.value.errors[0].message)


@pytest.mark.parametrize("text", [deep(3_000), laughs()])
def test_the_security_audit_refuses_hostile_yaml_naming_the_file(text):
    with pytest.raises(AuditInputError) as info:
        audit_inputs([("values.yaml", text.encode())])
    assert "values.yaml" in str(info.value)


def nested_keys(levels: int) -> str:
    """`{{{a: 1}: 1}: 1}`: ruamel.yaml hashed such keys in time exponential in the depth."""
    text = "a: 1"
    for _ in range(levels):
        text = "{" + text + "}: 1"
    return "{" + text + "}\n"


@pytest.mark.parametrize("text", [nested_keys(40), "a: &k [1]\nb: {*k : 1}\n", *UNHASHABLE])
def test_the_budget_refuses_a_mapping_or_list_used_as_a_key_before_any_loader_builds_it(text):
    with pytest.raises(YamlBudgetExceeded) as info:
        check_yaml_budget(text, "values.yaml")
    assert "a mapping or list is used as a key" in str(info.value)


def test_a_values_file_with_nested_mapping_keys_is_refused_by_the_merge_and_the_audit():
    text = nested_keys(40)
    assert detect_kind(text) == "helm"  # refused quickly, the merge then names the problem
    with pytest.raises(MergeError) as info:
        merge_file(text, [])
    assert "used as a key" in str(info.value)
    with pytest.raises(AuditInputError) as info:
        audit_inputs([("values.yaml", text.encode())])
    assert "values.yaml" in str(info.value)


@pytest.mark.django_db
def test_a_key_with_line_separators_stays_on_its_one_message_line(tmp_path):
    """U+2028, U+2029 and NEL in a key: str.splitlines() and terminals break lines at them, so
    the message escapes them like control characters (the SPEC fuzzer found a line cut in two)."""
    path = tmp_path / "spec.yaml"
    path.write_text(
        "version: 1\nidentity_providers:\n  - provider: keycloak\n"
        '    "a\\x85b\\u2028c\\u2029d": 1\n'
    )
    with pytest.raises(CommandError) as info:
        call_command("plan", str(path))
    assert info.value.returncode == 2
    lines = str(info.value).splitlines()
    assert any("a\\x85b\\u2028c\\u2029d" in line for line in lines), lines
    for line in lines:
        assert line.startswith(f"{path}: ")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value", ["!!float .nanname", "!!timestamp not-a-date", "!!int 0b2", "!!float 1e99999x"]
)
def test_a_value_that_is_not_of_its_type_tag_is_a_clear_error(tmp_path, value):
    """PyYAML's tagged-scalar constructors fail with ValueError or AttributeError, not a
    YAMLError (the SPEC fuzzer found the traceback)."""
    path = tmp_path / "spec.yaml"
    path.write_text(f"version: 1\ntenants:\n  - name: {value}\n")
    with pytest.raises(CommandError) as info:
        call_command("plan", str(path))
    assert info.value.returncode == 2
    assert "not valid YAML: a value written with a type tag" in str(info.value)
