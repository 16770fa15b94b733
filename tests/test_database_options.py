"""PostgreSQL connections run with JIT off (short queries paid 260 ms compiling: the Tenants page
at 10,000 tenants, bench/scale_pages.py); an `options` in DATABASE_URL wins."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRINT_OPTIONS = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'])"


def options_for(url: str) -> str:
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "shell", "-c", PRINT_OPTIONS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://console@db.example:5432/console", "'options': '-c jit=off'"),
        (
            "postgres://console@db.example:5432/console?options=-c%20jit%3Don",
            "'options': '-c jit=on'",
        ),
    ],
)
def test_postgresql_connections_turn_jit_off_unless_the_url_says(url, expected):
    assert expected in options_for(url)


def test_sqlite_has_no_such_option(tmp_path):
    assert "jit" not in options_for(f"sqlite:///{tmp_path}/console.sqlite3")
