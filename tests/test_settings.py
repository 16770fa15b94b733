"""Production settings: refusing to start without a secret, check --deploy, error pages."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[1]


def run_manage(*args, **env):
    # DJANGO_ALLOW_ASYNC_UNSAFE is set in this process for Playwright; a deployment never has it.
    dropped = {"SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    full_env = {k: v for k, v in os.environ.items() if k not in dropped}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = run_manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG=false" in result.stderr


@pytest.mark.parametrize("https", ["true", "false"])
def test_check_deploy_is_clean_under_production_settings(https):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        CONSOLE_HTTPS=https,
        SECRET_KEY="k" * 20 + "-production-only-" + "Zq8#" * 10,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_console_password_prints_a_password_and_a_hash_that_matches_it():
    from console.admin_password import check_password

    result = run_manage("console_password")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    password = lines[0].removeprefix("Password: ")
    password_hash = lines[1].removeprefix("CONSOLE_ADMIN_PASSWORD_BCRYPT=").strip("'")
    assert len(password) >= 20
    assert check_password(password, password_hash)
    assert not check_password(password + "x", password_hash)


def test_console_password_prompt_hashes_what_is_typed_without_echo():
    """--prompt reads from the terminal (getpass); driven here through a pseudo-terminal."""
    import pty

    from console.admin_password import check_password

    pid, fd = pty.fork()
    if pid == 0:  # child
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "manage.py", "console_password", "--prompt"])
    output = b""
    typed = 0
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        prompts = output.count(b"Password: ") + output.count(b"Again: ")
        if prompts > typed:
            os.write(fd, b"typed-at-the-prompt-123\n")
            typed += 1
    os.waitpid(pid, 0)
    text = output.decode()
    assert "typed-at-the-prompt-123" not in text
    password_hash = text.split("CONSOLE_ADMIN_PASSWORD_BCRYPT='")[1].split("'")[0]
    assert check_password("typed-at-the-prompt-123", password_hash)


@pytest.mark.django_db
def test_error_pages_look_like_the_console_when_debug_is_off(admin_client, settings):
    settings.DEBUG = False
    response = admin_client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert "ClearML Tenant Console" in html
    assert "Traceback" not in html and "URLconf" not in html


@pytest.mark.django_db
def test_a_post_without_csrf_token_gets_the_console_page(client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("signin"), {"username": "admin", "password": "x"})
    assert response.status_code == 403
    assert "Form expired" in response.content.decode()
