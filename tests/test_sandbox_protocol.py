"""The sandbox speaks the apiserver's wire protocol: envelope, status codes, credentials,
tokens, roles, Act-As and Impersonate-As."""

import base64

import pytest
import requests

from sandbox import ROOT_USER_ID, SYSTEM_COMPANY_ID


def post(sandbox, endpoint, body=None, *, auth="root", headers=None, method="POST", raw=None):
    if auth == "root":
        auth = (sandbox.key, sandbox.secret)
    kwargs = {"json": body} if raw is None else {"data": raw}
    if body is None and raw is None:
        kwargs = {}
    return requests.request(
        method, f"{sandbox.url}/{endpoint}", auth=auth, headers=headers or {}, timeout=10, **kwargs
    )


def tenant_with_admin(sandbox, name="Acme", email="alice@acme.io", role="admin"):
    company = sandbox.seed_company(name)
    user = sandbox.seed_user(company, email, role=role)
    return company, user, sandbox.seed_credentials(user)


def test_every_answer_is_the_envelope_with_the_status_mirrored(sandbox):
    ok = post(sandbox, "system.get_companies", {}, headers={"X-Clearml-Trx": "trx-42"})
    assert ok.status_code == 200
    assert ok.headers["Content-Type"] == "application/json"
    meta = ok.json()["meta"]
    assert set(meta) >= {
        "id",
        "trx",
        "endpoint",
        "result_code",
        "result_subcode",
        "result_msg",
        "error_stack",
    }
    assert meta["trx"] == "trx-42"
    assert meta["endpoint"]["name"] == "system.get_companies"
    assert set(meta["endpoint"]) == {"name", "requested_version", "actual_version"}
    assert (meta["result_code"], meta["result_subcode"], meta["result_msg"]) == (200, 0, "OK")
    bad = post(sandbox, "system.create_company", {})
    assert bad.status_code == bad.json()["meta"]["result_code"] == 400
    assert bad.json()["meta"]["result_msg"] == "missing required fields: missing=(name)"
    assert bad.json()["data"] == {}


def test_an_unknown_endpoint_is_a_404_envelope(sandbox):
    answer = post(sandbox, "tasks.teleport", {})
    assert answer.status_code == 404
    meta = answer.json()["meta"]
    assert meta["result_code"] == 404
    assert "tasks.teleport" in meta["result_msg"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_a_malformed_body_is_a_400(sandbox, raw):
    answer = post(sandbox, "system.create_company", raw=raw)
    assert answer.status_code == 400
    assert answer.json()["meta"]["result_subcode"] == 12
    assert "malformed JSON body" in answer.json()["meta"]["result_msg"]
    assert sandbox.companies() == []


def test_get_works_for_calls_without_a_body_and_a_version_prefix_is_accepted(sandbox):
    answer = post(sandbox, "v2.31/server.info", method="GET", auth=None)
    assert answer.status_code == 200
    assert answer.json()["meta"]["endpoint"]["requested_version"] == "2.31"
    listed = post(sandbox, "system.get_companies", method="GET").json()["data"]["companies"]
    assert [c["id"] for c in listed] == [SYSTEM_COMPANY_ID]


def test_server_info_needs_no_credentials_and_says_it_is_the_sandbox(sandbox):
    info = post(sandbox, "server.info", auth=None).json()["data"]
    assert info["sandbox"] is True
    assert info["version"].startswith("3.") and info["version"].endswith("-sandbox")
    assert set(info) >= {"version", "build", "commit", "uid", "api_version"}


@pytest.mark.parametrize(
    ("auth", "header", "subcode", "message"),
    [
        (None, None, 20, "missing credentials"),
        (("WRONGKEY", "wrong"), None, 22, "invalid credentials"),
        (None, "Basic not-base64!", 21, "malformed credentials"),
        (None, "Basic " + base64.b64encode(b"no-colon").decode(), 21, "malformed"),
        (None, "Bearer no-such-token", 30, "invalid token"),
        (None, "Digest abc", 10, "bad authentication header type"),
    ],
)
def test_bad_credentials_are_a_401(sandbox, auth, header, subcode, message):
    headers = {"Authorization": header} if header else {}
    answer = post(sandbox, "system.get_companies", {}, auth=auth, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["meta"]["result_subcode"] == subcode
    assert message in answer.json()["meta"]["result_msg"]


def test_the_right_key_with_a_wrong_secret_is_refused(sandbox):
    answer = post(sandbox, "system.get_companies", {}, auth=(sandbox.key, sandbox.secret + "x"))
    assert answer.status_code == 401


@pytest.mark.parametrize("role", ["admin", "user"])
@pytest.mark.parametrize(
    "endpoint",
    [
        "system.create_company",
        "system.get_companies",
        "system.update_company_settings",
        "system.update_company_sso_config",
    ],
)
def test_only_the_platform_administrator_may_call_system(sandbox, role, endpoint):
    _, _, creds = tenant_with_admin(sandbox, role=role)
    answer = post(sandbox, endpoint, {"name": "Evil"}, auth=creds)
    assert answer.status_code == 403
    assert answer.json()["meta"]["result_subcode"] == 20
    assert f"role={role}" in answer.json()["meta"]["result_msg"]
    assert [c["name"] for c in sandbox.companies()] == ["Acme"]


def test_a_plain_user_may_not_change_login_routing(sandbox):
    company, _, creds = tenant_with_admin(sandbox, role="user")
    answer = post(sandbox, "login.set_domains", {"domains": ["acme.io"]}, auth=creds)
    assert answer.status_code == 403
    assert sandbox.login_settings(company)["domains"] == []


def test_a_login_token_works_as_bearer_with_the_same_identity(sandbox):
    company, user, creds = tenant_with_admin(sandbox)
    token = post(sandbox, "auth.login", {}, auth=creds).json()["data"]["token"]
    answer = post(
        sandbox,
        "users.get_current_user",
        {},
        auth=None,
        headers={"Authorization": f"Bearer {token}"},
    )
    me = answer.json()["data"]["user"]
    assert (me["id"], me["role"], me["company"]["id"]) == (user, "admin", company)
    refused = post(
        sandbox, "system.get_companies", {}, auth=None, headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 403


def test_a_token_expires(sandbox):
    token = post(sandbox, "auth.login", {"expiration_sec": 1}).json()["data"]["token"]
    sandbox.app.state.tokens[token]["expires"] -= 2
    answer = post(
        sandbox, "system.get_companies", {}, auth=None, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 401


@pytest.mark.parametrize("prefix", ["X-Clearml", "X-Trains"])
def test_act_as_works_in_the_users_company_with_the_callers_role(sandbox, prefix):
    company, user, _ = tenant_with_admin(sandbox)
    headers = {f"{prefix}-Act-As": user}
    answer = post(sandbox, "login.set_domains", {"domains": ["acme.io"]}, headers=headers)
    assert answer.status_code == 200
    assert sandbox.login_settings(company)["domains"] == ["acme.io"]
    assert sandbox.login_settings(SYSTEM_COMPANY_ID)["domains"] == []
    me = post(sandbox, "users.get_current_user", {}, headers=headers).json()["data"]["user"]
    assert (me["id"], me["company"]["id"], me["role"]) == (user, company, "system")
    # The caller's own role still allows system calls while acting as a tenant admin.
    assert post(sandbox, "system.get_companies", {}, headers=headers).status_code == 200


@pytest.mark.parametrize("prefix", ["X-Clearml", "X-Trains"])
def test_impersonate_as_takes_the_users_identity_and_role(sandbox, prefix):
    company, user, _ = tenant_with_admin(sandbox)
    headers = {f"{prefix}-Impersonate-As": user}
    me = post(sandbox, "users.get_current_user", {}, headers=headers).json()["data"]["user"]
    assert (me["id"], me["company"]["id"], me["role"]) == (user, company, "admin")
    refused = post(sandbox, "system.get_companies", {}, headers=headers)
    assert refused.status_code == 403
    assert "role=admin" in refused.json()["meta"]["result_msg"]


def test_credentials_made_while_impersonating_belong_to_that_user(sandbox):
    company, user, _ = tenant_with_admin(sandbox)
    answer = post(sandbox, "auth.create_credentials", headers={"X-Clearml-Impersonate-As": user})
    new = answer.json()["data"]["credentials"]
    assert new["access_key"] in [c["access_key"] for c in sandbox.credentials(user)]
    assert new["access_key"] not in [c["access_key"] for c in sandbox.credentials(ROOT_USER_ID)]
    me = post(sandbox, "users.get_current_user", {}, auth=(new["access_key"], new["secret_key"]))
    assert me.json()["data"]["user"]["id"] == user


def test_both_headers_together_are_a_400(sandbox):
    _, user, _ = tenant_with_admin(sandbox)
    headers = {"X-Clearml-Act-As": user, "X-Clearml-Impersonate-As": user}
    answer = post(sandbox, "login.get_settings", {}, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["meta"]["result_subcode"] == 5
    assert "only one allowed" in answer.json()["meta"]["result_msg"]


@pytest.mark.parametrize("header", ["X-Clearml-Act-As", "X-Clearml-Impersonate-As"])
def test_an_unknown_user_to_act_as_is_a_400(sandbox, header):
    answer = post(sandbox, "login.get_settings", {}, headers={header: "no-such-user"})
    assert answer.status_code == 400
    assert answer.json()["meta"]["result_subcode"] == 6
    message = answer.json()["meta"]["result_msg"]
    assert message == "impersonation error (unknown user): id=no-such-user"


def test_a_tenant_admin_may_not_act_as_a_user_of_another_company(sandbox):
    _, _, acme_creds = tenant_with_admin(sandbox, "Acme", "alice@acme.io")
    _, globex_user, _ = tenant_with_admin(sandbox, "Globex", "hank@globex.com")
    answer = post(
        sandbox,
        "login.get_settings",
        {},
        auth=acme_creds,
        headers={"X-Clearml-Act-As": globex_user},
    )
    assert answer.status_code == 400
    assert "unknown user" in answer.json()["meta"]["result_msg"]


def test_a_plain_user_may_not_act_as_anyone(sandbox):
    company, _, creds = tenant_with_admin(sandbox, role="user")
    other = sandbox.seed_user(company, "bob@acme.io", role="user")
    answer = post(
        sandbox, "users.get_current_user", {}, auth=creds, headers={"X-Clearml-Act-As": other}
    )
    assert answer.status_code == 400
    assert "impersonation not allowed" in answer.json()["meta"]["result_msg"]


def test_keep_alive_connections_serve_many_calls(sandbox):
    with requests.Session() as session:
        session.auth = (sandbox.key, sandbox.secret)
        for index in range(20):
            answer = session.post(
                f"{sandbox.url}/system.create_company", json={"name": f"T{index}"}, timeout=10
            )
            assert answer.status_code == 200
    assert len(sandbox.companies()) == 20
