"""Fuzzing every form of the console through Django's test client (hostile input never gives a 500).

The targets are found, not listed by hand: the URL resolver gives every view that accepts POST
(`require_POST` / `require_http_methods`), and a crawl of the console's pages, signed in, over a
world built from docs/spec.md's complete example (two tenants, groups, identity providers, SSO,
a planned tenant, an import draft, a running push, a changeset to review), gives each one's forms
and their fields as the pages render them (inputs, selects, textareas, buttons, file inputs).
`test_every_post_view_has_a_fuzzed_form` fails when a POST view has no form the crawl finds.

For each POST view Hypothesis posts bodies made from its forms: each field kept as the page
filled it, left out, or replaced by hostile values (empty, 1 MB, 100,000 nested brackets, NUL
and other control characters, RTL marks, non-ASCII, HTML/JS, SQL-ish text, `${x}`, `$(VAR)`,
numbers as text), given several times (a list where one value is expected), plus extra fields;
urlencoded or multipart, with or without htmx; files of random bytes, hostile names and sizes
over the limits. Every answer must be:

- not a 5xx, and without a traceback;
- within a CPU budget (the view's own thread);
- free of the raw marker tag the inputs carry (an unescaped echo would be an injection);
- when it refuses (4xx, an error message after a redirect, a page with errors): saying what is
  wrong, and leaving the state as it was: every console table (hashed), the audit log and the
  sandbox apiserver's data, except the audit entries a refusal writes by design (a failed
  sign-in, a security audit of files that cannot be read).

GET forms and the query parameters the pages link with (filters, search, formats, tabs) are
fuzzed the same way; a GET must never change anything.

Each example runs in a savepoint rolled back afterwards, with the sandbox's data put back, so
examples do not see each other. Examples per target: tests/hypothesis_profiles.py (30 in
`make test`, 1,000 with HYPOTHESIS_PROFILE=nightly; bench/fuzz_nightly.sh).
"""

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.exceptions import Resolver404
from hypothesis import given
from hypothesis import strategies as st

from changes.drift import drift_compute
from console.apiserver import client_from_settings
from tests.conftest import TEST_ADMIN_PASSWORD
from tests.fuzzing import (
    CPU_BUDGET_SECONDS,
    MARK,
    MB,
    Tally,
    apply_spec,
    big_text,
    complete_example,
    fingerprint,
    hostile_text,
    last_seq,
    new_audit_actions,
    point_at_sandbox,
    restore_sandbox,
    sandbox_data,
    world_transaction,
)
from tests.hypothesis_profiles import fuzz_profile

pytestmark = pytest.mark.django_db

PROFILE = fuzz_profile()
# The GET pages read their query and change nothing: half the examples in the small profile.
GET_PROFILE = fuzz_profile(share=0.5)

# --- the POST views -----------------------------------------------------------------------------


def _walk(resolver: URLResolver, namespace: str = ""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or ""
            yield from _walk(pattern, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name or ''}", pattern.callback


def allowed_methods(view) -> set[str] | None:
    """The methods a view allows: a class-based view's handlers, or what its
    require_http_methods decorator says; None: any method."""
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return {m.upper() for m in view_class.http_method_names if hasattr(view_class, m)}
    func = view
    while func is not None:
        code = getattr(func, "__code__", None)
        if code is not None and "request_method_list" in code.co_freevars:
            cell = func.__closure__[code.co_freevars.index("request_method_list")]
            return set(cell.cell_contents)
        func = getattr(func, "__wrapped__", None)
    return None


def post_views() -> dict[str, Callable]:
    """Every view that accepts POST, by URL name."""
    out = {}
    for name, view in _walk(get_resolver()):
        methods = allowed_methods(view)
        if methods is None or "POST" in methods:
            out[name] = view
    return out


# Views that accept any method but read no form: nothing to fuzz in their body.
READS_NO_INPUT = {
    "healthz": "answered by middleware before the view; reads no body",
    "robots": "a fixed text; reads no body",
}
# The JSON API is not a form: it takes JSON bodies under its own schema (tests/test_api*.py).
NOT_FORMS = ("api-",)


def form_views() -> list[str]:
    """The POST views whose forms are fuzzed: every one but READS_NO_INPUT and the API."""
    return sorted(
        name
        for name in post_views()
        if name and name not in READS_NO_INPUT and not name.startswith(NOT_FORMS)
    )


# Valid values a field may take besides what the page fills in (by view, by field), so that
# examples get past the first check.
HINTS: dict[str, dict[str, list[str]]] = {
    "signin": {"username": ["admin"], "password": [TEST_ADMIN_PASSWORD, "wrong"]},
    "refresh": {"tenant": ["1", "2"], "next": ["/tenants/", "https://evil.example/"]},
    "tenants:create": {
        "name": ["New Co"],
        "admin-0-name": ["Ann New"],
        "admin-0-email": ["ann@newco.io"],
        "domains": ["newco.io"],
        "whitelist_admins": ["boss@newco.io"],
        "whitelist_users": ["user@newco.io"],
        "allowed_users": ["10"],
        "admin_rows": ["1", "2"],
    },
    "tenants:edit": {"allowed_users": ["10", "1000000"]},
    "tenants:delete": {
        "confirm_name": ["Acme Research", "Globex"],
        "step": ["mark"],
        "ran": ["yes"],
    },
    "tenants:group_create": {"name": ["fuzz_group"], "display_name": ["Fuzz Group"]},
    "tenants:groups_export": {"kind": ["auto", "helm", "compose"]},
    "tenants:groups_merge_download": {
        "kind": ["helm", "compose"],
        "secrets": ["inline", "secret-ref"],
        "original": ["apiserver:\n  extraEnvs: []\n", "services:\n  apiserver: {}\n"],
        "filename": ["values.yaml"],
        "part": ["secret"],
    },
    "sso:routing_import": {"text": ["email,is_admin\nnew@acme.io,true\n"]},
    "sso:routing_import_save": {"push": ["1"]},
    "sso:routing_add": {"value": ["new@acme.io", "acme-labs.io", "a@acme.io, b@acme.io"]},
    "sso:tenant_sso": {"action": ["save", "save_push", "discover"]},
    "security_generate": {"supervisor_email": ["sup@acme.io"], "supervisor": ["on"]},
}
# Sample files for the file inputs, besides random bytes (by field name).
FILE_SAMPLES = {
    "files": [
        b"apiserver:\n  extraEnvs:\n  - name: CLEARML__secure__auth__token_secret\n"
        b"    value: changeme\n",
        b"CLEARML__secure__auth__token_secret=abc\n",
        b'secure {\n  auth { token_secret: "abc" }\n}\n',
    ],
    "file": [
        b"email,is_admin\nnew@acme.io,true\nuser@acme.io,false\n",
        b"apiserver:\n  extraEnvs:\n  - name: X\n    value: y\n",
        b"services:\n  apiserver:\n    environment:\n      A: b\n",
    ],
}
# Audit entries a refusal writes on purpose (the log records failed attempts).
AUDITED_REFUSALS = {
    "signin": {"auth.signin.failed"},
    "security_audit_upload": {"secrets.audit"},
}
# The one GET that writes: a download carrying secret values is audited.
AUDITED_GETS = {"snippets:download": {"idp.export"}}

# --- the world ----------------------------------------------------------------------------------


@dataclass
class World:
    sandbox_json: str
    forms: dict[str, list["Form"]]  # POST forms by URL name
    anonymous: set[str]  # views whose forms only a signed-out visitor sees (sign-in)
    get_params: dict[str, list["Form"]]  # GET forms and linked query parameters by URL name
    pages: list[str]


def _signed_in(client: Client | None = None) -> Client:
    """A client signed in as the admin; `client` (its cookies dropped) instead of a new one: a new
    client loads the middleware again, which costs more than most requests."""
    from console.signin import admin_user

    if client is None:
        client = Client()
    client.cookies = SimpleCookie()
    client.force_login(admin_user(), backend="console.signin.AdminPasswordBackend")
    return client


def _build(tmp: Path, sandbox) -> tuple[list[str], list[tuple[str, str]]]:
    """The console's state the forms act on; returns extra pages to start the crawl from, and
    answers to POSTs whose forms no GET shows (path, HTML)."""
    import io

    import yaml

    from changes.models import Changeset
    from sso.models import RoutingImport, RoutingPushJob
    from tenants.models import Tenant

    example = yaml.safe_load(complete_example())
    # a tenant without routing, to be offboarded up to its credentials step
    example["tenants"].append(
        {"name": "Initech", "admins": [{"name": "Ida", "email": "ida@initech.io"}]}
    )
    apply_spec(yaml.safe_dump(example, allow_unicode=True), tmp)
    out = io.StringIO()
    sandbox.seed_company("Server Only Ltd")  # on the server, not in the console: importable
    # a group vault (its reveal and delete forms) and an audit sink (its test, replay, remove)
    vault = tmp / "vault.yaml"
    vault.write_text("sdk:\n  aws:\n    s3:\n      key: fuzz\n")
    call_command("vault", "set", "Acme Research", "--file", str(vault), stdout=out, stderr=out)
    sink = tmp / "audit.jsonl"
    call_command(
        "audit_sink", "add", "siem", "--kind", "jsonl", "--url", str(sink), stdout=out, stderr=out
    )
    call_command("refresh_server_state", stdout=out, stderr=out)
    client = _signed_in()
    acme = Tenant.objects.get(name="Acme Research")
    globex = Tenant.objects.get(name="Globex")
    initech = Tenant.objects.get(name="Initech")
    # a difference between the console and the server (the drift page's two actions)
    client_from_settings().call(
        "system.update_company_settings", {"company": globex.company_id, "allowed_users": 77}
    )
    call_command("refresh_server_state", stdout=out, stderr=out)
    assert drift_compute(), "the fuzz world needs one difference for the drift page's forms"

    def post(url: str, data: dict, expect=(302,)):
        response = client.post(url, data)
        assert response.status_code in expect, (url, response.status_code)
        return response

    # a planned tenant (plan, apply, discard)
    post(
        "/tenants/new/",
        {
            "name": "Planned Co",
            "admin_rows": "1",
            "admin-0-name": "Pat Planner",
            "admin-0-email": "pat@planned.io",
            "admin-0-internal": "on",
            "domains": "planned.io",
        },
    )
    # a change to review (changes:apply)
    post(
        f"/tenants/{acme.pk}/edit/", {"version": acme.version, "allowed_users": "30", "review": "1"}
    )
    # an import draft (its preview and save)
    post(
        f"/sso/routing/tenants/{acme.pk}/import/",
        {"text": "email,is_admin\nnew.one@acme.io,false\n", "role_mode": "column"},
    )
    # a running push (its progress page and step)
    post(f"/sso/routing/tenants/{globex.pk}/user/add/", {"value": "guest@globex.com"})
    post(f"/sso/routing/tenants/{globex.pk}/push/", {})
    # offboarding step 1 done: step 2 (revoke the keys) is offered
    post(f"/tenants/{initech.pk}/delete/routing/", {})
    # a merge under review (its download form)
    upload = SimpleUploadedFile("values.yaml", b"apiserver:\n  extraEnvs: []\n")
    merged = post("/tenants/groups/export/", {"kind": "helm", "file": upload}, expect=(200,))
    draft = RoutingImport.objects.filter(tenant=acme).latest("pk")
    job = RoutingPushJob.objects.filter(tenant=globex).latest("pk")
    planned = Tenant.objects.get(name="Planned Co")
    return [
        f"/sso/routing/tenants/{acme.pk}/import/{draft.pk}/",
        f"/sso/routing/tenants/{globex.pk}/push/{job.pk}/",
        f"/tenants/{planned.pk}/plan/",
        f"/tenants/{acme.pk}/delete/",
        f"/tenants/{globex.pk}/delete/",
        f"/tenants/{initech.pk}/delete/",
        "/account/tokens/",
        "/account/sessions/",
        f"/vaults/{acme.pk}/",
        "/audit/sinks/",
        "/drift/",
        *[f"/changes/{pk}/" for pk in Changeset.objects.values_list("pk", flat=True)],
    ], [("/tenants/groups/export/", merged.content.decode())]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, sandbox_server, tmp_path_factory):
    """Built once per module (tests.fuzzing.world_transaction), then crawled for its forms."""
    with world_transaction(django_db_blocker, sandbox_server):
        seeds, answers = _build(tmp_path_factory.mktemp("world"), sandbox_server)
        forms, get_params, pages = crawl(_signed_in(), ["/", *seeds], answers)
        outside, _, _ = crawl(Client(), ["/signin/"])
        anonymous = set(outside) - set(forms)
        forms.update({name: outside[name] for name in anonymous})
        yield World(sandbox_data(sandbox_server), forms, anonymous, get_params, pages)


@pytest.fixture
def fuzz(world, sandbox_server, settings, monkeypatch, request):
    """Per test: the sandbox settings, no slow-down after failed sign-ins, and no discovery
    fetch leaving the machine (the issuer URLs are hostile text)."""
    import requests

    import console.views

    point_at_sandbox(settings, sandbox_server)
    monkeypatch.setattr(console.views, "SLOWDOWN_SECONDS", 0)
    real_get = requests.Session.get

    def loopback_only(self, url, *args, **kwargs):
        host = urlsplit(str(url)).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise requests.ConnectionError(f"the fuzz tests do not leave the machine ({host})")
        return real_get(self, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "get", loopback_only)
    runner, started = Runner(world, sandbox_server), time.perf_counter()
    yield runner
    runner.tally.write(request.node.nodeid, time.perf_counter() - started)


# --- crawling the pages for their forms ---------------------------------------------------------


@dataclass
class Field:
    name: str
    kind: str = "text"  # text | file | choice (select, radio, checkbox, button)
    values: list[str] = field(default_factory=list)  # what the page offers or fills in


@dataclass
class Form:
    method: str
    action: str
    multipart: bool = False
    fields: dict[str, Field] = field(default_factory=dict)

    def key(self) -> tuple:
        return (self.method, self.action, tuple(sorted(self.fields)))

    def add(self, name: str, kind: str, value: str | None) -> None:
        current = self.fields.setdefault(name, Field(name, kind))
        if kind == "file":
            current.kind = "file"
        elif kind == "choice" and current.kind == "text":
            current.kind = "choice"
        if value is not None and value not in current.values:
            current.values.append(value)


class FormParser(HTMLParser):
    """The forms of a page (fields by name, with the values the page fills in or offers) and
    its links."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self.by_id: dict[str, Form] = {}
        self.orphans: list[tuple[str, dict]] = []  # inputs with form="id"
        self.links: list[str] = []
        self.current: Form | None = None
        self.select: str | None = None
        self.textarea: str | None = None
        self.text = ""

    def _form_for(self, attrs: dict) -> Form | None:
        if attrs.get("form"):
            self.orphans.append((attrs["form"], attrs))
            return None
        return self.current

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "form":
            method = (a.get("method") or "get").lower()
            form = Form(
                method=method,
                action=a.get("action") or self.page,
                multipart="multipart" in (a.get("enctype") or ""),
            )
            self.forms.append(form)
            if a.get("id"):
                self.by_id[a["id"]] = form
            self.current = form
            return
        if tag != "form" and a.get("hx-post") and self.current is None:
            self.forms.append(Form(method="post", action=a["hx-post"]))
        if tag == "input" and a.get("name"):
            form = self._form_for(a)
            if form is not None:
                self._add_input(form, a)
        elif tag == "button" and a.get("name"):
            form = self._form_for(a)
            if form is not None:
                form.add(a["name"], "choice", a.get("value", ""))
        elif tag == "select" and a.get("name"):
            self.select = a["name"]
            if self.current is not None:
                self.current.add(a["name"], "choice", None)
        elif tag == "option" and self.select and self.current is not None:
            self.current.add(self.select, "choice", a.get("value", ""))
        elif tag == "textarea" and a.get("name"):
            self.textarea, self.text = a["name"], ""

    def _add_input(self, form: Form, a: dict) -> None:
        kind = (a.get("type") or "text").lower()
        if kind == "file":
            form.add(a["name"], "file", None)
            form.multipart = True
        elif kind in ("checkbox", "radio", "submit", "hidden"):
            form.add(a["name"], "choice", a.get("value", "on" if kind == "checkbox" else ""))
        else:
            form.add(a["name"], "text", a.get("value", ""))

    def handle_data(self, data):
        if self.textarea is not None:
            self.text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            if self.current is not None:
                self.current.add(self.textarea, "text", self.text)
            self.textarea = None

    def close(self):
        super().close()
        for form_id, a in self.orphans:
            form = self.by_id.get(form_id)
            if form is not None:
                self._add_input(form, a)


def view_name(path: str) -> str | None:
    from django.urls import resolve

    try:
        return resolve(urlsplit(path).path).view_name
    except Resolver404:
        return None


# Pages the crawl does not open: they stream files, record a download, or sign out.
CRAWL_SKIP = {"signout", "snippets:download", "audit:export", "tenants:onboarding_download"}
CRAWL_MAX_PAGES = 400
CRAWL_PER_VIEW = 4


def crawl(client: Client, start: list[str], answers: list[tuple[str, str]] = ()):
    """Open the console's pages from `start`, following its links; return the POST forms and
    the GET parameters (forms and links) by URL name, and the pages opened. `answers`: pages
    already fetched (path, HTML), read first."""
    queue, seen, pages = list(start), set(), []
    per_view: dict[str, int] = {}
    forms: dict[str, dict[tuple, Form]] = {}
    get_params: dict[str, dict[tuple, Form]] = {}
    fetched = list(answers)
    while (fetched or queue) and len(pages) < CRAWL_MAX_PAGES:
        if fetched:
            url, html = fetched.pop(0)
            _read_page(url, html, forms, get_params, queue)
            continue
        url = queue.pop(0)
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or not parts.path.startswith("/") or url in seen:
            continue
        seen.add(url)
        name = view_name(url)
        if name is not None and parts.query:
            _link_params(get_params, name, parts)
        if name is None or name in CRAWL_SKIP or per_view.get(name, 0) >= CRAWL_PER_VIEW:
            continue
        per_view[name] = per_view.get(name, 0) + 1
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        pages.append(url)
        _read_page(parts.path, response.content.decode(), forms, get_params, queue)
    as_lists = {name: list(found.values()) for name, found in forms.items()}
    return as_lists, {name: list(found.values()) for name, found in get_params.items()}, pages


def _read_page(path: str, html: str, forms: dict, get_params: dict, queue: list) -> None:
    parser = FormParser(path)
    parser.feed(html)
    parser.close()
    for form in parser.forms:
        target = view_name(form.action)
        if target is None:
            continue
        store = forms if form.method == "post" else get_params
        store.setdefault(target, {}).setdefault(form.key(), form)
        if form.method == "get":
            queue.append(form.action)
    queue.extend(link.split("#", 1)[0] for link in parser.links)


def _link_params(store: dict, name: str, parts) -> None:
    form = Form(method="get", action=parts.path)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        form.add(key, "choice", value)
    store.setdefault(name, {}).setdefault(form.key(), form)


# --- hostile values -----------------------------------------------------------------------------

FIELD_NAMES = st.one_of(
    st.sampled_from(["x", "version", "id", "pk", "action", "csrfmiddlewaretoken", "__proto__"]),
    st.sampled_from(["a[b]", "a.b", "a__b", "features__x", "admin-99-email", "ui__x__y"]),
    st.text(min_size=1, max_size=12),
)


def hostile_files(samples: list[bytes], limit_names: bool = False):
    name = st.one_of(
        st.sampled_from(["values.yaml", "x.csv", "x.env", "secure.conf", ".env", "a" * 300]),
        st.sampled_from(
            ["../../etc/passwd", "a\x00b.yaml", "é😀.yaml", "", "con", "x\u202egpj.exe"]
        ),
        st.text(max_size=20),
    )
    content = st.one_of(
        st.binary(max_size=2_000),
        st.sampled_from(samples or [b""]),
        hostile_text([s.decode() for s in samples]).map(
            lambda t: t.encode("utf-8", "surrogatepass")
        ),
        st.sampled_from([MB + 1, 5 * MB + 1]).map(lambda n: b"a: b\n" * (n // 5 + 1)),
        st.sampled_from([b"\xff\xfe\x00", b"\x00" * 1000, b"\xef\xbb\xbf", b"PK\x03\x04"]),
    )
    return st.lists(st.tuples(name, content), min_size=0, max_size=3)


@dataclass
class Request:
    form: Form
    data: dict[str, list]  # name -> values (str, or (filename, bytes) for files)
    multipart: bool
    htmx: bool

    def describe(self, method: str = "post") -> str:
        def short(value):
            if isinstance(value, tuple):
                return (short(value[0]), f"<{len(value[1])} bytes>")
            text = value if len(value) <= 120 else value[:60] + f"…<{len(value)} chars>"
            return text

        shown = {k: [short(v) for v in vs] for k, vs in self.data.items()}
        return (
            f"{method.upper()} {self.form.action} "
            f"{'multipart' if self.multipart else 'urlencoded' if method == 'post' else 'query'}"
            f"{' htmx' if self.htmx else ''} {shown!r}"
        )


@st.composite
def requests_for(draw, forms: list[Form], hints: dict[str, list[str]], method: str = "post"):
    form = draw(st.sampled_from(forms))
    data: dict[str, list] = {}
    texts = [n for n, f in form.fields.items() if f.kind != "file"]
    # One example in four has one big value (decoding 1 MB of a form costs Django a second).
    big = (
        draw(st.sampled_from([None, None, None, "big"])) and texts and draw(st.sampled_from(texts))
    )
    for name, fld in form.fields.items():
        valid = [v for v in fld.values + hints.get(name, []) if v is not None]
        mode = draw(st.sampled_from(["keep", "keep", "hostile", "hostile", "omit"]))
        if mode == "omit":
            continue
        if fld.kind == "file":
            data[name] = draw(hostile_files(FILE_SAMPLES.get(name, [])))
        elif mode == "keep" and fld.kind == "choice" and len(valid) > 1:
            data[name] = draw(st.lists(st.sampled_from(valid), min_size=1, max_size=2, unique=True))
        elif mode == "keep" and valid:
            data[name] = [draw(st.sampled_from(valid))]
        else:
            data[name] = draw(st.lists(hostile_text(valid), min_size=1, max_size=3))
        if name == big and name in data:
            data[name][0] = draw(big_text())
    for name in hints:
        if name not in data and draw(st.booleans()):
            data[name] = [draw(st.sampled_from(hints[name]))]
    extra = draw(st.dictionaries(FIELD_NAMES, st.lists(hostile_text([]), max_size=2), max_size=3))
    for name, values in extra.items():
        data.setdefault(name, values)
    has_files = any(fld.kind == "file" for fld in form.fields.values())
    multipart = method == "post" and (has_files or draw(st.booleans()))
    return Request(form=form, data=data, multipart=multipart, htmx=draw(st.booleans()))


# --- what an answer must be ---------------------------------------------------------------------

ERROR_MARKERS = (
    'class="errorlist"',
    "alert-error",
    "field-invalid",
    "error-card",
    "message-error",
    'aria-invalid="true"',
)
TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'id="traceback"', "Exception Value:")


def body_text(response) -> str:
    if getattr(response, "streaming", False):
        return getattr(response, "fuzz_body", b"").decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _file_name(name: str) -> str:
    """A generated file name the test client can send: Django refuses to build an upload named
    "/", "." or ".." on the client side, before any request (a browser sends the base name)."""
    base = os.path.basename(name)
    return base if base not in ("", ".", "..") else "upload"


def error_messages(response) -> list[str]:
    request = getattr(response, "wsgi_request", None)
    if request is None or not hasattr(request, "_messages"):
        return []
    return [str(m) for m in get_messages(request) if m.level >= message_levels.ERROR]


def success_messages(response) -> list[str]:
    request = getattr(response, "wsgi_request", None)
    if request is None or not hasattr(request, "_messages"):
        return []
    return [str(m) for m in get_messages(request) if m.level == message_levels.SUCCESS]


def refused(response, text: str) -> bool:
    """Whether the answer says the input was not taken."""
    if response.status_code >= 400:
        return True
    if 300 <= response.status_code < 400:
        # an error without a success: a save that worked and a push that failed is no refusal
        return bool(error_messages(response)) and not success_messages(response)
    return "text/html" in response.get("Content-Type", "") and any(m in text for m in ERROR_MARKERS)


def explains(response, text: str) -> bool:
    """Whether a refusal says what is wrong: an error next to a field, an alert, a message, or
    the text of a plain answer."""
    if error_messages(response):
        return True
    if "text/html" in response.get("Content-Type", ""):
        return any(m in text for m in ERROR_MARKERS) or 'role="alert"' in text
    return bool(text.strip())


class Runner:
    def __init__(self, world: World, sandbox):
        self.world = world
        self.sandbox = sandbox
        self.tally = Tally()
        self.baseline: tuple[dict[str, str], int] | None = None
        self.client = Client()

    def _baseline(self) -> tuple[dict[str, str], int]:
        """The console's tables as every example starts (each one is rolled back)."""
        if self.baseline is None:
            self.baseline = fingerprint(), last_seq()
        return self.baseline

    def send(self, target: str, request: Request, *, method: str = "post", signed_in=True):
        """Send one request in a savepoint rolled back afterwards; check the answer."""
        restore_sandbox(self.sandbox, self.world.sandbox_json)
        cache.clear()
        with transaction.atomic():
            if signed_in:
                client = _signed_in(self.client)
            else:
                client, client.cookies = self.client, SimpleCookie()
            before, seq = self._baseline()
            server_before = sandbox_data(self.sandbox)
            headers = {"HX-Request": "true"} if request.htmx else {}
            started = time.thread_time()
            try:
                response = self._send(client, method, request, headers)
            except Exception as exc:  # noqa: BLE001 - the failure we look for, shown with its input
                raise AssertionError(
                    f"{target}: the view raised {type(exc).__name__}: {exc}\n"
                    f"{request.describe(method)}"
                ) from exc
            cpu = time.thread_time() - started
            self.tally.add(cpu)
            where = f"{target}: {request.describe(method)}"
            text = body_text(response)
            assert response.status_code < 500, f"{where}\nanswered {response.status_code}"
            assert cpu < CPU_BUDGET_SECONDS, f"{where}\ntook {cpu:.1f} s of CPU"
            assert not any(m in text for m in TRACEBACK_MARKERS), f"{where}\nshows a traceback"
            if "text/html" in response.get("Content-Type", ""):
                assert MARK not in text, f"{where}\nechoes an input unescaped"
            if method == "get":
                changed = {k for k, v in fingerprint().items() if before.get(k) != v}
                audited = new_audit_actions(seq)
                if audited and audited <= AUDITED_GETS.get(target, set()):
                    changed.discard("console_auditentry")
                assert not changed, f"{where}\na GET changed {sorted(changed)} {audited}"
            elif refused(response, text):
                assert explains(response, text), (
                    f"{where}\nrefused ({response.status_code}) without saying why:\n{text[:2000]}"
                )
                changed = {k for k, v in fingerprint().items() if before.get(k) != v}
                audited = new_audit_actions(seq)
                allowed = AUDITED_REFUSALS.get(target, set())
                if audited and audited <= allowed:
                    changed.discard("console_auditentry")
                assert not changed, f"{where}\nrefused, but changed {sorted(changed)} {audited}"
                assert sandbox_data(self.sandbox) == server_before, (
                    f"{where}\nrefused, but changed the server"
                )
            transaction.set_rollback(True)
        return response

    @staticmethod
    def _send(client: Client, method: str, request: Request, headers: dict):
        path = request.form.action
        if method == "get":
            pairs = [(k, v) for k, vs in request.data.items() for v in vs]
            response = client.get(path, dict_of_lists(pairs), headers=headers)
            if getattr(response, "streaming", False):  # an export: its rows are made as it streams
                response.fuzz_body = b"".join(response.streaming_content)
            return response
        if request.multipart:
            payload: dict[str, list] = {}
            for name, values in request.data.items():
                payload[name] = [
                    SimpleUploadedFile(_file_name(v[0]), v[1]) if isinstance(v, tuple) else v
                    for v in values
                ]
            return client.post(path, payload, headers=headers)
        pairs = [(k, v) for k, vs in request.data.items() for v in vs if not isinstance(v, tuple)]
        return client.post(
            path,
            urlencode(pairs),
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )


def dict_of_lists(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


# --- the tests ----------------------------------------------------------------------------------


def test_every_post_view_has_a_fuzzed_form(world):
    """Each POST view (form_views) is fuzzed: with its forms, found on a page the crawl opened
    (signed in or not), or, for a view the world shows no form of, with bodies of random fields
    sent to its URL (filled in from a page of the same object). None is left out."""
    missing = sorted(t for t in form_views() if not _forms(world, t))
    assert not missing, f"no form and no URL for {missing}: arrange them in _build()"
    gone = sorted(set(HINTS) - set(form_views()))
    assert not gone, f"HINTS names views that are gone: {gone}"


def _forms(world: World, target: str) -> list[Form]:
    """The target's forms, or a bare one at its URL when no page shows it."""
    if world.forms.get(target):
        return world.forms[target]
    return [Form(method="post", action=url) for url in _urls_of(world, target)]


def _urls_of(world: World, target: str) -> list[str]:
    """The target's URL with the arguments of a page the crawl opened that names the same ones
    (`changes:approve` takes `pk` from `/changes/5/`)."""
    from django.urls import NoReverseMatch, resolve, reverse

    urls = []
    for page in world.pages:
        kwargs = resolve(urlsplit(page).path).kwargs
        try:
            url = reverse(target, kwargs=kwargs) if kwargs else None
        except NoReverseMatch:
            continue
        if url and url not in urls:
            urls.append(url)
    if not urls:
        with contextlib.suppress(NoReverseMatch):
            urls.append(reverse(target))
    return urls[:3]


@pytest.mark.parametrize("target", form_views())
def test_no_form_input_gives_a_server_error(target, fuzz):
    forms = _forms(fuzz.world, target)
    signed_in = target not in fuzz.world.anonymous

    @given(req=requests_for(forms, HINTS.get(target, {})))
    @PROFILE
    def run(req):
        fuzz.send(target, req, signed_in=signed_in)

    run()


def _get_targets() -> list[str]:
    return sorted(
        name
        for name, view in _walk(get_resolver())
        if (allowed_methods(view) or {"GET"}) & {"GET"} and name not in READS_NO_INPUT
    )


def _get_forms(world: World, target: str) -> list[Form]:
    if target == "audit:export":  # the Audit page's filter, as its export links send it
        return [
            Form(method="get", action=f"/audit/export.{fmt}", fields=form.fields)
            for form in world.get_params.get("audit:list", [])
            for fmt in ("csv", "jsonl")
        ]
    return world.get_params.get(target) or [
        Form(method="get", action=urlsplit(page).path)
        for page in world.pages
        if view_name(page) == target
    ]


@pytest.mark.parametrize("target", _get_targets())
def test_no_query_gives_a_server_error_or_changes_anything(target, fuzz):
    forms = _get_forms(fuzz.world, target)
    if not forms:
        pytest.skip(f"the crawl opened no page of {target}")

    @given(req=requests_for(forms, {}, method="get"))
    @GET_PROFILE
    def run(req):
        fuzz.send(target, req, method="get")

    run()


# --- defects the fuzzing found: each one failed before its fix --------------------------------
