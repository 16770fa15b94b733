"""Handing out new credentials the moment they exist: on stdout and, optionally, to a file.

The file is created with mode 0600 and refused if it already exists (a second run must never
overwrite the only copy of the first run's secrets). Each tenant's credentials are appended and
flushed to disk as soon as their record is committed, so a run killed a moment later has already
written them. Each line holds `tenant=… email=… access_key=… secret_key=…`, tab-separated.
"""

import os
import threading
from typing import TextIO

from tenants.provisioning.engine import IssuedSecret, RunOutcome


class CredentialsOutError(Exception):
    """The credentials file cannot be created (it exists, or its folder is not writable)."""


def check_credentials_file(path: str) -> None:
    """Refuse an existing file before anything is planned (open_credentials_file creates it)."""
    if os.path.lexists(path):
        raise CredentialsOutError(
            f"--credentials-out {path}: the file exists; it may hold the only copy of earlier "
            "credentials. Move it away or give a new name."
        )


def open_credentials_file(path: str) -> TextIO:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CredentialsOutError(
            f"--credentials-out {path}: the file exists; it may hold the only copy of earlier "
            "credentials. Move it away or give a new name."
        ) from None
    except OSError as exc:
        raise CredentialsOutError(f"--credentials-out {path}: {exc.strerror}") from None
    os.fchmod(fd, 0o600)  # whatever the umask
    return os.fdopen(fd, "w", encoding="utf-8")


class CredentialsPrinter:
    """Writes each new key pair to stdout and the file, under a lock (worker threads call it)."""

    def __init__(self, stdout, file: TextIO | None = None):
        self.stdout = stdout
        self.file = file
        self.lock = threading.Lock()
        self.count = 0

    def __call__(self, outcome: RunOutcome, secret: IssuedSecret) -> None:
        line = (
            f"New credentials (shown once): {outcome.tenant_name} / {secret.email}: "
            f"access_key={secret.access_key} secret_key={secret.secret_key}"
        )
        with self.lock:
            self.count += 1
            if self.file is not None:  # the file first: on disk before anyone reads stdout
                self.file.write(
                    f"tenant={outcome.tenant_name}\temail={secret.email}\t"
                    f"access_key={secret.access_key}\tsecret_key={secret.secret_key}\n"
                )
                self.file.flush()
                os.fsync(self.file.fileno())
            self.stdout.write(line)
            self.stdout.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
