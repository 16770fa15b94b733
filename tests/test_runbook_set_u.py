"""Every shell line of the deletion runbooks is safe under `set -u` (issue 14, finding 10).

Each step that uses a variable is run alone in `bash -u`, with the real commands (rm, kubectl,
python3) replaced by functions that log their arguments, and with none of the variables set: it
must stop before any command runs, saying which variable is missing.
"""

import re
import subprocess

import pytest

from tenants.runbook import runbooks

STUBS = "\n".join(
    f'{name}() {{ echo "RAN {name} $*" >> "$LOG"; }}'
    for name in ("rm", "kubectl", "python3", "sudo", "grep", "head")
)
VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def steps():
    for runbook in runbooks("0123abcd", "Acme Research"):
        for step in runbook.steps:
            yield pytest.param(step.commands, id=f"{runbook.title}: {step.title[:40]}")


def _assigned(commands: str) -> set[str]:
    return set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=", commands, flags=re.M))


@pytest.mark.parametrize("commands", list(steps()))
def test_a_step_that_uses_a_variable_stops_when_it_is_not_set(tmp_path, commands):
    used = set(VARIABLE.findall(commands)) - _assigned(commands)
    if not used:
        pytest.skip("uses no variable")
    log = tmp_path / "log"
    log.touch()
    # Placeholders an operator fills in (<namespace>) are not shell: stop at them as a human would.
    script = STUBS + "\n" + commands.replace("<namespace>", "")
    result = subprocess.run(  # noqa: S603
        ["bash", "-u", "-c", script],
        env={"LOG": str(log), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert log.read_text() == "", f"ran a command with a variable unset:\n{log.read_text()}"
    assert any(name in result.stderr for name in used), result.stderr


def test_every_variable_is_guarded_or_set_earlier_in_its_runbook():
    for runbook in runbooks("0123abcd", "Acme Research"):
        assigned: set[str] = set()
        for step in runbook.steps:
            for match in re.finditer(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(:\?)?", step.commands):
                name, guarded = match.group(1), match.group(2)
                assert guarded or name in assigned, f"{runbook.title}: ${name} is not guarded"
            assigned |= _assigned(step.commands)


def test_the_fileserver_step_names_clearml_root_when_it_is_unset(tmp_path):
    [compose, _] = runbooks("0123abcd", "Acme Research")
    step = next(s for s in compose.steps if "rm -rf" in s.commands)
    log = tmp_path / "log"
    log.touch()
    result = subprocess.run(  # noqa: S603
        ["bash", "-u", "-c", STUBS + "\n" + step.commands],
        env={"LOG": str(log), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0 and "CLEARML_ROOT" in result.stderr
    assert log.read_text() == ""  # rm never ran, so nothing at / was touched
