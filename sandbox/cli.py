"""The command line of the sandbox apiserver, shared by `python -m sandbox` and
`manage.py sandbox_apiserver`."""

import argparse
import ipaddress
import os
import signal
import sys
from collections.abc import Callable

from .app import SandboxError
from .endpoints import VERSION
from .server import SandboxServer


class UsageError(Exception):
    """Bad command-line input (exit code 2)."""


class StartError(Exception):
    """The server could not start: port taken, unreadable state file (exit code 1)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; loopback only unless --allow-remote)",
    )
    parser.add_argument("--port", type=int, default=8008, help="port (default 8008; 0: any free)")
    parser.add_argument(
        "--key",
        default=os.environ.get("SANDBOX_KEY", ""),
        help="the platform administrator's access key (default: $SANDBOX_KEY)",
    )
    parser.add_argument(
        "--secret",
        default=os.environ.get("SANDBOX_SECRET", ""),
        help="its secret (default: $SANDBOX_SECRET, which keeps it off the command line, where "
        "`ps` shows it; without a key and secret a random pair is printed)",
    )
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        dest="latency_ms",
        help="wait this many milliseconds in every call (benchmarks)",
    )
    parser.add_argument(
        "--state-file",
        default="",
        dest="state_file",
        help="keep the data in this JSON file across restarts",
    )
    parser.add_argument(
        "--unique-company-names",
        action="store_true",
        dest="unique_company_names",
        help="refuse a second company of the same name, ignoring case "
        "(apiserver.company.unique_names)",
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="enable the sandbox.* control calls (failure injection for tests)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        dest="allow_remote",
        help="allow a --host that is not a loopback address",
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_server(options: dict, on_call: Callable[[dict], None] | None = None) -> SandboxServer:
    host = options.get("host") or "127.0.0.1"
    if not is_loopback(host) and not options.get("allow_remote"):
        raise UsageError(
            f"--host {host}: not a loopback address; the sandbox has no real security, so it "
            "listens on loopback only (add --allow-remote if you really mean it)"
        )
    port = options.get("port", 8008)
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: not a port number")
    if (options.get("latency_ms") or 0) < 0:
        raise UsageError("--latency-ms: must be 0 or more")
    if bool(options.get("key")) != bool(options.get("secret")):
        raise UsageError("--key and --secret go together: give both or neither")
    try:
        return SandboxServer(
            host.strip("[]"),
            port,
            key=options.get("key") or None,
            secret=options.get("secret") or None,
            latency_ms=options.get("latency_ms") or 0,
            unique_company_names=bool(options.get("unique_company_names")),
            control=bool(options.get("control")),
            state_file=options.get("state_file") or None,
            on_call=on_call,
        )
    except SandboxError as exc:
        raise StartError(str(exc)) from None
    except OSError as exc:
        raise StartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def run(options: dict, write: Callable[[str], None], *, log_calls: bool = False) -> None:
    """Start, print where, serve until Ctrl-C or SIGTERM, save the state file, return."""
    on_call = None
    if log_calls:

        def on_call(record: dict) -> None:  # never the body or headers: they carry secrets
            print(
                f"{record['method']} {record['endpoint']} {record['status']} "
                f"{record.get('duration_ms', 0)}ms",
                file=sys.stderr,
                flush=True,
            )

    server = build_server(options, on_call)
    write(f"Sandbox apiserver (ClearML {VERSION}) listening on {server.url}")
    if server.app.generated_credentials:
        write(f"Platform administrator key:    {server.key}")
        write(f"Platform administrator secret: {server.secret}")
    if server.app.state_file:
        write(f"State file: {server.app.state_file}")
    if server.app.control:
        write("Control calls (sandbox.*) are enabled.")
    write("Stop with Ctrl-C.")
    # SIGINT too: a shell starts background jobs with SIGINT ignored, and Python then never
    # raises KeyboardInterrupt, so Ctrl-C (or `kill -INT`) would not stop the server.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close()
    write("Sandbox apiserver stopped.")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log one line per call")
    args = parser.parse_args(argv)
    try:
        run(vars(args), lambda line: print(line, flush=True), log_calls=args.verbose)
    except UsageError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    except StartError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1
    return 0
