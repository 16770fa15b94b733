"""Fuzzing every SPEC field: hostile values and shapes at each key path never give a traceback.

The SPEC is docs/spec.md's complete example (every key the SPEC accepts), applied once to the
console and the sandbox apiserver (so `plan` compares against a real state). Hypothesis mutates
it, section by section: a value at any key path (list items included) replaced by a hostile
value or shape (None, booleans, huge and negative numbers, NaN, dates, bytes, 1 MB strings, NUL
and control characters, RTL marks, `${x}`, `$(VAR)`, `env:`/`tenant:` forms, lists where a value
is expected, mappings with keys that are not text), a key deleted, renamed or added, a list item
duplicated, a value wrapped in a list or mapping, or 100,000 nested brackets. The `file` target
mutates the YAML text itself (tabs, NUL, anchors and aliases, tags, merge keys, several
documents, duplicate keys, a cut, bytes that are not UTF-8).

Each SPEC goes through the SPEC validator (console.spec.load_spec, changes.spec.validate) and
`manage.py plan` (call_command). Either the plan is made (exactly one changeset recorded, nothing
else changed), or the command exits with code 2 (CommandError, returncode 2) and every line of
its message names the file and, for a field, a path rooted in the SPEC; the validator raises
InvalidInput, never another exception, and never accepts what plan refuses for a field; nothing
is recorded; the sandbox's data never changes (plan only reads). Each run stays within a CPU
budget.

`test_every_key_path_refuses_every_wrong_shape` also goes through every key path once with a
fixed set of wrong shapes, so each field is covered on every run whatever Hypothesis draws.
Examples per target: tests/hypothesis_profiles.py.
"""

import copy
import datetime
import io
import math
import time
import unicodedata

import pytest
import yaml
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from changes.models import Changeset
from console.spec import SpecFileError, load_spec, spec_error_lines
from console.validation import InvalidInput
from tests.fuzzing import (
    CPU_BUDGET_SECONDS,
    MB,
    SPECIALS,
    Tally,
    apply_spec,
    big_text,
    changed_tables,
    complete_example,
    fingerprint,
    last_seq,
    new_audit_actions,
    point_at_sandbox,
    restore_sandbox,
    sandbox_data,
    world_transaction,
)
from tests.hypothesis_profiles import NIGHTLY_EXAMPLES, fuzz_profile

pytestmark = pytest.mark.django_db

PROFILE = fuzz_profile()
BASE_TEXT = complete_example()
BASE = yaml.safe_load(BASE_TEXT)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
DEEP = "__fuzz_deep__"  # replaced in the YAML text by 100,000 nested brackets
# What a successful plan records: its changeset and steps (plan makes read calls only).
PLAN_WRITES = {"changes_changeset", "changes_changestep"}


def key_paths(node, path: tuple = ()):
    """Every key path of a document, list items included, parents first."""
    if path:
        yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from key_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from key_paths(value, (*path, index))


PATHS = list(key_paths(BASE))
SECTIONS = list(BASE)  # version, tenants, groups, builtin_groups, organization, ...


def field_path(path: tuple) -> str:
    """As the SPEC's errors write it: tenants[0].admins[1].email."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --- hostile values and shapes ------------------------------------------------------------------

KEYS = st.one_of(
    st.sampled_from(SPECIALS),
    st.text(max_size=10),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.sampled_from(["NAME", "groups__enabled", "Email", "name ", "__proto__", "<<"]),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 10**30, 0, -1, 1_000_001]),
    st.floats(),
    st.sampled_from(SPECIALS),
    st.sampled_from(SPECIALS),
    st.text(max_size=30),
    st.dates(),
    st.datetimes(),
    st.binary(max_size=12),
)


def shapes():
    """Scalars, lists and mappings of them, a few levels deep (mapping keys of any type)."""
    return st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
        max_leaves=6,
    )


def hostile_values():
    return st.one_of(shapes(), shapes(), big_text(), st.just(DEEP))


# --- mutating a document ------------------------------------------------------------------------


def _parent(doc, path: tuple):
    node = doc
    for part in path[:-1]:
        node = node[part]
    return node


def _exists(doc, path: tuple) -> bool:
    node = doc
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return False
    return True


def mutate(doc, path: tuple, op: str, value, key) -> str:
    """Apply one mutation in place; returns what it did, for the failure message."""
    parent, last = _parent(doc, path), path[-1]
    where = field_path(path)
    if op == "replace":
        parent[last] = value
        return f"{where} = {_short(value)}"
    if op == "delete":
        del parent[last]
        return f"{where} deleted"
    if op == "add_key":
        target = parent[last] if isinstance(parent[last], dict) else parent
        if isinstance(target, dict):
            target[key] = value
            return f"{where}: key {key!r} added = {_short(value)}"
        parent[last] = {key: value}
        return f"{where} = {{{key!r}: {_short(value)}}}"
    if op == "rename" and isinstance(parent, dict):
        parent[key] = parent.pop(last)
        return f"{where} renamed to {key!r}"
    if op == "duplicate" and isinstance(parent, list):
        parent.insert(last, copy.deepcopy(parent[last]))
        return f"{where} listed twice"
    if op == "wrap":
        parent[last] = [parent[last]] if isinstance(value, list) else {"x": parent[last]}
        return f"{where} wrapped"
    parent[last] = DEEP
    return f"{where} = 100,000 nested brackets"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:60] + f"…<{len(text)} chars>"


OPS = ["replace", "replace", "replace", "delete", "add_key", "rename", "duplicate", "wrap", "deep"]


@st.composite
def mutated_specs(draw, section: str):
    """The complete example with 1 to 3 mutations in `section` (top: the top level itself)."""
    doc = copy.deepcopy(BASE)
    done = []
    paths = [p for p in PATHS if p[0] == section] if section != "top" else [(s,) for s in BASE]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        if not _exists(doc, path):
            continue
        op = draw(st.sampled_from(OPS))
        done.append(mutate(doc, path, op, draw(hostile_values()), draw(KEYS)))
    if section == "top" and draw(st.booleans()):
        key, value = draw(KEYS), draw(hostile_values())
        doc[key] = value
        done.append(f"top-level key {key!r} = {_short(value)}")
    return dump(doc), done


def dump(doc) -> bytes:
    text = yaml.dump(doc, Dumper=DUMPER, allow_unicode=True, sort_keys=False, width=1 << 20)
    deep = "[" * 100_000 + "]" * 100_000
    return text.replace(f"'{DEEP}'", deep).replace(DEEP, deep).encode("utf-8")


# --- mutating the YAML text ---------------------------------------------------------------------

INSERTS = [
    "\t",
    "\x00",
    "\ufeff",
    "\r",
    "\x85",
    "&a ",
    "*a",
    "*nosuchanchor",
    "!!python/object/apply:os.system ['id']",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!timestamp 2024-01-01",
    "!!float .nan",
    "!custom x",
    "? [a, b]\n: c\n",
    "? {a: 1}\n: c\n",
    "<<: *a\n",
    "<<: {name: x}\n",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "%FOO bar\n",
    "{",
    "[",
    '"',
    "'",
    "|\n",
    ">-\n",
    "# ",
    ": ",
    "- ",
    "version: 1\n",
    "tenants: []\n",
]


@st.composite
def mutated_texts(draw):
    lines = BASE_TEXT.splitlines(keepends=True)
    done = []
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["insert", "insert", "line", "duplicate", "cut", "replace"]))
        if op == "insert":
            piece = draw(st.sampled_from(INSERTS))
            column = draw(st.integers(0, len(lines[index])))
            lines[index] = lines[index][:column] + piece + lines[index][column:]
            done.append(f"line {index + 1}, column {column + 1}: {piece!r} inserted")
        elif op == "line":
            piece = draw(st.one_of(st.sampled_from(SPECIALS), st.text(max_size=30)))
            lines.insert(index, piece + "\n")
            done.append(f"line {index + 1}: {piece!r} inserted as a line")
        elif op == "duplicate":
            lines.insert(index, lines[index])
            done.append(f"line {index + 1} repeated")
        elif op == "cut":
            lines = lines[:index]
            done.append(f"cut before line {index + 1}")
            break
        else:
            lines[index] = draw(st.text(max_size=40)) + "\n"
            done.append(f"line {index + 1} replaced")
    data = "".join(lines).encode("utf-8", "surrogatepass")
    tail = draw(st.sampled_from([b"", b"", b"\xff\xfe", b"\xc3", b"\x80\x81", b"\xed\xa0\x80"]))
    if tail:
        done.append(f"bytes {tail!r} at the end")
    return data + tail, done


# --- the world and the checks -------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec_world(django_db_setup, django_db_blocker, sandbox_server, tmp_path_factory):
    """The complete example applied, and the server read (plan works from that snapshot)."""
    with world_transaction(django_db_blocker, sandbox_server):
        apply_spec(BASE_TEXT, tmp_path_factory.mktemp("spec-world"))
        call_command("refresh_server_state", stdout=io.StringIO(), stderr=io.StringIO())
        yield sandbox_data(sandbox_server)


class Planner:
    def __init__(self, state_json: str, sandbox, path):
        self.state_json = state_json
        self.sandbox = sandbox
        self.path = path
        self.baseline = None
        self.tally = Tally()

    def check(self, data: bytes, done: list[str]) -> None:
        restore_sandbox(self.sandbox, self.state_json)
        cache.clear()
        self.path.write_bytes(data)
        source = str(self.path)
        where = f"SPEC mutated: {'; '.join(done) or 'nothing'}"
        with transaction.atomic():
            if self.baseline is None:
                self.baseline = fingerprint(), last_seq(), Changeset.objects.count()
            before, seq, changesets = self.baseline
            server_before = sandbox_data(self.sandbox)
            started = time.thread_time()
            valid, refused_by_validator = self._validate(source, where)
            planned, lines = self._plan(source, where)
            cpu = time.thread_time() - started
            self.tally.add(cpu)
            assert cpu < CPU_BUDGET_SECONDS, f"{where}\ntook {cpu:.1f} s of CPU"
            if not valid:
                assert not planned, f"{where}\nthe validator refused it, plan did not"
            if planned:
                changed = changed_tables(before)
                assert changed <= PLAN_WRITES, f"{where}\nplan changed {sorted(changed)}"
                assert not new_audit_actions(seq), f"{where}\nplan wrote audit entries"
                assert Changeset.objects.count() == changesets + 1, f"{where}\nnot one changeset"
            else:
                _check_lines(lines, source, where, refused_by_validator)
                changed = changed_tables(before)
                assert not changed, f"{where}\nrefused, but changed {sorted(changed)}"
            assert sandbox_data(self.sandbox) == server_before, f"{where}\nchanged the server"
            transaction.set_rollback(True)

    @staticmethod
    def _validate(source: str, where: str) -> tuple[bool, InvalidInput | None]:
        from changes.spec.validate import validate_spec

        try:
            validate_spec(load_spec(source), source=source)
        except InvalidInput as exc:
            return False, exc
        except Exception as exc:  # noqa: BLE001 - the failure we look for, shown with its input
            raise AssertionError(
                f"{where}\nthe validator raised {type(exc).__name__}: {exc}"
            ) from exc
        return True, None

    @staticmethod
    def _plan(source: str, where: str) -> tuple[bool, list[str]]:
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command("plan", source, stdout=out, stderr=err)
        except CommandError as exc:
            assert exc.returncode == 2, f"{where}\nplan exited {exc.returncode}: {exc}"
            return False, str(exc).splitlines()
        except Exception as exc:  # noqa: BLE001 - the failure we look for, shown with its input
            raise AssertionError(f"{where}\nplan raised {type(exc).__name__}: {exc}") from exc
        return True, []


def _check_lines(lines, source: str, where: str, refused: InvalidInput | None) -> None:
    """Every line names the file, then (but for the file's own errors: not YAML, too large,
    too deep) a field path and what is wrong with it, without control characters (the lines go
    to a terminal)."""
    assert lines, f"{where}\nplan exited 2 without a message"
    for line in lines:
        assert line.startswith(f"{source}: "), f"{where}\na line does not name the file: {line}"
        assert not any(unicodedata.category(ch) == "Cc" for ch in line), (
            f"{where}\na line has control characters: {line[:300]!r}"
        )
        if isinstance(refused, SpecFileError):
            continue
        path, _, message = line[len(source) + 2 :].partition(": ")
        assert path and message, f"{where}\na line names no field: {line[:300]!r}"


@pytest.fixture
def planner(spec_world, sandbox_server, settings, tmp_path, request):
    point_at_sandbox(settings, sandbox_server)
    planner, started = (
        Planner(spec_world, sandbox_server, tmp_path / "spec.yaml"),
        time.perf_counter(),
    )
    yield planner
    planner.tally.write(request.node.nodeid, time.perf_counter() - started)


def test_the_complete_example_plans_with_no_change(planner):
    planner.check(BASE_TEXT.encode(), [])


@pytest.mark.parametrize("section", [*SECTIONS, "top"])
def test_no_value_at_any_key_path_gives_a_traceback(section, planner):
    @given(spec=mutated_specs(section))
    @PROFILE
    def run(spec):
        planner.check(*spec)

    run()


def test_no_yaml_text_gives_a_traceback(planner):
    @given(spec=mutated_texts())
    @PROFILE
    def run(spec):
        planner.check(*spec)

    run()


WRONG_SHAPES = [
    None,
    [],
    {},
    "",
    "\x00",
    "x" * 60_000,
    10**30,
    -1,
    math.nan,
    True,
    datetime.date(2024, 1, 1),
    b"\xff",
    [[[]]],
    {None: 1, 2: [3]},
    {"__proto__": {"a": 1}},
]


def test_every_key_path_refuses_every_wrong_shape(planner):
    """Each key path of the complete example replaced by wrong shapes, through the validator:
    an error naming the file, never an exception. Runs whatever Hypothesis draws, so every field
    is covered on every run: in the small profile each path gets 3 of WRONG_SHAPES (in turn, so
    every shape is used), in the nightly one all of them, and `plan` of each path set to 60,000
    characters."""
    from changes.spec.validate import validate_spec
    from console.spec import parse_spec_text

    nightly = PROFILE.max_examples >= NIGHTLY_EXAMPLES
    for index, path in enumerate(PATHS):
        count = len(WRONG_SHAPES)
        picks = range(count) if nightly else [(index + k * 5) % count for k in range(3)]
        for value in (WRONG_SHAPES[i] for i in picks):
            doc = copy.deepcopy(BASE)
            _parent(doc, path)[path[-1]] = value
            where = f"SPEC mutated: {field_path(path)} = {_short(value)}"
            try:
                validate_spec(parse_spec_text(dump(doc).decode(), "spec.yaml"), source="spec.yaml")
            except InvalidInput as exc:
                for line in spec_error_lines(exc, "spec.yaml"):
                    assert line.startswith("spec.yaml: "), f"{where}\n{line}"
            except Exception as exc:  # noqa: BLE001 - the failure we look for
                raise AssertionError(f"{where}\n{type(exc).__name__}: {exc}") from exc
        if nightly:
            doc = copy.deepcopy(BASE)
            _parent(doc, path)[path[-1]] = "x" * 60_000
            planner.check(dump(doc), [f"{field_path(path)} = 60,000 characters"])


def test_a_spec_over_the_size_limit_is_refused_naming_the_file(planner):
    planner.check(BASE_TEXT.encode() + b"#" * (10 * MB), ["10 MiB of comment appended"])


# --- defects the fuzzing found: each one failed before its fix --------------------------------

ONE_LINE_CASES = {
    # an empty top-level key: its error had no path, and its line did not name the file
    "an empty key": "version: 1\n'': 1\n",
    # a terminal escape in a key went to the terminal as is
    "an escape in a key": 'version: 1\n"\\e[31mred": 1\n',
    # a key's line break split its error into lines that name no file
    "a key with a line break": 'version: 1\ntenants:\n  - name: Acme\n    "x\\ny": 1\n',
}


@pytest.mark.parametrize("text", ONE_LINE_CASES.values(), ids=ONE_LINE_CASES)
def test_each_error_is_one_line_naming_the_file(text, tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError) as info:
        call_command("plan", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert info.value.returncode == 2
    for line in str(info.value).splitlines():
        assert line.startswith(f"{path}: "), line
        path_part, _, message = line[len(str(path)) + 2 :].partition(": ")
        assert path_part and message, line
        assert not any(unicodedata.category(ch) == "Cc" for ch in line), repr(line)
