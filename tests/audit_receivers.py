"""Helpers for tests with real audit receivers: a self-signed certificate, a free port, and the
receiver process (tests/audit_receiver.py) started, killed and restarted."""

import datetime
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

RECEIVER = Path(__file__).with_name("audit_receiver.py")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "receiver.crt", directory / "receiver.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """The receiver process; `received()` reads what it kept so far."""

    def __init__(self, kind: str, out: Path, *, cert=None, key=None, secret=""):
        self.kind, self.out, self.port = kind, out, free_port()
        self.cert, self.key, self.secret = cert, key, secret
        self.process: subprocess.Popen | None = None

    def start(self, *extra: str) -> "Receiver":
        command = [sys.executable, str(RECEIVER), self.kind, "--port", str(self.port)]
        command += ["--out", str(self.out), "--secret", self.secret, *extra]
        if self.cert:
            command += ["--cert", str(self.cert), "--key", str(self.key)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready"
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        if self.process:
            self.process.wait(10)

    def wait_exit(self, timeout: float = 30) -> int:
        return self.process.wait(timeout)

    def received(self) -> list[int]:
        if not self.out.exists():
            return []
        return [int(x) for x in self.out.read_text().split() if x.isdigit()]

    def forged(self) -> int:
        if not self.out.exists():
            return 0
        return self.out.read_text().count("forged")

    def wait_for(self, count: int, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while len(set(self.received())) < count and time.monotonic() < end:
            time.sleep(0.05)
