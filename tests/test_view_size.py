"""Views are thin: no function taking `request` first runs over 40 lines (from its `def` line to
its last line); the logic lives in services, selectors and helpers.

Checked: every module under web/, console/views.py and every console/**/views.py.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 40


def _modules() -> list[Path]:
    web = ROOT / "web"
    console = ROOT / "console"
    found = set(web.rglob("*.py")) | set(console.rglob("views.py"))
    return sorted(p for p in found if "__pycache__" not in p.parts)


def _views(source: str):
    """(name, length) of every function, nested ones too, whose first parameter is `request`."""
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        params = [*node.args.posonlyargs, *node.args.args]
        if params and params[0].arg == "request":
            yield node.name, node.end_lineno - node.lineno + 1


def _long_views(path: Path) -> list[str]:
    where = path.relative_to(ROOT)
    return [
        f"{where}: {name} is {length} lines"
        for name, length in _views(path.read_text(encoding="utf-8"))
        if length > MAX_LINES
    ]


def test_no_view_is_longer_than_40_lines():
    long = [line for path in _modules() for line in _long_views(path)]
    assert not long, f"views over {MAX_LINES} lines (move the logic into helpers):\n" + "\n".join(
        long
    )


def test_the_walk_sees_the_views():
    """The check is not vacuous: it reads the modules the rule is about."""
    names = {path.relative_to(ROOT).as_posix() for path in _modules()}
    assert {"console/views.py", "console/security/views.py"} <= names
    assert "web/tenants/views/delete.py" in names
    views = dict(_views((ROOT / "web/tenants/views/delete.py").read_text(encoding="utf-8")))
    assert "tenant_delete" in views


def test_the_length_runs_from_the_def_line_to_the_last_line():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES - 1))
    exact = f"@decorator\ndef view(request):\n{body}\n"  # def line + 39 = 40 lines
    assert list(_views(exact)) == [("view", MAX_LINES)]
    longer = f"def view(request, pk):\n{body}\n    return x0\n"
    assert list(_views(longer)) == [("view", MAX_LINES + 1)]
    assert list(_views(f"def helper(form):\n{body}\n    return x0\n")) == []
