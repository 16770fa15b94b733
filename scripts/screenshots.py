"""`make screenshots`: every page of the console with demo data, photographed in Chromium.

Starts a sandbox apiserver and the console (`manage.py runserver`) on free loopback ports, with a
fresh SQLite database in a temporary directory and a new admin password, applies the demo data
(scripts/demo_site.py) through the change pipeline, signs in and writes one full-page PNG per page
and width: var/screenshots/<page>-1280.png and <page>-390.png. Nothing outside the temporary
directory and the output directory is touched.

    .venv/bin/python scripts/screenshots.py [--out DIR] [--pages dashboard,security] [--widths 390]
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WIDTHS = (1280, 390)
HEIGHT = 900
OUT = ROOT / "var" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNGs go")
    parser.add_argument("--pages", default="", help="comma-separated page names (default: all)")
    parser.add_argument(
        "--widths", default=",".join(map(str, WIDTHS)), help="comma-separated widths in px"
    )
    args = parser.parse_args(argv)
    args.pages = [p for p in args.pages.split(",") if p]
    args.widths = [int(w) for w in args.widths.split(",") if w]
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback server
                return
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                message = f"The console did not answer at {url} within {seconds:.0f} s."
                raise SystemExit(message) from None
            time.sleep(0.3)


def select(pages, names: list[str]):
    if not names:
        return pages
    known = {p.name for p in pages}
    unknown = sorted(set(names) - known)
    if unknown:
        names = ", ".join(sorted(known))
        raise SystemExit(f"No page named {', '.join(unknown)}; choose among: {names}.")
    return [p for p in pages if p.name in names]


def prepare(env: dict, sandbox) -> list:
    """Migrate the fresh database, apply the demo data and return the pages (in this process)."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from scripts.demo_site import demo_pages, seed_demo_data

    call_command("migrate", "--noinput", verbosity=0)
    call_command("createcachetable", verbosity=0)
    seed_demo_data(sandbox)
    pages = demo_pages()
    connections.close_all()
    return pages


def shoot(base_url: str, password: str, pages, widths: list[int], out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from scripts.demo_site import sign_in, visit

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for width in widths:
            context = browser.new_context(viewport={"width": width, "height": HEIGHT})
            page = context.new_page()
            signed_in = False
            for demo_page in sorted(pages, key=lambda p: p.signed_in):
                if demo_page.signed_in and not signed_in:
                    page.goto(base_url + "/signin/")
                    sign_in(page, base_url, password)
                    signed_in = True
                visit(page, base_url, demo_page)
                if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
                    print(f"warning: {demo_page.name} scrolls sideways at {width} px")
                path = out / f"{demo_page.name}-{width}.png"
                page.screenshot(path=str(path), full_page=True)
                written.append(path)
            context.close()
        browser.close()
    return written


def main(argv=None) -> int:
    args = parse_args(argv)
    from console.admin_password import ENV_NAME, hash_password, new_password
    from sandbox import SandboxServer

    password = new_password()
    sandbox = SandboxServer().start()
    server = None
    try:
        with tempfile.TemporaryDirectory(prefix="console-screenshots-") as tmp:
            env = {
                "DJANGO_SETTINGS_MODULE": "console.settings",
                "DEBUG": "true",
                "DATABASE_URL": f"sqlite:///{tmp}/console.sqlite3",
                "CLEARML_API_URL": sandbox.url,
                "CLEARML_API_KEY": sandbox.key,
                "CLEARML_API_SECRET": sandbox.secret,
                ENV_NAME: hash_password(password),
            }
            pages = select(prepare(env, sandbox), args.pages)
            port = free_port()
            log = open(Path(tmp) / "runserver.log", "wb")  # noqa: SIM115 - closed with tmp
            server = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
                [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            base_url = f"http://127.0.0.1:{port}"
            wait_until_up(base_url + "/healthz")
            written = shoot(base_url, password, pages, args.widths, args.out)
            server.terminate()
            server.wait(timeout=20)
            log.close()
    finally:
        if server is not None and server.poll() is None:
            server.kill()
        sandbox.close()
    print(f"{len(written)} screenshots of {len(pages)} pages in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
