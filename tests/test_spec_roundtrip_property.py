"""Property: a valid SPEC applied to an empty console comes back from `export_spec` as written.

`export(apply(spec)) == normalize(spec)`, where `normalize` is exactly the normalisations
docs/spec.md lists under "Round trip" and nothing else. Hypothesis generates small valid SPECs
covering every kind of key (tenants with limits, features, admins, routing and SSO; groups;
built-in groups; organization; identity providers built from the catalog, so every field type;
multi-tenant login), applies each with `manage.py apply` against the real sandbox apiserver and
the real database, and reads it back with `manage.py export_spec`.

Each example starts from an empty console and an empty sandbox (the test is transactional; every
example empties the database's tables and resets the sandbox), and also checks that applying the
export changes nothing. By default 25 SPECs, plus 5 per identity provider of the catalog (the
SPECs pick a few providers at most, this makes sure every provider and field type runs every
time), so `make test` stays fast; `HYPOTHESIS_PROFILE=long` runs 300 and 60 per provider:

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_spec_roundtrip_property.py

A failure prints the SPEC (YAML), what was expected and what came back, and a diff.
"""

import copy
import difflib
import io
import json
import os
import string
import uuid
from pathlib import Path

import pytest
import yaml
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection
from hypothesis import HealthCheck, Phase, currently_in_test_context, given, note, settings
from hypothesis import strategies as st

from console.audit.models import AuditEntry
from console.identifiers import normalize_domain, normalize_email
from sso.providers import catalog
from sso.routing.validation import public_mail_domain
from sso.snippets import secret_env_name
from tenants.features import FEATURE_NAMES, UI_FEATURE_NAMES, UI_ROLES
from tenants.groups.models import BUILTIN_GROUPS
from tenants.groups.settings import GROUP_ID_NAMESPACE

pytestmark = pytest.mark.django_db(transaction=True)

settings.register_profile(
    "spec-roundtrip",
    max_examples=25,
    deadline=None,  # an example makes real HTTP calls and database writes
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # no .hypothesis/ files; a failure prints its reproduction blob
    print_blob=True,
    # Shrinking gives the smallest failing SPEC; the "explain" phase would add a minute.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
settings.register_profile(
    "spec-roundtrip-long", parent=settings.get_profile("spec-roundtrip"), max_examples=300
)
PROFILE = settings.get_profile(
    "spec-roundtrip-long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "spec-roundtrip"
)

# --- generators ---------------------------------------------------------------------------------

LETTERS = string.ascii_letters + string.digits
# Inside a value: spaces, punctuation the HOCON encoding must quote, a non-ASCII letter.
INNER = LETTERS + " -_.@#$:/=()'\"é"


def _fold_name(name: str) -> str:
    return " ".join(name.split()).casefold()


def text(min_size: int = 1, max_size: int = 12):
    """Text as written in a SPEC: no white space at either end (those are refused, see
    tests/test_spec_trims.py), inner spaces and punctuation allowed."""
    return (
        st.text(INNER, min_size=min_size, max_size=max_size)
        .filter(lambda t: t == t.strip() and t.strip())
        .filter(lambda t: not t.startswith("env:"))
    )


def spaced(strategy):
    """A value the console normalises as documented: maybe white space around it."""
    return st.tuples(st.sampled_from(["", " ", "  "]), strategy, st.sampled_from(["", " "])).map(
        "".join
    )


def cased(strategy):
    return st.tuples(strategy, st.sampled_from([str.lower, str.upper, str.title])).map(
        lambda pair: pair[1](pair[0])
    )


tenant_names = st.from_regex(
    r"[A-Za-z][A-Za-z0-9&.-]{0,6}( {1,2}[A-Za-z0-9]{1,6}){0,2}", fullmatch=True
)
labels = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
domains = st.tuples(
    st.one_of(labels, st.just("bücher"), st.just("gmail")),
    st.sampled_from(["io", "com", "example", "co.uk"]),
).map(".".join)
locals_ = st.from_regex(r"[a-z0-9]{1,6}([.+][a-z0-9]{1,4})?", fullmatch=True)
features_list = st.lists(st.sampled_from(FEATURE_NAMES), unique=True, max_size=4)
env_refs = st.from_regex(r"[A-Z][A-Z0-9_]{0,10}", fullmatch=True).map(lambda n: f"env:{n}")
hosts = st.from_regex(r"[a-z]{1,8}\.(example|lab\.internal|io)", fullmatch=True)
paths = st.lists(st.from_regex(r"[a-z0-9_.-]{1,8}", fullmatch=True), min_size=1, max_size=3)


@st.composite
def urls(draw, allow_http: bool):
    scheme = draw(st.sampled_from(["https", "http"] if allow_http else ["https"]))
    port = draw(st.sampled_from(["", ":8443"]))
    path = "/".join(draw(paths)) + draw(st.sampled_from(["", "/"]))
    return f"{scheme}://{draw(hosts)}{port}/{path}"


@st.composite
def field_value(draw, provider, f, tenants: list[str], allow_http: bool):
    if f.type == catalog.BOOL:
        return draw(st.booleans())
    if f.type == catalog.URL:
        return draw(urls(allow_http))
    if f.type == catalog.CHOICE:
        return draw(st.sampled_from(f.choices))
    if f.type == catalog.PATH:
        return "/" + "/".join(draw(paths))
    if f.type == catalog.LIST:
        return draw(st.lists(text(), min_size=1, max_size=3, unique=True))
    if f.type == catalog.MAP:
        keys = st.from_regex(r"[A-Za-z][a-z0-9]{0,5}(_[a-z0-9]{1,3})?", fullmatch=True)
        return draw(
            st.dictionaries(keys, text(), min_size=1, max_size=3).filter(
                lambda m: len({k.lower() for k in m}) == len(m)
            )
        )
    if f.type == catalog.SECRET:
        return draw(st.one_of(env_refs, text(4, 12)))
    if f.type == catalog.COMPANY:
        choices = [st.from_regex(r"[a-f0-9]{8,16}", fullmatch=True)]
        if tenants:
            prefix = st.sampled_from(["tenant:", "TENANT:", "Tenant:"])
            name = st.sampled_from(tenants).flatmap(lambda n: st.sampled_from([n, n.upper()]))
            choices.append(st.tuples(prefix, name).map("".join))
        return draw(st.one_of(*choices))
    # STR
    if provider.key == "ldap" and f.key == "server":
        return draw(st.sampled_from(["ldaps://", ""])) + draw(hosts)
    options = [text()]
    if f.env_ok:
        options.append(env_refs)
    if f.allow_empty:
        options.append(st.just(""))
    return draw(st.one_of(*options))


def _nest(flat: dict) -> dict:
    out: dict = {}
    for key, value in flat.items():
        node = out
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


@st.composite
def identity_provider(draw, key: str, tenants: list[str]):
    provider = catalog.PROVIDERS[key]
    allow_http = provider.has_plain_option and draw(st.booleans())
    flat = {}
    for f in provider.fields:
        if f.required or draw(st.booleans()):
            flat[f.key] = draw(field_value(provider, f, tenants, allow_http))
    entry = {"provider": key, **_nest(flat)}
    if allow_http or (provider.has_plain_option and draw(st.booleans())):
        entry["allow_http"] = allow_http
    return entry


def maybe(draw, strategy, *, empty=None):
    """Left out, the strategy's value, or (when given) an explicitly empty value."""
    choices = ["out", "value"] + (["empty"] if empty is not None else [])
    kind = draw(st.sampled_from(choices))
    if kind == "out":
        return None
    return copy.deepcopy(empty) if kind == "empty" else draw(strategy)


@st.composite
def specs(draw):
    used_emails: set[str] = set()
    used_domains: set[str] = set()

    def fresh_email():
        email = draw(
            st.tuples(locals_, domains)
            .map("@".join)
            .filter(lambda e: normalize_email(e) not in used_emails)
        )
        used_emails.add(normalize_email(email))
        return draw(spaced(cased(st.just(email))))

    def fresh_domain():
        domain = draw(domains.filter(lambda d: normalize_domain(d) not in used_domains))
        used_domains.add(normalize_domain(domain))
        return draw(spaced(cased(st.just(domain + draw(st.sampled_from(["", "."]))))))

    spec: dict = {"version": 1}
    names = draw(st.lists(tenant_names, max_size=3, unique_by=_fold_name))
    externals: set[str] = set()
    tenants = []
    for name in names:
        tenant: dict = {"name": draw(spaced(st.just(name)))}
        added = maybe(draw, features_list, empty=[])
        if added is not None:
            tenant["features"] = added
        rest = [f for f in FEATURE_NAMES if f not in (added or [])]
        excluded = maybe(draw, st.lists(st.sampled_from(rest), unique=True, max_size=3), empty=[])
        if excluded is not None:
            tenant["exclude_features"] = excluded
        admins = []
        for _ in range(draw(st.integers(0, 2))):
            admin = {"name": draw(spaced(text(1, 20))), "email": fresh_email()}
            internal = maybe(draw, st.booleans())
            if internal is not None:
                admin["internal"] = internal
            admins.append(admin)
        if admins or draw(st.booleans()):
            tenant["admins"] = admins
        # The server refuses an admin beyond the limit (the SPEC check does not compare them).
        allowed = maybe(draw, st.integers(max(1, len(admins)), 1_000_000))
        if allowed is not None:
            tenant["allowed_users"] = allowed
        if admins and draw(st.booleans()):  # login.* calls act as the tenant's first admin
            # Routing lists in the order drawn (not sorted), each key once: they come back so.
            login: dict = {}
            if draw(st.booleans()):
                login["domains"] = [fresh_domain() for _ in range(draw(st.integers(0, 3)))]
                # a public mail domain (gmail.com, ...) is routed only when confirmed
                public = [d for d in login["domains"] if public_mail_domain(d)]
                if public:
                    login["allow_public_mail_domains"] = public
            whitelist = {}
            for role in ("admins", "users"):
                if draw(st.booleans()):
                    whitelist[role] = [fresh_email() for _ in range(draw(st.integers(0, 3)))]
            if whitelist or draw(st.booleans()):
                login["whitelist"] = whitelist
            tenant["login"] = login
        if draw(st.booleans()):
            external = draw(
                st.from_regex(r"[a-z0-9][a-z0-9._-]{0,10}", fullmatch=True).filter(
                    lambda e: e.casefold() not in externals
                )
            )
            externals.add(external.casefold())
            sso: dict = {"tenant": draw(spaced(st.just(external)))}
            idp_groups = spaced(text())
            mapping = maybe(
                draw,
                st.dictionaries(idp_groups, idp_groups, max_size=2).filter(
                    lambda m: len({k.strip() for k in m}) == len(m)
                ),
                empty={},
            )
            if mapping is not None:
                sso["group_mapping"] = mapping
            admin_groups = maybe(
                draw, st.lists(idp_groups, unique_by=str.strip, max_size=2), empty=[]
            )
            if admin_groups is not None:
                sso["admin_groups"] = admin_groups
            tenant["sso"] = sso
        tenants.append(tenant)
    if tenants or draw(st.booleans()):
        spec["tenants"] = tenants

    if draw(st.booleans()):
        group_names = draw(
            st.lists(
                st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,6}(_[A-Za-z0-9]{1,4})?", fullmatch=True),
                max_size=3,
                unique_by=str.lower,
            ).map(lambda ns: [n for n in ns if n.lower() not in BUILTIN_GROUPS])
        )
        groups = []
        for group_name in group_names:
            group: dict = {"name": group_name}
            display = maybe(draw, text(1, 20), empty="")
            if display is not None:
                group["display_name"] = display
            if draw(st.booleans()):
                group["id"] = draw(cased(st.uuids().map(str)))
            group_features = maybe(draw, features_list, empty=[])
            if group_features is not None:
                group["features"] = group_features
            for key in ("assignable", "system"):
                value = maybe(draw, st.booleans() if key == "assignable" else st.just(False))
                if value is not None:
                    group[key] = value
            groups.append(group)
        spec["groups"] = groups

    if draw(st.booleans()):
        spec["builtin_groups"] = draw(
            st.dictionaries(
                st.sampled_from(BUILTIN_GROUPS), st.one_of(st.none(), features_list), max_size=3
            )
        )

    if draw(st.booleans()):
        organization: dict = {}
        org_features = maybe(draw, features_list, empty=[])
        if org_features is not None:
            organization["features"] = org_features
        unique_names = maybe(draw, st.booleans())
        if unique_names is not None:
            organization["unique_company_names"] = unique_names
        per_role = maybe(
            draw,
            st.dictionaries(
                st.sampled_from(UI_ROLES),
                st.dictionaries(st.sampled_from(UI_FEATURE_NAMES), st.booleans(), max_size=2),
                max_size=2,
            ),
            empty={},
        )
        if per_role is not None:
            organization["ui_features_per_role"] = per_role
        spec["organization"] = organization

    if draw(st.booleans()):
        keys = draw(st.lists(st.sampled_from(list(catalog.PROVIDERS)), unique=True, max_size=2))
        spec["identity_providers"] = [draw(identity_provider(k, names)) for k in keys]

    if draw(st.booleans()):
        mtl = {"enabled": draw(st.booleans())}
        for key in ("allow_settings_providers", "only_password_login"):
            value = maybe(draw, st.booleans())
            if value is not None:
                mtl[key] = value
        spec["multi_tenant_login"] = mtl
    return spec


# --- the documented normalisations (docs/spec.md, "Round trip") ---------------------------------


def _without_empty(mapping: dict) -> dict:
    """Keys whose value is an empty list or mapping, or null, are what leaving them out means."""
    return {k: v for k, v in mapping.items() if v not in ([], {}, None)}


def _secret(value: str, *parts: str) -> str:
    return value if value.startswith("env:") else f"env:{secret_env_name(*parts)}"


def _normalize_tenant(tenant: dict) -> dict:
    out = dict(tenant)
    out["name"] = " ".join(tenant["name"].split())
    admins = []
    for admin in tenant.get("admins") or []:
        item = {"name": admin["name"].strip(), "email": normalize_email(admin["email"])}
        if admin.get("internal") is False:
            item["internal"] = False
        admins.append(item)
    out["admins"] = admins
    login = tenant.get("login")
    if login is not None:
        whitelist = login.get("whitelist") or {}
        # Routing lists keep their order; the confirmed public domains follow `domains`' order.
        domains = [normalize_domain(d) for d in login.get("domains") or []]
        allowed = {normalize_domain(d) for d in login.get("allow_public_mail_domains") or []}
        out["login"] = _without_empty(
            {
                "domains": domains,
                "allow_public_mail_domains": [d for d in domains if d in allowed],
                "whitelist": _without_empty(
                    {
                        role: [normalize_email(e) for e in whitelist.get(role) or []]
                        for role in ("admins", "users")
                    }
                ),
            }
        )
    sso = tenant.get("sso")
    if sso is not None:
        sso = copy.deepcopy(sso)
        sso["tenant"] = sso["tenant"].strip()
        if "group_mapping" in sso:
            sso["group_mapping"] = {k.strip(): v.strip() for k, v in sso["group_mapping"].items()}
        if "admin_groups" in sso:
            sso["admin_groups"] = [name.strip() for name in sso["admin_groups"]]
        if sso.get("provider") == "keycloak":
            del sso["provider"]
        if sso.get("allow_http") is False:
            del sso["allow_http"]
        conf = sso.get("configuration") or {}
        if "client_secret" in conf:
            conf["client_secret"] = _secret(
                conf["client_secret"], "SSO", out["name"], "CLIENT_SECRET"
            )
        out["sso"] = _without_empty(sso)
    return _without_empty(out)


def _derived_id(name: str) -> str:
    return str(uuid.uuid5(GROUP_ID_NAMESPACE, name.lower()))


def _normalize_group(group: dict) -> dict:
    out = {k: v for k, v in group.items() if k != "system"}
    if out.get("display_name") == "":
        del out["display_name"]
    if "id" in out:
        out["id"] = out["id"].lower()
        if out["id"] == _derived_id(group["name"]):
            del out["id"]
    if out.get("assignable") is False:
        del out["assignable"]
    return _without_empty(out)


def _normalize_provider(entry: dict) -> dict:
    provider = catalog.PROVIDERS[entry["provider"]]
    out = copy.deepcopy(entry)
    if out.get("allow_http") is False:
        del out["allow_http"]
    for f in provider.fields:
        *parents, last = f.key.split(".")
        node = out
        for part in parents:
            node = node.get(part, {})
        if last not in node:
            continue
        if f.is_secret:
            node[last] = _secret(node[last], provider.key, f.key)
        elif f.type == catalog.MAP:
            node[last] = {k.lower(): v for k, v in node[last].items()}
        elif f.allow_empty and node[last] is None:
            node[last] = ""
        elif f.type == catalog.COMPANY and node[last].lower().startswith("tenant:"):
            node[last] = "tenant:" + node[last][len("tenant:") :]
    return out


def normalize(spec: dict) -> dict:
    """The SPEC as export_spec writes it back: exactly the normalisations docs/spec.md lists."""
    out: dict = {"version": spec["version"]}
    tenants = [_normalize_tenant(t) for t in spec.get("tenants") or []]
    if tenants:
        out["tenants"] = tenants
    groups = [_normalize_group(g) for g in spec.get("groups") or []]
    if groups:
        out["groups"] = groups
    # `[]` is a value here (the group grants no feature); only null means "not set".
    builtin = {k: v for k, v in (spec.get("builtin_groups") or {}).items() if v is not None}
    if builtin:
        out["builtin_groups"] = builtin
    organization = dict(spec.get("organization") or {})
    if "ui_features_per_role" in organization:
        organization["ui_features_per_role"] = _without_empty(organization["ui_features_per_role"])
    if organization.get("unique_company_names") is None:
        organization.pop("unique_company_names", None)
    organization = _without_empty(organization)
    if organization:
        out["organization"] = organization
    providers = [_normalize_provider(p) for p in spec.get("identity_providers") or []]
    if providers:
        out["identity_providers"] = providers
    mtl = spec.get("multi_tenant_login")
    if mtl is not None:
        out["multi_tenant_login"] = {k: v for k, v in mtl.items() if k == "enabled" or v}
    return out


# --- the property -------------------------------------------------------------------------------


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _fresh_console(sandbox) -> None:
    """An empty console and an empty apiserver for the next example.

    What `manage.py flush` does, for the tables that hold rows only (on PostgreSQL emptying
    every table costs a quarter of a second, more than an example's own work)."""
    sandbox.reset()
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    quote = connection.ops.quote_name
    # Table names from the database's own introspection, quoted: no input reaches the SQL.
    query = " UNION ALL ".join(
        f"SELECT %s WHERE EXISTS (SELECT 1 FROM {quote(table)})"  # noqa: S608
        for table in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(query, tables)
        filled = [table for (table,) in cursor.fetchall()]
    if filled:
        sql = connection.ops.sql_flush(no_style(), filled, allow_cascade=True)
        connection.ops.execute_sql_flush(sql)  # in one transaction, as `flush` does
    cache.clear()


def _check_round_trip(spec: dict, tmp_path, sandbox) -> None:
    _fresh_console(sandbox)
    text_in = _dump(spec)
    if currently_in_test_context():
        note(f"SPEC:\n{text_in}")
    path = tmp_path / "spec.yaml"
    path.write_text(text_in, encoding="utf-8")
    _run("apply", str(path), "--yes")
    text_out = _run("export_spec")
    exported = yaml.safe_load(text_out)
    expected = normalize(spec)
    diff = "\n".join(
        difflib.unified_diff(
            _dump(expected).splitlines(),
            _dump(exported).splitlines(),
            "normalize(SPEC)",
            "export_spec",
            lineterm="",
        )
    )
    assert exported == expected, f"export_spec differs from normalize(SPEC):\n{diff}"
    # And the export says the same thing: applying it changes nothing (docs/spec-partial.md;
    # apply, not plan: plan lists a tenant SSO push with a secret, which it does not read).
    path.write_text(text_out, encoding="utf-8")
    shown = _run("apply", str(path), "--yes")
    assert shown.startswith("Nothing to do") and "Kept" not in shown, shown


@given(spec=specs())
@settings(PROFILE)
def test_export_of_an_applied_spec_is_the_spec(spec, tmp_path, sandbox, sandbox_settings):
    _check_round_trip(spec, tmp_path, sandbox)


@st.composite
def provider_specs(draw, key: str):
    """One provider with a tenant its default company may name: every provider and field type
    is exercised on every run (the SPECs above pick only a few providers)."""
    name = draw(tenant_names)
    return {
        "version": 1,
        "tenants": [{"name": name}],
        "identity_providers": [draw(identity_provider(key, [name]))],
    }


@pytest.mark.parametrize("key", list(catalog.PROVIDERS))
@given(data=st.data())
@settings(PROFILE, max_examples=max(5, PROFILE.max_examples // 5))
def test_every_provider_comes_back_as_written(key, data, tmp_path, sandbox, sandbox_settings):
    _check_round_trip(data.draw(provider_specs(key), label="spec"), tmp_path, sandbox)


def test_the_complete_example_of_the_docs_comes_back_as_written(
    tmp_path, sandbox, sandbox_settings, monkeypatch
):
    """docs/spec.md's complete example (every key the SPEC accepts) round trips too."""
    docs = (Path(__file__).resolve().parent.parent / "docs" / "spec.md").read_text()
    example = yaml.safe_load(docs.split("```yaml\n", 1)[1].split("```", 1)[0])
    monkeypatch.setenv("ACME_SSO_SECRET", "acme-sso-secret-value")
    _check_round_trip(example, tmp_path, sandbox)


# --- the order of a tenant's routing lists ------------------------------------------------------

ORDERED = {
    "version": 1,
    "tenants": [
        {
            "name": "Acme",
            "admins": [{"name": "Ann", "email": "ann@acme.io"}],
            "login": {
                "domains": ["b.example", "a.example", "c.example"],
                "whitelist": {
                    "admins": ["zed@partner.io", "amy@partner.io"],
                    "users": ["mo@guest.io", "al@guest.io", "ke@guest.io"],
                },
            },
        }
    ],
}


def test_routing_lists_come_back_in_the_order_written(tmp_path, sandbox, sandbox_settings):
    _check_round_trip(ORDERED, tmp_path, sandbox)
    exported = yaml.safe_load(_run("export_spec"))
    assert exported["tenants"][0]["login"]["domains"] == ["b.example", "a.example", "c.example"]


def test_a_new_order_is_planned_as_a_change_and_applied(tmp_path, sandbox, sandbox_settings):
    _check_round_trip(ORDERED, tmp_path, sandbox)
    spec = copy.deepcopy(ORDERED)
    login = spec["tenants"][0]["login"]
    login["domains"] = ["c.example", "b.example", "a.example"]
    login["whitelist"]["users"] = ["al@guest.io", "mo@guest.io", "ke@guest.io"]
    path = tmp_path / "reordered.yaml"
    path.write_text(_dump(spec), encoding="utf-8")

    shown = _run("plan", str(path))
    assert 'Tenant "Acme" (tenants[0]): update' in shown
    assert (
        "console: new order of login.domains: b.example, a.example, c.example → "
        "c.example, b.example, a.example"
    ) in shown
    assert "new order of login.whitelist.users" in shown
    assert "new order of login.whitelist.admins" not in shown
    # The server's routing is the same set: a reorder alone sends no call.
    assert "login.set_domains" not in shown and "0 changing call(s)" in shown
    steps = json.loads(_run("plan", str(path), "--json"))["steps"]
    [domains] = [s for s in steps if "login.domains" in (s["after"] or {})]
    assert domains["kind"] == "console.tenant"
    assert domains["before"] == {"login.domains": ["b.example", "a.example", "c.example"]}
    assert domains["after"] == {"login.domains": ["c.example", "b.example", "a.example"]}

    _run("apply", str(path), "--yes")
    login_out = yaml.safe_load(_run("export_spec"))["tenants"][0]["login"]
    assert login_out["domains"] == ["c.example", "b.example", "a.example"]
    assert login_out["whitelist"]["users"] == ["al@guest.io", "mo@guest.io", "ke@guest.io"]
    assert login_out["whitelist"]["admins"] == ["zed@partner.io", "amy@partner.io"]
    entry = AuditEntry.objects.filter(action="login.routing.update").latest("pk")
    assert entry.before["order"]["domains"] == ["b.example", "a.example", "c.example"]
    assert entry.after["order"]["domains"] == ["c.example", "b.example", "a.example"]
    again = _run("plan", str(path))
    assert 'Tenant "Acme" (tenants[0]): no change' in again and "new order" not in again
