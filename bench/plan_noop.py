"""Benchmark: a no-op `plan` over many tenants with the server-state snapshot fresh (issue 12).

    .venv/bin/python bench/plan_noop.py [--tenants 1000] [--database-url URL]

Applies a SPEC of N tenants (admin, domain, whitelist entry each) to an in-process sandbox
apiserver without latency, refreshes the snapshot (`refresh_server_state`), then times `plan` of
the same SPEC the way the command runs it: validate, plan from the snapshot, record the
changeset. Prints the time, the changing calls planned (must be 0) and the apiserver calls the
plan made (must be 0). Target: under 2 s. Runs it several times and prints each.
"""

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apply_tenants import database_description, setup_django, spec_text  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-plan-")
    setup_django(args.database_url, tmp)
    from django.conf import settings
    from django.core.management import call_command

    from sandbox import SandboxServer

    server = SandboxServer().start()
    settings.CLEARML_API_URL = server.url
    settings.CLEARML_API_KEY, settings.CLEARML_API_SECRET = server.key, server.secret
    try:
        spec = Path(tmp) / "bench.yaml"
        spec.write_text(spec_text(args.tenants))
        started = time.perf_counter()
        call_command("apply", str(spec), "--yes", stdout=io.StringIO())
        applied = time.perf_counter() - started
        started = time.perf_counter()
        call_command("refresh_server_state", stdout=io.StringIO())
        refreshed = time.perf_counter() - started
        print(f"tenants:          {args.tenants}")
        print(f"database:         {database_description()}")
        print(f"setup:            apply {applied:.1f} s, refresh {refreshed:.1f} s")
        worst = 0.0
        for run in range(1, args.runs + 1):
            calls_before = len(server.calls)
            out = io.StringIO()
            started = time.perf_counter()
            call_command("plan", str(spec), stdout=out)
            took = time.perf_counter() - started
            worst = max(worst, took)
            calls = len(server.calls) - calls_before
            text = out.getvalue()
            noop = "0 changing call(s)" in text
            print(
                f"plan run {run}:       {took:.2f} s, {calls} apiserver call(s), "
                f"{'no change' if noop else 'CHANGES PLANNED'}"
            )
            if calls or not noop:
                return 1
        print(f"worst:            {worst:.2f} s (target < 2 s)")
        return 0
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
