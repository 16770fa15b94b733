"""A real audit receiver for tests and the bench, run as its own process so it can be killed.

    python tests/audit_receiver.py webhook --port P --out FILE --secret S [--cert C --key K]
    python tests/audit_receiver.py syslog --port P --out FILE [--cert C --key K]

It appends the `seq` of every entry it accepts to FILE (one per line, fsynced before it answers),
and `forged <n>` for a webhook batch whose signature is wrong (answered 401, nothing kept).
`--die-after N`: exit abruptly (no answer, no close) once N entries were received, mid-batch.
Standard library only, like a receiver an operator would write.
"""

import argparse
import hashlib
import hmac
import http.server
import json
import os
import socketserver
import ssl
import sys
import time

MAX_SKEW = 300


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """The receiver's check (docs/audit.md): HMAC-SHA256 of "<timestamp>.<body>"."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + mac.hexdigest(), header)


class Store:
    def __init__(self, path: str, die_after: int | None, delay: float):
        self.out = open(path, "a")  # noqa: SIM115 - open for the process's life
        self.count, self.die_after, self.delay = 0, die_after, delay

    def keep(self, seqs: list) -> None:
        if self.die_after is not None and self.count + len(seqs) > self.die_after:
            self.write(seqs[: self.die_after - self.count])
            os._exit(9)  # killed mid-batch: no answer
        self.write(seqs)

    def write(self, lines: list) -> None:
        self.out.write("".join(f"{s}\n" for s in lines))
        self.out.flush()
        os.fsync(self.out.fileno())
        self.count += len(lines)


def webhook_handler(store: Store, secret: str):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            stamp = self.headers.get("X-Console-Timestamp", "")
            if not verify(secret, stamp, body, self.headers.get("X-Console-Signature", "")):
                store.write(["forged"])
                return self.answer(401, b"bad signature")
            if store.delay:
                time.sleep(store.delay)
            store.keep([e["seq"] for e in json.loads(body)["entries"]])
            self.answer(200, b"ok")

        def answer(self, status: int, text: bytes):
            self.send_response(status)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args):
            pass

    return Handler


def complete_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """RFC 6587 octet counting (`<len> <message>` repeated): the whole frames, and the rest."""
    frames, at = [], 0
    while (space := buffer.find(b" ", at)) > 0:
        length = int(buffer[at:space])
        if space + 1 + length > len(buffer):
            break
        frames.append(buffer[space + 1 : space + 1 + length])
        at = space + 1 + length
    return frames, buffer[at:]


def syslog_handler(store: Store):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            # Each message is kept as soon as it is read, as a real receiver does; one killed
            # mid-read leaves the rest unread, and the sender sees a reset.
            buffer = b""
            while chunk := self.request.recv(65536):
                frames, buffer = complete_frames(buffer + chunk)
                seqs = [json.loads(f.split(b"] ", 1)[1])["seq"] for f in frames]
                if seqs:
                    if store.delay:
                        time.sleep(store.delay)
                    store.keep(seqs)
            if isinstance(self.request, ssl.SSLSocket):
                self.request.unwrap()

    return Handler


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["webhook", "syslog"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--secret", default="")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--die-after", type=int)
    parser.add_argument("--delay-ms", type=float, default=0)
    args = parser.parse_args()
    store = Store(args.out, args.die_after, args.delay_ms / 1000)
    if args.kind == "webhook":
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", args.port), webhook_handler(store, args.secret)
        )
    else:
        server = Server(("127.0.0.1", args.port), syslog_handler(store))
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
