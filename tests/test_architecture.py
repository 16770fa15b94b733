"""The import layers (pyproject.toml, import-linter) hold, and a reverse import breaks them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    """The packages and pyproject.toml, copied so a test can add a bad import."""
    if not LINT_IMPORTS.exists():
        pytest.skip("import-linter is not installed (make test installs it)")
    copy = tmp_path_factory.mktemp("layers")
    for name in ("web", "changes", "sso", "tenants", "console", "sandbox"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_layers_hold_today(tree_copy):
    result = _lint(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "module,bad_import,broken",
    [
        ("tenants/models.py", "import sso.models", "tenants is not allowed to import sso"),
        ("console/audit/service.py", "import changes.engine", "console is not allowed to import"),
        ("changes/engine.py", "import web.changes.views", "changes is not allowed to import web"),
        ("console/security/catalog.py", "from . import audit_files", "console.security"),
    ],
)
def test_a_reverse_import_breaks_the_contract(tree_copy, tmp_path, module, bad_import, broken):
    copy = tmp_path / "tree"
    shutil.copytree(tree_copy, copy)
    target = copy / module
    target.write_text(target.read_text() + f"\n{bad_import}  # noqa\n")
    result = _lint(copy)
    assert result.returncode != 0
    assert broken in result.stdout
