"""The sandbox apiserver over HTTP: a threading server, one request per thread."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .app import Reply, SandboxApp
from .handle import SandboxHandle

MAX_BODY = 16 * 1024 * 1024


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open hundreds of connections at once; the default backlog of 5 would make
    # the kernel drop and retry connections (a one-second stall each).
    request_queue_size = 1024
    app: SandboxApp


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real server behind nginx
    # Headers and body go out in two writes; without this, Nagle's algorithm and the client's
    # delayed ACK add 40 ms to every call on a kept-alive connection.
    disable_nagle_algorithm = True
    server_version = "ClearML-Sandbox"
    sys_version = ""
    server: _HTTPServer

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve("POST")

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def _serve(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._send(
                Reply(
                    400,
                    b'{"meta": {"result_code": 400, "result_subcode": 0, '
                    b'"result_msg": "bad Content-Length"}, "data": {}}',
                )
            )
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.app.handle(method, self.path, headers, body, self.client_address[0])
        if reply.body is None:
            # A lost answer: the call was executed, the client sees the connection close.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format, *args) -> None:  # noqa: A002
        pass  # SandboxApp.on_call reports calls; never log headers (credentials)


class SandboxServer(SandboxHandle):
    """A sandbox apiserver on `host:port` (port 0: a free one). Use as a context manager,
    or `start()` it in a background thread and `close()` it; `serve_forever()` blocks."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options) -> None:
        self.app = SandboxApp(**options)
        server_class = _HTTPServer6 if ":" in host else _HTTPServer
        try:
            self.httpd = server_class((host, port), _Handler)
        except BaseException:
            self.app.close()
            raise
        self.httpd.app = self.app
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> "SandboxServer":
        self.app.start_autosave()
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="sandbox-apiserver",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.app.start_autosave()
        self.httpd.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()
        self.app.close()

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
