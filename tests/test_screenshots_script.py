"""`make screenshots` (scripts/screenshots.py) and its page list (scripts/demo_site.py): every
page the console serves is in the list or named as not a page, each listed page answers with the
demo data, and the script itself writes its PNGs (one page, one width, to stay fast)."""

import struct
import sys

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from scripts import screenshots
from scripts.demo_site import NOT_PAGES, demo_pages, page_url_names, seed_demo_data


def url_names(patterns=None, namespace=None):
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            if str(entry.pattern).startswith("api/"):
                continue  # the JSON API: docs/api.md, tested by its schema
            yield from url_names(entry.url_patterns, entry.namespace or namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}:{entry.name}" if namespace else entry.name


@pytest.fixture
def demo(sandbox, sandbox_settings, transactional_db):
    seed_demo_data(sandbox)
    return demo_pages()


def test_every_url_is_a_listed_page_or_named_as_not_a_page(demo):
    listed = page_url_names()
    every = set(url_names())
    assert every - listed - set(NOT_PAGES) == set(), "add the page to scripts/demo_site.py"
    assert set(NOT_PAGES) - every == set(), "NOT_PAGES names a URL that no longer exists"
    assert listed & set(NOT_PAGES) == set()
    names = [p.name for p in demo]
    assert len(names) == len(set(names))


def test_every_listed_page_answers_with_the_demo_data(demo, admin_client):
    csrf_checking = Client(enforce_csrf_checks=True)
    csrf_checking.cookies = admin_client.cookies
    for page in demo:
        if not page.signed_in:
            response = Client().get(page.path)
        elif page.method == "POST":
            response = csrf_checking.post(page.path)
        else:
            response = admin_client.get(page.path)
        assert response.status_code == page.status, page.name
    detail = admin_client.get(next(p.path for p in demo if p.name == "tenant-detail"))
    assert b"acme-research.com" in detail.content
    tenants = admin_client.get(next(p.path for p in demo if p.name == "tenants")).content
    assert b"Umbrella Labs" in tenants and b">Import</button>" in tenants


def test_the_options_choose_pages_and_widths():
    args = screenshots.parse_args(["--pages", "dashboard,security", "--widths", "390"])
    assert args.pages == ["dashboard", "security"] and args.widths == [390]
    assert screenshots.parse_args([]).widths == [1280, 390]
    pages = [type("P", (), {"name": n})() for n in ("dashboard", "security", "audit")]
    assert [p.name for p in screenshots.select(pages, ["security"])] == ["security"]
    with pytest.raises(SystemExit, match="No page named nope"):
        screenshots.select(pages, ["nope"])


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


@pytest.mark.browser
def test_the_script_writes_full_page_pngs(tmp_path, chromium):
    import subprocess

    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [
            sys.executable,
            str(screenshots.ROOT / "scripts" / "screenshots.py"),
            "--out",
            str(tmp_path),
            "--pages",
            "tenant-detail",
            "--widths",
            "390",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tenant-detail-390.png"]
    width, height = png_size(tmp_path / "tenant-detail-390.png")
    assert width == 390 and height > 900  # the whole page, not the viewport
