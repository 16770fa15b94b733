"""What each call of the sandbox does with the data, and what it refuses."""

import time

import pytest
import requests

from sandbox import MAX_BATCH, SYSTEM_COMPANY_ID, fingerprint


def call(sandbox, endpoint, body=None, *, auth=None, act_as=None, expect=200):
    headers = {"X-Clearml-Act-As": act_as} if act_as else {}
    answer = requests.post(
        f"{sandbox.url}/{endpoint}",
        json=body or {},
        headers=headers,
        auth=auth or (sandbox.key, sandbox.secret),
        timeout=10,
    )
    payload = answer.json()
    assert answer.status_code == expect, payload["meta"]["result_msg"]
    return payload["data"] if expect == 200 else payload["meta"]


def tenant(sandbox, name="Acme", email="alice@acme.io", **defaults):
    company = sandbox.seed_company(name, **defaults)
    return company, sandbox.seed_user(company, email)


# system.create_company / system.get_companies
def test_a_company_is_created_with_its_defaults(sandbox):
    body = {
        "name": " Acme ",
        "defaults": {
            "allowed_users": 3,
            "features": ["experiments"],
            "exclude_features": ["applications"],
        },
    }
    new = call(sandbox, "system.create_company", body)
    assert sandbox.companies() == [
        {
            "id": new["id"],
            "name": "Acme",
            "created": sandbox.company(new["id"])["created"],
            "defaults": {
                "allowed_users": 3,
                "features": ["experiments"],
                "exclude_features": ["applications"],
            },
        }
    ]


@pytest.mark.parametrize(
    ("defaults", "subcode", "reason"),
    [
        ({"allowed_users": 0}, 20, "defaults.allowed_users must be a positive integer"),
        ({"allowed_users": "ten"}, 20, "defaults.allowed_users must be a positive integer"),
        ({"allowed_users": True}, 20, "defaults.allowed_users must be a positive integer"),
        ({"features": "experiments"}, 20, "defaults.features must be a list of strings"),
        ({"features": ["ok", ""]}, 20, "defaults.features[1] must be a non-empty string"),
        ({"max_users": 3}, 14, "fields=(defaults.max_users)"),
    ],
)
def test_bad_company_defaults_are_refused(sandbox, defaults, subcode, reason):
    meta = call(
        sandbox, "system.create_company", {"name": "Acme", "defaults": defaults}, expect=400
    )
    assert meta["result_subcode"] == subcode
    assert reason in meta["result_msg"]
    assert sandbox.companies() == []


def test_company_names_may_repeat_unless_unique_names_are_configured(sandbox):
    call(sandbox, "system.create_company", {"name": "Acme"})
    call(sandbox, "system.create_company", {"name": "Acme"})
    sandbox.unique_company_names = True
    meta = call(sandbox, "system.create_company", {"name": "  aCME "}, expect=400)
    assert meta["result_msg"] == (
        "value combination already exists (a company with this name already exists): name=aCME"
    )
    assert [c["name"] for c in sandbox.companies()] == ["Acme", "Acme"]


def test_get_companies_filters_and_projects(sandbox):
    acme = call(sandbox, "system.create_company", {"name": "Acme"})["id"]
    globex = call(sandbox, "system.create_company", {"name": "Globex"})["id"]
    everything = call(sandbox, "system.get_companies")["companies"]
    assert [c["id"] for c in everything] == [SYSTEM_COMPANY_ID, acme, globex]
    assert (
        call(sandbox, "system.get_companies", {"id": [globex]})["companies"][0]["name"] == "Globex"
    )
    assert [
        c["id"] for c in call(sandbox, "system.get_companies", {"name": "ACME"})["companies"]
    ] == [acme]
    projected = call(sandbox, "system.get_companies", {"only_fields": ["name"]})["companies"]
    assert projected[1] == {"id": acme, "name": "Acme"}
    page = call(sandbox, "system.get_companies", {"page": 1, "page_size": 2})["companies"]
    assert [c["id"] for c in page] == [globex]


def test_listing_ten_thousand_companies_is_fast(sandbox):
    for index in range(10_000):
        sandbox.seed_company(f"Tenant {index}")
    started = time.monotonic()
    companies = call(sandbox, "system.get_companies")["companies"]
    elapsed = time.monotonic() - started
    assert len(companies) == 10_001
    assert elapsed < 1.5, f"listing took {elapsed:.2f}s"
    sandbox.unique_company_names = True
    started = time.monotonic()
    call(sandbox, "system.create_company", {"name": "tenant 9999"}, expect=400)
    assert time.monotonic() - started < 0.5


# system.update_company_settings
def test_update_company_settings_replaces_the_given_keys_only(sandbox):
    company = sandbox.seed_company(
        "Acme", features=["a", "b"], exclude_features=["x"], allowed_users=5
    )
    answer = call(
        sandbox,
        "system.update_company_settings",
        {"company": company, "features": ["c"], "allowed_users": None},
    )
    assert answer["updated"] == 1
    assert sandbox.company(company)["defaults"] == {"features": ["c"], "exclude_features": ["x"]}
    call(sandbox, "system.update_company_settings", {"company": company, "exclude_features": []})
    assert sandbox.company(company)["defaults"] == {"features": ["c"], "exclude_features": []}


@pytest.mark.parametrize(
    ("body", "status_reason"),
    [
        ({"company": "nope", "features": []}, "invalid object id (unknown company): company=nope"),
        ({"features": []}, "missing required fields: missing=(company)"),
        ({"company": "{acme}"}, "missing required fields"),
        ({"company": "{acme}", "allowed_users": -2}, "allowed_users must be a positive integer"),
        ({"company": "{acme}", "name": "Renamed"}, "fields=(name)"),
    ],
)
def test_bad_company_settings_are_refused(sandbox, body, status_reason):
    company = sandbox.seed_company("Acme", features=["a"])
    body = {k: (company if v == "{acme}" else v) for k, v in body.items()}
    meta = call(sandbox, "system.update_company_settings", body, expect=400)
    assert status_reason in meta["result_msg"]
    assert sandbox.company(company)["defaults"] == {"features": ["a"]}


# system.update_company_sso_config
SSO = {"tenant": "acme-ext", "group_mapping": {"IdP Admins": "admins"}, "admin_groups": ["Ops"]}


def test_sso_config_is_replaced_as_a_whole_and_an_empty_one_removes_it(sandbox):
    company = sandbox.seed_company("Acme")
    call(sandbox, "system.update_company_sso_config", {"company": company, "sso": SSO})
    assert sandbox.sso_config(company) == SSO
    call(
        sandbox,
        "system.update_company_sso_config",
        {"company": company, "sso": {"tenant": "acme-2"}},
    )
    assert sandbox.sso_config(company) == {
        "tenant": "acme-2",
        "group_mapping": {},
        "admin_groups": [],
    }
    listed = call(sandbox, "system.get_companies", {"id": company})["companies"][0]
    assert listed["sso"]["tenant"] == "acme-2"
    call(sandbox, "system.update_company_sso_config", {"company": company, "sso": {}})
    assert sandbox.sso_config(company) is None


def test_an_external_tenant_belongs_to_one_company_only(sandbox):
    acme, globex = sandbox.seed_company("Acme"), sandbox.seed_company("Globex")
    call(sandbox, "system.update_company_sso_config", {"company": acme, "sso": SSO})
    meta = call(
        sandbox,
        "system.update_company_sso_config",
        {"company": globex, "sso": {"tenant": "ACME-EXT"}},
        expect=400,
    )
    assert "already associated with another company" in meta["result_msg"]
    assert sandbox.sso_config(globex) is None
    # Once Acme lets it go, Globex may take it.
    call(sandbox, "system.update_company_sso_config", {"company": acme, "sso": {}})
    call(
        sandbox,
        "system.update_company_sso_config",
        {"company": globex, "sso": {"tenant": "acme-ext"}},
    )


@pytest.mark.parametrize(
    ("sso", "reason"),
    [
        ({"group_mapping": {}}, "missing required fields: missing=(tenant)"),
        ({"tenant": "t", "group_mapping": ["a"]}, "sso.group_mapping must map"),
        ({"tenant": "t", "group_mapping": {"a": ""}}, "sso.group_mapping must map"),
        ({"tenant": "t", "admin_groups": "Ops"}, "sso.admin_groups must be a list"),
        ({"tenant": "t", "admins": ["x"]}, "fields=(admins)"),
        ("acme", "sso must be an object"),
    ],
)
def test_bad_sso_configs_are_refused(sandbox, sso, reason):
    company = sandbox.seed_company("Acme")
    meta = call(
        sandbox, "system.update_company_sso_config", {"company": company, "sso": sso}, expect=400
    )
    assert reason in meta["result_msg"]


# sso.save_provider_configuration
def provider_body(company, config_id="acme-kc", client_secret=None):
    return {
        "provider": "keycloak",
        "company": company,
        "configuration": {
            "id": config_id,
            "display_name": "Acme SSO",
            "client_id": "clearml",
            "client_secret": client_secret or "s3cret",
            "logout_from_provider": True,
        },
    }


def test_a_provider_configuration_is_saved_per_company_and_id(sandbox):
    company = sandbox.seed_company("Acme")
    assert call(sandbox, "sso.save_provider_configuration", provider_body(company)) == {
        "id": "acme-kc",
        "updated": 0,
    }
    again = call(
        sandbox,
        "sso.save_provider_configuration",
        provider_body(company, client_secret="rotated-secret-42"),
    )
    assert again["updated"] == 1
    [saved] = sandbox.providers(company)
    assert saved["configuration"]["client_secret"] == fingerprint("rotated-secret-42")
    assert "rotated-secret-42" not in str(sandbox.state)
    assert "s3cret" not in str(sandbox.state)


def test_a_tenant_admin_may_save_its_own_provider_only(sandbox):
    acme, alice = tenant(sandbox)
    globex = sandbox.seed_company("Globex")
    creds = sandbox.seed_credentials(alice)
    body = provider_body(None)
    del body["company"]
    call(sandbox, "sso.save_provider_configuration", body, auth=creds)
    assert len(sandbox.providers(acme)) == 1
    meta = call(
        sandbox, "sso.save_provider_configuration", provider_body(globex), auth=creds, expect=400
    )
    assert meta["result_subcode"] == 13
    assert sandbox.providers(globex) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"provider": "myspace"}, "unknown provider"),
        ({"configuration": {"display_name": "x"}}, "missing required fields"),
        ({"configuration": "x"}, "configuration must be an object"),
        ({"company": "nope"}, "unknown company"),
    ],
)
def test_bad_provider_configurations_are_refused(sandbox, change, reason):
    company = sandbox.seed_company("Acme")
    meta = call(
        sandbox, "sso.save_provider_configuration", {**provider_body(company), **change}, expect=400
    )
    assert reason in meta["result_msg"]


# auth.create_user
def test_a_user_is_created_in_a_company(sandbox):
    company = sandbox.seed_company("Acme")
    body = {
        "name": "Alice Admin",
        "company": company,
        "email": "Alice@Acme.io",
        "role": "admin",
        "internal": "true",
        "given_name": "Alice",
        "family_name": "Admin",
    }
    new = call(sandbox, "auth.create_user", body)
    user = sandbox.user_by_email("alice@acme.io")
    assert user["id"] == new["id"]
    assert (user["name"], user["role"], user["internal"], user["given_name"]) == (
        "Alice Admin",
        "admin",
        True,
        "Alice",
    )


@pytest.mark.parametrize(
    ("change", "subcode", "reason"),
    [
        ({"email": "ALICE@acme.io "}, 801, "a user with this email already exists"),
        ({"email": "not-an-email"}, 22, "malformed email address: email=not-an-email"),
        ({"company": "nope"}, 10, "unknown company"),
        ({"role": "root"}, 16, "role=root"),
        ({"internal": "maybe"}, 20, "internal must be a boolean"),
        ({"email": None}, 11, "missing=(email)"),
        ({"password": "x"}, 14, "fields=(password)"),
    ],
)
def test_bad_users_are_refused(sandbox, change, subcode, reason):
    company, _ = tenant(sandbox)
    body = {"name": "Bob", "company": company, "email": "bob@acme.io", **change}
    meta = call(
        sandbox, "auth.create_user", {k: v for k, v in body.items() if v is not None}, expect=400
    )
    assert meta["result_subcode"] == subcode
    assert reason in meta["result_msg"]
    assert [u["email"] for u in sandbox.users(company)] == ["alice@acme.io"]


def test_a_company_cannot_have_more_users_than_allowed(sandbox):
    company, _ = tenant(sandbox, allowed_users=2)
    call(sandbox, "auth.create_user", {"name": "Bob", "company": company, "email": "b@acme.io"})
    meta = call(
        sandbox,
        "auth.create_user",
        {"name": "Carol", "company": company, "email": "c@acme.io"},
        expect=400,
    )
    assert "allowed_users limit" in meta["result_msg"]


def test_a_tenant_admin_creates_users_in_its_own_company_only(sandbox):
    acme, alice = tenant(sandbox)
    globex = sandbox.seed_company("Globex")
    creds = sandbox.seed_credentials(alice)
    call(
        sandbox,
        "auth.create_user",
        {"name": "Bob", "company": acme, "email": "bob@acme.io"},
        auth=creds,
    )
    meta = call(
        sandbox,
        "auth.create_user",
        {"name": "Eve", "company": globex, "email": "eve@globex.com"},
        auth=creds,
        expect=400,
    )
    assert meta["result_subcode"] == 13
    assert sandbox.users(globex) == []


# auth.*_credentials
def test_credentials_are_listed_without_secrets_and_can_be_revoked(sandbox):
    _, alice = tenant(sandbox)
    key, secret = sandbox.seed_credentials(alice)
    made = call(sandbox, "auth.create_credentials", {"label": "agent"}, auth=(key, secret))
    assert made["credentials"]["label"] == "agent"
    listed = call(sandbox, "auth.get_credentials", auth=(key, secret))["credentials"]
    assert [c["access_key"] for c in listed] == [key, made["credentials"]["access_key"]]
    assert all("secret_key" not in c and "secret" not in c for c in listed)
    assert listed[0]["last_used"] is not None
    new_auth = (made["credentials"]["access_key"], made["credentials"]["secret_key"])
    assert call(sandbox, "auth.revoke_credentials", {"access_key": key}, auth=new_auth) == {
        "revoked": 1
    }
    call(sandbox, "auth.get_credentials", auth=(key, secret), expect=401)
    # Another user's key is not yours to revoke.
    assert call(sandbox, "auth.revoke_credentials", {"access_key": sandbox.key}, auth=new_auth) == {
        "revoked": 0
    }


def test_a_new_key_and_secret_look_like_the_servers(sandbox):
    made = call(sandbox, "auth.create_credentials")["credentials"]
    assert len(made["access_key"]) == 30 and made["access_key"].isalnum()
    assert made["access_key"] == made["access_key"].upper()
    assert 50 <= len(made["secret_key"]) <= 60 and made["secret_key"][0] not in "-_"
    assert made["secret_key"] not in str(sandbox.state)


# users.get_all
def test_users_are_found_by_email_company_and_id(sandbox):
    acme, alice = tenant(sandbox)
    globex, hank = tenant(sandbox, "Globex", "hank@globex.com")
    by_email = call(sandbox, "users.get_all", {"email": "ALICE@acme.io", "company": acme})
    assert [u["id"] for u in by_email["users"]] == [alice]
    both = call(sandbox, "users.get_all", {"company": [acme, globex]})["users"]
    assert {u["id"] for u in both} == {alice, hank}
    # Without `company`: the caller's company (here the platform's own).
    own = call(sandbox, "users.get_all")["users"]
    assert {u["company"] for u in own} == {SYSTEM_COMPANY_ID}
    # Acting as Hank: Globex's users.
    acted = call(sandbox, "users.get_all", {"only_fields": ["email"]}, act_as=hank)["users"]
    assert acted == [{"id": hank, "email": "hank@globex.com"}]
    assert (
        call(sandbox, "users.get_all", {"id": [alice], "company": acme})["users"][0]["role"]
        == "admin"
    )


def test_a_tenant_admin_lists_only_its_own_company(sandbox):
    acme, alice = tenant(sandbox)
    globex, _ = tenant(sandbox, "Globex", "hank@globex.com")
    creds = sandbox.seed_credentials(alice)
    assert [u["id"] for u in call(sandbox, "users.get_all", auth=creds)["users"]] == [alice]
    meta = call(sandbox, "users.get_all", {"company": globex}, auth=creds, expect=400)
    assert meta["result_subcode"] == 13


# login.*
def test_set_domains_replaces_the_whole_list(sandbox):
    acme, alice = tenant(sandbox)
    call(
        sandbox, "login.set_domains", {"domains": ["acme.io", "Acme.COM", "acme.io"]}, act_as=alice
    )
    assert sandbox.login_settings(acme)["domains"] == ["acme.io", "acme.com"]
    call(sandbox, "login.set_domains", {"domains": ["acme.org"]}, act_as=alice)
    assert sandbox.login_settings(acme)["domains"] == ["acme.org"]
    call(sandbox, "login.set_domains", {"domains": []}, act_as=alice)
    assert sandbox.login_settings(acme)["domains"] == []


@pytest.mark.parametrize(
    "domain",
    [
        "@acme.io",
        "acme",
        "*.acme.io",
        "http://acme.io",
        "acme..io",
        "-acme.io",
        "acme.io/x",
        "a b.io",
        "acme.123",
    ],
)
def test_malformed_domains_are_refused(sandbox, domain):
    acme, alice = tenant(sandbox)
    sandbox.seed_login(acme, domains=["old.io"])
    meta = call(
        sandbox, "login.set_domains", {"domains": ["good.io", domain]}, act_as=alice, expect=400
    )
    assert meta["result_subcode"] == 23
    assert meta["result_msg"] == f"malformed domain name: domain={domain}"
    assert sandbox.login_settings(acme)["domains"] == ["old.io"]


def test_whitelist_entries_are_added_updated_and_removed(sandbox):
    acme, alice = tenant(sandbox)
    added = call(
        sandbox,
        "login.add_whitelist_entries",
        {"emails": ["Bob@Gmail.com", "carol@partner.com"], "is_admin": False},
        act_as=alice,
    )
    assert added == {"added": 2, "updated": 0}
    again = call(
        sandbox,
        "login.add_whitelist_entries",
        {"emails": ["carol@partner.com"], "is_admin": True},
        act_as=alice,
    )
    assert again == {"added": 0, "updated": 1}
    settings = call(sandbox, "login.get_settings", act_as=alice)
    assert settings == {
        "domains": [],
        "whitelist": [
            {"email": "bob@gmail.com", "is_admin": False},
            {"email": "carol@partner.com", "is_admin": True},
        ],
    }
    removed = call(
        sandbox,
        "login.remove_whitelist_entries",
        {"emails": ["BOB@gmail.com", "nobody@x.io"]},
        act_as=alice,
    )
    assert removed == {"removed": 1}
    assert sandbox.login_settings(acme)["whitelist"] == [
        {"email": "carol@partner.com", "is_admin": True}
    ]


@pytest.mark.parametrize(
    "endpoint", ["login.add_whitelist_entries", "login.remove_whitelist_entries"]
)
def test_at_most_500_emails_go_in_one_call(sandbox, endpoint):
    acme, alice = tenant(sandbox)
    emails = [f"user{i}@acme.io" for i in range(MAX_BATCH + 1)]
    call(sandbox, "login.add_whitelist_entries", {"emails": emails[:MAX_BATCH]}, act_as=alice)
    meta = call(sandbox, endpoint, {"emails": emails}, act_as=alice, expect=400)
    assert meta["result_msg"] == (
        f"validation error (too many emails: {MAX_BATCH + 1} in one call, at most {MAX_BATCH}): "
        f"count={MAX_BATCH + 1}, limit={MAX_BATCH}"
    )
    assert len(sandbox.login_settings(acme)["whitelist"]) == MAX_BATCH


def test_at_most_500_domains_go_in_one_call(sandbox):
    _, alice = tenant(sandbox)
    domains = [f"d{i}.acme.io" for i in range(MAX_BATCH + 1)]
    call(sandbox, "login.set_domains", {"domains": domains[:MAX_BATCH]}, act_as=alice)
    meta = call(sandbox, "login.set_domains", {"domains": domains}, act_as=alice, expect=400)
    assert "too many domains" in meta["result_msg"]


@pytest.mark.parametrize(
    ("body", "subcode", "reason"),
    [
        ({"emails": ["bob@gmail.com", "not an email"]}, 22, "malformed email address"),
        ({"emails": []}, 17, "batch request contains no items: field=emails"),
        ({"emails": "bob@gmail.com"}, 20, "emails must be a list of strings"),
        ({}, 11, "missing=(emails)"),
        ({"emails": ["bob@gmail.com"], "is_admin": "yes"}, 20, "is_admin must be a boolean"),
    ],
)
def test_bad_whitelist_entries_change_nothing(sandbox, body, subcode, reason):
    acme, alice = tenant(sandbox)
    meta = call(sandbox, "login.add_whitelist_entries", body, act_as=alice, expect=400)
    assert meta["result_subcode"] == subcode
    assert reason in meta["result_msg"]
    assert sandbox.login_settings(acme)["whitelist"] == []


def test_login_settings_of_one_company_do_not_leak_into_another(sandbox):
    acme, alice = tenant(sandbox)
    globex, hank = tenant(sandbox, "Globex", "hank@globex.com")
    call(sandbox, "login.set_domains", {"domains": ["acme.io"]}, act_as=alice)
    assert call(sandbox, "login.get_settings", act_as=hank) == {"domains": [], "whitelist": []}
    assert sandbox.login_settings(globex) == {"domains": [], "whitelist": []}
