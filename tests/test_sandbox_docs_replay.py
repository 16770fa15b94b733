"""Every curl command of the ClearML multi-tenant docs, replayed against the sandbox.

The commands are read from the docs pages at test time (shared/reference/clearml-docs/), their
placeholders filled with values from earlier steps (the new company's id, the admin's user id),
and sent twice over: with `requests`, and through bash with the real curl.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from sandbox import fingerprint

ROOT = Path(__file__).resolve().parents[1]
DOCS = Path(os.environ.get("CLEARML_DOCS_DIR", ROOT.parent / "shared/reference/clearml-docs"))
K8S_DOC = DOCS / "multi_tenant_k8s.md"
SSO_DOC = DOCS / "sso_multi_tenant_login.md"
TENANT_NAMES = ["Acme Research", "Globex"]

pytestmark = pytest.mark.skipif(not K8S_DOC.exists(), reason=f"docs not found in {DOCS}")


@dataclass
class DocCommand:
    text: str  # the command as written, continuation lines joined

    @property
    def endpoint(self) -> str:
        return re.search(r"\$APISERVER_URL/([\w.]+)", self.text).group(1)


def doc_commands(path: Path) -> list[DocCommand]:
    """Each fenced block's curl command. A backslash followed by spaces at a line end is taken
    as a line continuation (multi_tenant_k8s.md has one; bash would not)."""
    commands = []
    for block in re.findall(r"```[^\n]*\n(.*?)```", path.read_text(), re.S):
        if "curl " not in block:
            continue
        assert block.count("curl ") == 1, f"one command per block expected:\n{block}"
        text = re.sub(r"\\[ \t]*\n", " ", block[block.index("curl ") :])
        commands.append(DocCommand(text.strip()))
    return commands


@dataclass
class Walkthrough:
    """What earlier steps produced, and the values that fill the placeholders."""

    sandbox: object
    tenant_names: list[str] = field(default_factory=lambda: list(TENANT_NAMES))
    companies: list[str] = field(default_factory=list)
    user_id: str = ""
    admin_credentials: tuple[str, str] | None = None
    done: list[str] = field(default_factory=list)

    def fill(self, text: str) -> str:
        known = {
            "<ADMIN_USER_NAME>": "Alice Admin",
            "<ADMIN_USER_EMAIL>": "alice@acme.io",
            "<USERS_EMAIL_DOMAIN>": "acme.io",
            "<email1>": "bob@gmail.com",
            "<email2>": "carol@partner.com",
            "<external tenant ID>": "acme-external",
        }
        if "<TENANT_NAME>" in text:
            known["<TENANT_NAME>"] = self.tenant_names.pop(0)
        if re.search(r"<(COMPANY_ID|company_id)>", text):
            assert self.companies, "the docs use a company id before creating a company"
            known["<COMPANY_ID>"] = known["<company_id>"] = self.companies[-1]
        if "<USER_ID>" in text:
            assert self.user_id, "the docs use a user id before creating a user"
            known["<USER_ID>"] = self.user_id
        for placeholder, value in known.items():
            text = text.replace(placeholder, value)
        # Any other <placeholder> (provider settings) gets a sample value of its own.
        text = re.sub(r"<([^<>]+)>", lambda m: "sample-" + re.sub(r"\W+", "-", m[1]), text)
        # The docs elide list items with `...`: `["<email1>", "<email2>", ...]`.
        return re.sub(r",\s*\.\.\.", "", text)


def send_with_requests(sandbox, text: str) -> tuple[int, dict]:
    """Interpret the curl command's options and make the same request with requests."""
    variables = {
        "APISERVER_URL": sandbox.url,
        "APISERVER_KEY": sandbox.key,
        "APISERVER_SECRET": sandbox.secret,
    }
    tokens = [re.sub(r"\$(\w+)", lambda m: variables[m[1]], t) for t in shlex.split(text)]
    assert tokens[0] == "curl"
    headers, auth, data, url, method = {}, None, None, None, None
    args = iter(tokens[1:])
    for token in args:
        if token in ("-H", "--header"):
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip()
        elif token in ("-u", "--user"):
            auth = tuple(next(args).split(":", 1))
        elif token in ("-d", "--data", "--data-raw"):
            data = next(args)
        elif token.startswith("-d"):
            data = token[2:]
        elif token in ("-X", "--request"):
            method = next(args)
        elif token.startswith("-"):
            raise AssertionError(f"curl option not understood by the replay: {token}")
        else:
            url = token
    if data is not None and "Content-Type" not in headers:
        headers["Content-Type"] = "application/x-www-form-urlencoded"  # what curl -d sends
    method = method or ("POST" if data is not None else "GET")
    response = requests.request(
        method,
        url,
        headers=headers,
        auth=auth,
        timeout=10,
        data=data.encode() if data is not None else None,
    )
    return response.status_code, response.json()


def send_with_curl(sandbox, text: str) -> tuple[int, dict]:
    """Run the command through bash and the real curl, with the docs' variables defined."""
    script = (
        f"APISERVER_URL={shlex.quote(sandbox.url)}\n"
        f"APISERVER_KEY={shlex.quote(sandbox.key)}\n"
        f"APISERVER_SECRET={shlex.quote(sandbox.secret)}\n"
        f"{text} -s -S -w '\\n%{{http_code}}'\n"
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


def replay(walk: Walkthrough, doc: Path, send) -> None:
    for command in doc_commands(doc):
        text = walk.fill(command.text)
        status, answer = send(walk.sandbox, text)
        assert status == 200, (command.endpoint, answer["meta"]["result_msg"])
        assert answer["meta"]["result_code"] == 200
        assert answer["meta"]["endpoint"]["name"] == command.endpoint
        CHECKS[command.endpoint](walk, text, answer["data"])
        walk.done.append(command.endpoint)


# What each documented call must have done, checked on the sandbox's data.
def check_create_company(walk, text, data):
    body = json.loads(re.search(r"-d\s*'(.*)'", text, re.S)[1])
    company = walk.sandbox.company(data["id"])
    assert company["name"] == body["name"]
    if "defaults" in body:  # "Override Options for New Tenants": "10" is read as a number
        assert company["defaults"] == {
            "allowed_users": 10,
            "features": ["experiments"],
            "exclude_features": ["app_management", "applications", "user_management"],
        }
    walk.companies.append(data["id"])


def check_get_companies(walk, text, data):
    listed = {c["id"]: c["name"] for c in data["companies"]}
    assert {i: listed[i] for i in walk.companies} == {
        i: walk.sandbox.company(i)["name"] for i in walk.companies
    }


def check_create_user(walk, text, data):
    user = walk.sandbox.user_by_email("alice@acme.io")
    assert user["id"] == data["id"]
    assert (user["company"], user["role"], user["internal"]) == (walk.companies[-1], "admin", True)
    walk.user_id = data["id"]


def check_create_credentials(walk, text, data):
    key, secret = data["credentials"]["access_key"], data["credentials"]["secret_key"]
    assert [c["access_key"] for c in walk.sandbox.credentials(walk.user_id)] == [key]
    # The new key works, as the tenant's admin (what the docs' agent / app gateway do).
    me = requests.post(
        f"{walk.sandbox.url}/users.get_current_user", auth=(key, secret), timeout=10
    ).json()["data"]["user"]
    assert (me["id"], me["role"], me["company"]["id"]) == (
        walk.user_id,
        "admin",
        walk.companies[-1],
    )
    walk.admin_credentials = (key, secret)


def check_set_domains(walk, text, data):
    assert walk.sandbox.login_settings(walk.companies[-1])["domains"] == ["acme.io"]


def check_add_whitelist(walk, text, data):
    assert walk.sandbox.login_settings(walk.companies[-1])["whitelist"] == [
        {"email": "bob@gmail.com", "is_admin": False},
        {"email": "carol@partner.com", "is_admin": False},
    ]


def check_remove_whitelist(walk, text, data):
    assert walk.sandbox.login_settings(walk.companies[-1])["whitelist"] == []


def check_get_settings(walk, text, data):
    assert data == {"domains": ["acme.io"], "whitelist": []}
    assert data == walk.sandbox.login_settings(walk.companies[-1])


def check_update_company_settings(walk, text, data):
    defaults = walk.sandbox.company(walk.companies[-1])["defaults"]
    # The given key is replaced; the keys not given stay as they were.
    assert defaults == {
        "allowed_users": 10,
        "features": ["sso_management", "user_management_advanced"],
        "exclude_features": ["app_management", "applications", "user_management"],
    }


def check_update_sso_config(walk, text, data):
    assert walk.sandbox.sso_config(walk.companies[-1]) == {
        "tenant": "acme-external",
        "group_mapping": {
            "IDP group name1": "Clearml group name1",
            "IDP group name2": "Clearml group name2",
        },
        "admin_groups": ["IDP admin group name1", "IDP admin group name2"],
    }


def check_save_provider(walk, text, data):
    [saved] = walk.sandbox.providers(walk.companies[-1])
    config = saved["configuration"]
    assert saved["provider"] == "keycloak"
    assert data["id"] == config["id"] == "sample-some-unique-id-here-you-can-use-company_id"
    assert config["client_secret"] == fingerprint("sample-client-secret-from-IDP")
    assert config["claim_tenant"] == "tenant_key"
    assert config["group_prohibit_user_login_if_not_in_group"] is True


CHECKS = {
    "system.create_company": check_create_company,
    "system.get_companies": check_get_companies,
    "auth.create_user": check_create_user,
    "auth.create_credentials": check_create_credentials,
    "login.set_domains": check_set_domains,
    "login.add_whitelist_entries": check_add_whitelist,
    "login.remove_whitelist_entries": check_remove_whitelist,
    "login.get_settings": check_get_settings,
    "system.update_company_settings": check_update_company_settings,
    "system.update_company_sso_config": check_update_sso_config,
    "sso.save_provider_configuration": check_save_provider,
}

K8S_SEQUENCE = [
    "system.create_company",
    "system.get_companies",
    "auth.create_user",
    "auth.create_credentials",
    "login.set_domains",
    "login.add_whitelist_entries",
    "login.remove_whitelist_entries",
    "login.get_settings",
    "system.create_company",
    "system.update_company_settings",
]

SENDERS = {"requests": send_with_requests, "curl": send_with_curl}


@pytest.fixture(params=sorted(SENDERS))
def send(request):
    if request.param == "curl" and not shutil.which("curl"):
        pytest.skip("curl is not installed")
    return SENDERS[request.param]


def test_the_replay_finds_every_curl_command_of_the_k8s_page():
    text = K8S_DOC.read_text()
    assert [c.endpoint for c in doc_commands(K8S_DOC)] == K8S_SEQUENCE
    assert len(doc_commands(K8S_DOC)) == len(re.findall(r"^\s*curl ", text, re.M))


def test_the_k8s_page_walkthrough_works_step_by_step(sandbox, send):
    sandbox.unique_company_names = True  # the page's values.yaml turns unique names on
    walk = Walkthrough(sandbox)
    replay(walk, K8S_DOC, send)
    assert walk.done == K8S_SEQUENCE
    assert [c["name"] for c in sandbox.companies()] == TENANT_NAMES
    # Only the documented calls reached the server (plus the credential check's own call).
    assert [c for c in sandbox.calls if c != "users.get_current_user"] == K8S_SEQUENCE


def test_the_multi_tenant_login_page_walkthrough_works(sandbox, send):
    walk = Walkthrough(sandbox)
    replay(walk, K8S_DOC, send)
    replay(walk, SSO_DOC, send)
    assert walk.done[-2:] == ["system.update_company_sso_config", "sso.save_provider_configuration"]


def test_creating_the_documented_tenant_twice_is_refused_with_unique_names(sandbox):
    sandbox.unique_company_names = True
    create = next(c for c in doc_commands(K8S_DOC) if c.endpoint == "system.create_company")
    walk = Walkthrough(sandbox, tenant_names=["Acme", "ACME "])
    assert send_with_requests(sandbox, walk.fill(create.text))[0] == 200
    status, answer = send_with_requests(sandbox, walk.fill(create.text))
    assert status == 400
    assert answer["meta"]["result_subcode"] == 801
    assert "already exists" in answer["meta"]["result_msg"]
    assert [c["name"] for c in sandbox.companies()] == ["Acme"]
