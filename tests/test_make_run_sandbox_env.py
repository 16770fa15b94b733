"""`make run`'s sandbox: its secret never on a command line, and the CLI finds it (issue 14.11)."""

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_ENV = ROOT / "var" / "sandbox.env"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.fixture
def no_running_make_run():
    if SANDBOX_ENV.exists():
        pytest.skip("var/sandbox.env exists: a `make run` is running here; not touching it")
    yield
    SANDBOX_ENV.unlink(missing_ok=True)


def test_make_run_keeps_the_secret_off_command_lines_and_the_cli_uses_its_sandbox(
    tmp_path, no_running_make_run
):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "SANDBOX_"))}
    env.update(
        PYTHON=sys.executable,
        PORT=str(_free_port()),
        SANDBOX_PORT=str(_free_port()),
        DATABASE_URL=f"sqlite:///{tmp_path / 'console.sqlite3'}",
    )
    migrate = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, timeout=120
    )
    assert migrate.returncode == 0
    run = subprocess.Popen(  # noqa: S603
        ["sh", "scripts/run-dev.sh"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for(SANDBOX_ENV)
        assert SANDBOX_ENV.exists(), "run-dev.sh wrote no var/sandbox.env"
        assert stat.S_IMODE(SANDBOX_ENV.stat().st_mode) == 0o600
        values = dict(
            line.split("=", 1) for line in SANDBOX_ENV.read_text().splitlines() if "=" in line
        )
        secret = values["CLEARML_API_SECRET"]
        assert values["CLEARML_API_URL"] == f"http://127.0.0.1:{env['SANDBOX_PORT']}"
        time.sleep(1)
        command_lines = subprocess.run(  # noqa: S603
            ["ps", "-eo", "args"], capture_output=True, text=True, timeout=30
        ).stdout
        assert secret not in command_lines

        # The command line, with no apiserver configured, talks to that sandbox.
        refresh = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "refresh_server_state"],
            cwd=ROOT,
            env={k: v for k, v in env.items() if k not in ("PORT", "SANDBOX_PORT")},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refresh.returncode == 0, refresh.stdout + refresh.stderr

        # ... and so does usage_report, to the sandbox's metering stand-in.
        assert values["CLEARML_METERING_URL"] == values["CLEARML_API_URL"] + "/metering"
        usage = subprocess.run(  # noqa: S603
            [
                sys.executable,
                "manage.py",
                "usage_report",
                "--from",
                "2026-01-01",
                "--to",
                "2026-01-02",
            ],
            cwd=ROOT,
            env={k: v for k, v in env.items() if k not in ("PORT", "SANDBOX_PORT")},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert usage.returncode == 0, usage.stdout + usage.stderr
        assert usage.stdout.startswith("tenant,category,total_usage,total_cost,currency")
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        try:
            output, _ = run.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            output, _ = run.communicate()
    assert "var/sandbox.env" in output
    assert not SANDBOX_ENV.exists()  # removed when make run stops
