"""Issue "The first hour": template comments never reach the page (Django's `{# #}` ends at the
line's end, so a comment over several lines is printed as text), and the Security page leads
with its forms, its explanations collapsed in "How this works"."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from console.docs_links import DOCS

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
MULTI_LINE_COMMENT = re.compile(r"\{#(?![^\n]*#\})")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def page_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "".join(parser.parts)


def test_no_template_has_a_comment_over_several_lines():
    found = [
        f"{path.relative_to(TEMPLATES)}:{text[: m.start()].count(chr(10)) + 1}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for text in [path.read_text()]
        for m in MULTI_LINE_COMMENT.finditer(text)
    ]
    assert found == [], "use {% comment %} for a comment over several lines"


def test_the_error_summary_shows_no_template_comment():
    html = render_to_string(
        "console/_error_summary.html", {"message": "The name is required.", "target": "id_name"}
    )
    text = page_text(html)
    assert "The name is required." in text
    assert "{#" not in text and "#}" not in text and "{%" not in text
    assert "Include it with" not in text  # the comment's own words


def test_a_form_page_with_errors_shows_no_template_comment(admin_client):
    response = admin_client.post(reverse("tenants:create"), {"name": "", "admin_rows": "1"})
    text = page_text(response.content.decode())
    assert "There is a problem" in text
    assert "{#" not in text and "#}" not in text


def test_the_security_page_leads_with_its_forms_and_collapses_the_explanations(admin_client):
    html = admin_client.get(reverse("security")).content.decode()
    main = html[html.index('<main id="main"') :]
    generate, audit = main.index('id="security-generate"'), main.index('id="security-audit"')
    how = main.index('<details class="card help security-how" id="security-how">')
    assert generate < audit < how
    explanation = main[how : main.index("</details>", main.index('id="security-sources"'))]
    assert "<summary>How this works" in explanation
    for part in ("Rotating secrets: what breaks", "Order to roll", "Where the public defaults"):
        assert part in explanation
        assert main.index(part) > how  # nothing of it is shown above, expanded
    assert f'href="{DOCS["security"]}"' in explanation
