"""The processes a bench starts (sandbox, gunicorn, worker), each in its own process group, and
stopped, with whatever they left behind, in reverse order."""

import os
import signal
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Processes:
    """Every process this run started, stopped in reverse order by `stop_all`."""

    def __init__(self):
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], env: dict, stdout) -> subprocess.Popen:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: its children go with it
        )
        self.started.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        name = next((n for n, p in self.started if p is proc), "a process")
        if proc.poll() is None:
            proc.terminate()  # gunicorn: graceful stop of its workers
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop on SIGTERM; killing its process group")
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # workers left behind, same process group
        except (ProcessLookupError, PermissionError):
            pass
        self.started = [(n, p) for n, p in self.started if p is not proc]

    def stop_all(self) -> None:
        for _, proc in reversed(list(self.started)):
            self.stop(proc)
