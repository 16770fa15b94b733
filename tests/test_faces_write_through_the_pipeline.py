"""The faces (web/) change nothing themselves: they call the change pipeline (changes/).

From the domain apps' write modules a view may import only exceptions and read helpers (the
names below); anything else, and the apiserver client, must come through `changes`. A new read
helper is added here on purpose, after checking that it writes nothing and calls no server.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WRITE_MODULES = {
    "tenants.services": {"NotAllowed", "TenantChanged"},
    "tenants.provisioning.engine": {"TenantBusy", "latest_run_steps"},
    "tenants.groups.services": {"Stale"},
    "sso.routing.services": {"KINDS", "tenant_act_as"},
    "sso.routing.push": {"open_job", "parse_server_state", "push_result", "routing_diff"},
    "sso.routing.csv_import": set(),
    "sso.providers.services": {"TARGET_TYPE", "stored_entry_data"},
    # tenant_sso_calls is used with resolve=False by the page: it builds bodies, sends nothing.
    "sso.multitenant.services": {
        "login_link",
        "mtl_values",
        "multi_tenant_login",
        "tenant_sso_calls",
    },
    "console.apiserver": {"ApiError"},
    "console.apiserver.client": {"ApiError"},
}


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                yield node.module, alias.name, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, "*", node.lineno


def test_views_import_only_exceptions_and_read_helpers_from_write_modules():
    offences = []
    for path in sorted((ROOT / "web").rglob("*.py")):
        for module, name, line in _imports(path):
            allowed = WRITE_MODULES.get(module)
            if allowed is not None and name not in allowed:
                offences.append(f"{path.relative_to(ROOT)}:{line}: {module}.{name}")
    assert offences == [], "call these through changes/ instead:\n" + "\n".join(offences)


def test_the_check_catches_a_view_that_writes(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from tenants.services import tenant_update, NotAllowed\n")
    found = [(m, n) for m, n, _ in _imports(bad) if n not in WRITE_MODULES.get(m, {n})]
    assert found == [("tenants.services", "tenant_update")]
