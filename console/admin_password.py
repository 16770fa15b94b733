"""The `admin` account's password: a bcrypt hash from the environment, or one made at start."""

import os
import secrets
import sys

import bcrypt

ENV_NAME = "CONSOLE_ADMIN_PASSWORD_BCRYPT"


def new_password() -> str:
    return secrets.token_urlsafe(18)


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def check_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


def ensure_admin_password(stream=None) -> None:
    """Generate and print a password once per start when no hash is configured.

    The hash goes into this process's environment, so the server processes it starts (the
    runserver child, gunicorn workers) all accept the same password.
    """
    if os.environ.get(ENV_NAME):
        return
    password = new_password()
    os.environ[ENV_NAME] = hash_password(password)
    out = stream or sys.stdout
    out.write(f"Admin password: {password}\n")
    out.flush()


def configured_hash() -> str:
    return os.environ.get(ENV_NAME, "")
