"""The port of the kubelet's `$(VAR)` expansion (tests/k8s_expansion.py), and the console's
Kubernetes escaping checked against it."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.snippets.escaping import kubernetes_env_value, kubernetes_secret_value
from tests.k8s_expansion import SERVICE_ENV, UnresolvedReference, container_environment, expand

CONTEXT = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}

# (input, expected) in the spirit of expand_test.go upstream.
CASES = [
    ("", ""),
    ("plain", "plain"),
    ("$(VAR_A)", "A"),
    ("___$(VAR_B)___", "___B___"),
    ("$(VAR_A)-$(VAR_A)", "A-A"),
    ("$(VAR_A)$(VAR_B)$(VAR_C)", "ABC"),
    ("$(VAR_EMPTY)", ""),
    ("$(VAR_DNE)", "$(VAR_DNE)"),  # undefined: left as is
    ("x$(VAR_DNE)y$(VAR_A)", "x$(VAR_DNE)yA"),
    ("$(VAR_REF)", "$(VAR_A)"),  # no second round of expansion
    ("$$", "$"),
    ("$$$", "$$"),
    ("$$$$", "$$"),
    ("$$(VAR_A)", "$(VAR_A)"),  # escaped reference
    ("$$$(VAR_A)", "$A"),
    ("$$$$(VAR_A)", "$$(VAR_A)"),
    ("$", "$"),  # a lone operator at the end stays
    ("foo$", "foo$"),
    ("$VAR_A", "$VAR_A"),  # `$` not followed by `(` or `$` stays, with the next byte
    ("${VAR_A}", "${VAR_A}"),
    ("$ x", "$ x"),
    ("$(", "$("),  # unterminated
    ("$(VAR_A", "$(VAR_A"),
    ("$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"),  # the name runs to the first `)`
    ("$((VAR_A))", "$((VAR_A))"),
    ("$(VAR_A)()", "A()"),
    ("$()", "$()"),
    ("$(a b)", "$(a b)"),
    ("é$(VAR_A)é", "éAé"),
    ('"$(VAR_A)"', '"A"'),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[repr(c[0]) for c in CASES])
def test_expand(text, expected):
    assert expand(text, CONTEXT) == expected


def test_first_context_wins():
    assert expand("$(X)", {"X": "first"}, {"X": "second"}) == "first"
    assert expand("$(Y)", {"X": "first"}, {"Y": "second"}) == "second"


def test_a_dollar_before_non_ascii_is_mangled_like_gos_string_of_a_byte():
    # "é" is C3 A9; Go copies the byte C3 as the rune U+00C3 ("Ã"), then the stray A9.
    assert expand("$é", {}) == "$Ã" + "\udca9"
    assert expand("$$é", {}) == "$é"


def test_the_environment_of_a_container_uses_earlier_entries_and_service_variables():
    env = [
        {"name": "FIRST", "value": "one"},
        {"name": "USES_FIRST", "value": "$(FIRST)-$(LATER)"},
        {"name": "LATER", "value": "two"},
        {"name": "HOST", "value": "$(KUBERNETES_SERVICE_HOST)"},
        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        {"name": "USES_SECRET", "value": "$(FROM_SECRET)"},
        {"name": "EMPTY", "value": ""},
    ]
    secret = {"k": "raw $(FIRST) $$"}
    seen = container_environment(
        env, resolve_value_from=lambda ref: secret[ref["secretKeyRef"]["key"]]
    )
    assert seen["USES_FIRST"] == "one-$(LATER)"
    assert seen["HOST"] == SERVICE_ENV["KUBERNETES_SERVICE_HOST"]
    assert seen["FROM_SECRET"] == "raw $(FIRST) $$"  # valueFrom is never expanded
    assert seen["USES_SECRET"] == "raw $(FIRST) $$"
    assert seen["EMPTY"] == ""
    with pytest.raises(UnresolvedReference):
        container_environment([{"name": "X", "valueFrom": {"fieldRef": {}}}])


def test_a_later_entry_of_the_same_name_replaces_the_earlier_one():
    env = [{"name": "A", "value": "1"}, {"name": "B", "value": "$(A)"}, {"name": "A", "value": "2"}]
    assert container_environment(env, service_env={}) == {"A": "2", "B": "1"}


TEXT = st.text(alphabet=st.sampled_from("$()$$(AB)_ é\n\t'\"\\#{}"), max_size=40) | st.text()


@given(TEXT, st.dictionaries(st.sampled_from(["A", "B", "AB", "", "$"]), st.text(), max_size=3))
def test_the_console_escaping_survives_expansion_with_any_variables_defined(text, context):
    assert expand(kubernetes_env_value(text), context, SERVICE_ENV) == text


@given(TEXT)
def test_secret_values_are_not_escaped(text):
    assert kubernetes_secret_value(text) == text
