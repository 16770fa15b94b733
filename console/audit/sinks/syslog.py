"""Syslog: RFC 5424 messages over TCP (`tcp://host:port`) or TLS (`tls://host:port`), framed by
octet counting (RFC 6587 3.4.1: `<length> <message>`), one connection per batch.

Each message: `<110>1 <time> <host> clearml-console - audit [console@32473 seq="…" …] <JSON>` —
facility 13 (log audit), severity 6 (informational); the structured data carries the entry's
fields (RFC 5424 6.3.3 escaping: `\\`, `"` and `]`), the message is the entry's JSON document.
32473 is the private enterprise number RFC 5612 reserves for documentation and examples.

Syslog has no acknowledgement of its own. A batch counts as acknowledged when, after it was
written and the console closed its sending side, the receiver closed the connection cleanly: it
has read the whole batch. A receiver that died before reading it resets the connection instead
(or never answers: the read times out), and the batch is sent again.
"""

import fcntl
import socket
import ssl
import struct
import termios
import time
from urllib.parse import urlsplit

from .errors import DeliveryFailed
from .models import AuditSink
from .wire import dumps

PRI = 13 * 8 + 6
APP_NAME = "clearml-console"
MSG_ID = "audit"
SD_ID = "console@32473"
TIMEOUT = 30.0
ACK_WAIT = 5.0  # for the last bytes to be acknowledged, after the receiver closed
SD_FIELDS = ("seq", "actor", "action", "outcome", "entry_hash")


def sd_escape(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _hostname() -> str:
    name = "".join(ch for ch in socket.gethostname() if 33 <= ord(ch) <= 126)
    return name[:255] or "-"


def structured_data(entry: dict) -> str:
    target = entry["target"]
    params = [(name, entry[name]) for name in SD_FIELDS]
    params += [("target_type", target["type"]), ("target", target["id"] or target["name"])]
    text = " ".join(f'{name}="{sd_escape(value)}"' for name, value in params)
    return f"[{SD_ID} {text}]"


def message(entry: dict, hostname: str | None = None) -> bytes:
    """One RFC 5424 message, framed by its octet count."""
    header = f"<{PRI}>1 {entry['at']} {hostname or _hostname()} {APP_NAME} - {MSG_ID}"
    body = f"{header} {structured_data(entry)} {dumps(entry)}".encode()
    return str(len(body)).encode() + b" " + body


def address(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of `tcp://host:port` or `tls://host:port`; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or not parts.port:
        raise ValueError("must be tcp://host:port or tls://host:port")
    return parts.scheme, parts.hostname, parts.port


def _connect(sink: AuditSink) -> socket.socket:
    scheme, host, port = address(sink.url)
    raw = socket.create_connection((host, port), timeout=TIMEOUT)
    if scheme == "tcp":
        return raw
    context = ssl.create_default_context(cafile=sink.ca_file or None)
    try:
        return context.wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise


def _unacknowledged_bytes(sock: socket.socket) -> int:
    """Bytes of ours the receiver's host has not acknowledged (Linux; 0 where unknown)."""
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    return struct.unpack("i", raw)[0]


def _nothing_in_flight(sock: socket.socket) -> bool:
    """After the receiver's close: were all our bytes taken in before it? A receiver that closed
    early answers the bytes still in flight with a reset, so they never get acknowledged."""
    end = time.monotonic() + ACK_WAIT
    while _unacknowledged_bytes(sock) > 0:
        if time.monotonic() >= end:
            return False
        time.sleep(0.005)
    return not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


def _await_clean_close(sock: socket.socket) -> None:
    """Close our side and wait for the receiver to close its own once it read everything; raise
    OSError when it did not (a reset, a timeout, or a close before our last bytes arrived)."""
    if isinstance(sock, ssl.SSLSocket):
        try:
            sock.unwrap()  # close_notify; the receiver answers it once it read to the end
            return
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
            if _nothing_in_flight(sock):
                return
            raise ConnectionResetError("the receiver closed before reading the batch") from None
    sock.shutdown(socket.SHUT_WR)
    while sock.recv(65536):
        pass
    if not _nothing_in_flight(sock):
        raise ConnectionResetError("the receiver closed before reading the batch")


def send(sink: AuditSink, entries: list[dict]) -> None:
    hostname = _hostname()
    payload = b"".join(message(e, hostname) for e in entries)
    try:
        sock = _connect(sink)
    except (OSError, ValueError) as exc:
        raise DeliveryFailed(f"cannot connect to {sink.url}: {exc}") from None
    try:
        sock.sendall(payload)
        _await_clean_close(sock)
    except OSError as exc:
        raise DeliveryFailed(f"{sink.url}: {type(exc).__name__}: {exc}") from None
    finally:
        sock.close()
