"""The prepared queries' paths (console/prepared.py) that no other test drove: each page is opened
down that path and what it shows is checked against answers worked out here, in Python, from
the rows the test made. With `prepared.CHECK` on (tests/conftest.py), each prepared answer on
the way is also compared with Django's own answer for the same queryset and values."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from changes.models import Changeset, ChangeStep
from changes.selectors import PAGE_SIZE as CHANGES_PAGE_SIZE
from console.audit import audit_record
from console.audit.queries import PAGE_SIZE as AUDIT_PAGE_SIZE
from console.snapshot import store
from sso.models import LoginDomain, WhitelistEntry
from sso.routing.queries import MAP_PAGE_SIZE
from tenants.models import IssuedCredential, ProvisioningStep, Tenant, TenantAdmin
from tenants.provisioning.engine import latest_run_steps
from tenants.queries import FILTERS, SORTS

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- the tenant's page ---------------------------------------------------------------------------


def test_a_tenant_that_does_not_exist_is_a_404_page(admin_client):
    Tenant.objects.create(name="Acme Research")
    missing = Tenant.objects.order_by("-pk").values_list("pk", flat=True)[0] + 1
    response = admin_client.get(reverse("tenants:detail", args=[missing]))
    assert response.status_code == 404


@pytest.mark.parametrize("count", [50, 51, 53])
def test_the_tenant_page_shows_the_first_50_domains_and_how_many_more(admin_client, count):
    tenant = Tenant.objects.create(name="Acme Research")
    other = Tenant.objects.create(name="Beta Labs")
    LoginDomain.objects.create(tenant=other, domain="beta.io")
    # Stored in an order that is not the domains' own: the page keeps the admin's order.
    LoginDomain.objects.bulk_create(
        LoginDomain(tenant=tenant, domain=f"d{count - i:03d}.example", position=i)
        for i in range(count)
    )
    response = admin_client.get(reverse("tenants:detail", args=[tenant.pk]))
    expected = [f"d{count - i:03d}.example" for i in range(min(count, 50))]
    assert response.context["domains"] == expected
    assert response.context["domain_count"] == count
    page = text(response)
    assert "beta.io" not in page
    more = f" and {count - 50} more"
    assert (more in page) == (count > 50)
    if count > 50:
        assert f"<code>{expected[-1]}</code> and {count - 50} more</dd>" in page
        assert f"d{count - 50:03d}.example" not in page  # the 51st


@pytest.fixture
def tenant_with_runs():
    """A tenant whose latest run (2) has steps with its admins, with none, and with another
    tenant's admin; its first run's steps are superseded."""
    tenant = Tenant.objects.create(name="Acme Research", company_id="c-acme", status="failed")
    alice = TenantAdmin.objects.create(tenant=tenant, name="Alice", email="alice@acme.io")
    dan = TenantAdmin.objects.create(tenant=tenant, name="Dan", email="dan@acme.io", user_id="u-d")
    other = Tenant.objects.create(name="Beta Labs")
    ben = TenantAdmin.objects.create(tenant=other, name="Ben", email="ben@beta.io")
    ProvisioningStep.objects.create(tenant=other, run=3, position=1, kind="call", endpoint="x.y")

    def step(run, position, admin, status="done"):
        return ProvisioningStep.objects.create(
            tenant=tenant,
            run=run,
            position=position,
            kind="user.create" if admin else "call",
            admin=admin,
            endpoint="auth.create_user" if admin else "login.set_domains",
            description=f"run {run} step {position}",
            status=status,
        )

    old = [step(1, 1, alice, "superseded"), step(1, 2, None, "superseded")]
    # Created out of order: the page lists them by position.
    latest = [step(2, 3, ben, "pending"), step(2, 1, alice), step(2, 2, None, "failed")]
    latest += [step(2, 4, dan, "pending")]
    latest.sort(key=lambda s: s.position)
    return {"tenant": tenant, "old": old, "latest": latest, "admins": [alice, dan], "ben": ben}


def described(steps) -> list[tuple]:
    return [
        (s.pk, s.run, s.position, s.status, s.admin_id, s.admin and (s.admin.pk, s.admin.email))
        for s in steps
    ]


def test_the_latest_run_steps_are_the_same_read_with_or_without_the_admins(tenant_with_runs):
    tenant = Tenant.objects.get(pk=tenant_with_runs["tenant"].pk)
    read_alone = latest_run_steps(tenant)
    given = latest_run_steps(tenant, admins=list(TenantAdmin.objects.filter(tenant=tenant)))
    assert described(given) == described(read_alone) == described(tenant_with_runs["latest"])
    assert [s.admin.email if s.admin else None for s in given] == [
        "alice@acme.io",
        None,
        "ben@beta.io",  # another tenant's admin: read when asked for
        "dan@acme.io",
    ]
    assert all(s.tenant == tenant for s in given)


def test_the_tenant_page_shows_the_latest_run_with_each_steps_admin(admin_client, tenant_with_runs):
    tenant = tenant_with_runs["tenant"]
    response = admin_client.get(reverse("tenants:detail", args=[tenant.pk]))
    shown = [row["step"] for row in response.context["rows"]]
    assert described(shown) == described(tenant_with_runs["latest"])
    assert [a.email for a in response.context["admins"]] == ["alice@acme.io", "dan@acme.io"]
    page = text(response)
    for step in tenant_with_runs["latest"]:
        assert step.description in page
    assert "run 1 step" not in page
    assert response.context["done_count"] == 1
    assert response.context["failed"].pk == tenant_with_runs["latest"][1].pk
    assert "1 of 4 steps done; step 2 (run 2 step 2) failed." in page


# --- the routing map -----------------------------------------------------------------------------

# (tenant name, deleted, domains, whitelisted admins, whitelisted users)
ROUTING = [
    (
        "Acme Research",
        False,
        ["a_b.example", "axb.example", "acme.io", "xn--bcher-kva.example"],
        ["alice@acme.io", "root@a_b.example"],
        ["per%cent@acme.io", "back\\slash@acme.io", "bob_smith@gmail.com"]
        + [f"m{i:03d}@many.example" for i in range(MAP_PAGE_SIZE + 10)],
    ),
    ("Beta Labs", False, ["beta.io"], ["carol@partner.com"], ["dave@axb.example"]),
    ("Under_Score", False, ["under.example"], [], ["u@under.example"]),
    ("Gone Corp", True, ["gone-a_b.example"], ["x%y@gone.example"], ["a_b@gone.example"]),
]

# What each search looks like once stored (lower case, IDNA), as the map searches for it.
SEARCHES = {
    "": "",
    "%": "%",
    "_": "_",
    "a_b": "a_b",
    "\\": "\\",
    "ACME": "acme",
    "Beta Labs": "beta labs",
    "BÜCHER": "xn--bcher-kva",
    "M0": "m0",
    "zz": "zz",
}


@pytest.fixture
def routing():
    tenants = {}
    for name, deleted, domains, admins, users in ROUTING:
        tenant = Tenant.objects.create(
            name=name,
            status="deleted" if deleted else "active",
            deleted_at=timezone.now() if deleted else None,
        )
        tenants[name] = tenant
        LoginDomain.objects.bulk_create(LoginDomain(tenant=tenant, domain=d) for d in domains)
        WhitelistEntry.objects.bulk_create(
            [WhitelistEntry(tenant=tenant, email=e, is_admin=True) for e in admins]
            + [WhitelistEntry(tenant=tenant, email=e) for e in users]
        )
    return tenants


def expected_map(q: str, kind: str, tenant_id, tenants) -> tuple[list, list]:
    """The map's domains and emails (key, kind, tenant name), worked out from ROUTING."""
    key, name = SEARCHES[q], q.strip().lower()
    domains, emails = [], []
    for tenant_name, deleted, tenant_domains, admins, users in ROUTING:
        if deleted or (tenant_id and tenants[tenant_name].pk != tenant_id):
            continue
        by_name = bool(key) and name in tenant_name.lower()
        keys = [(d, "domain", domains) for d in tenant_domains]
        keys += [(e, "admin", emails) for e in admins] + [(e, "user", emails) for e in users]
        for row_key, row_kind, found in keys:
            if kind and kind != row_kind:
                continue
            if key and not (key in row_key or by_name):
                continue
            found.append((row_key, row_kind, tenant_name))
    return sorted(domains), sorted(emails)


def plural(n: int, suffix: str = "s") -> str:
    return "" if n == 1 else suffix


def test_the_routing_map_finds_and_pages_what_each_search_matches(admin_client, routing):
    acme = routing["Acme Research"].pk
    for q in SEARCHES:
        for kind in ("", "domain", "admin", "user"):
            for tenant_id in (None, acme):
                domains, emails = expected_map(q, kind, tenant_id, routing)
                rows = domains + emails
                pages = max(1, -(-len(rows) // MAP_PAGE_SIZE))
                for asked in (1, 2, 99):
                    params = {"q": q, "kind": kind, "tenant": tenant_id or "", "page": asked}
                    response = admin_client.get(reverse("sso:routing_map"), params)
                    result = response.context["result"]
                    page = min(asked, pages)
                    shown = rows[(page - 1) * MAP_PAGE_SIZE : page * MAP_PAGE_SIZE]
                    got = [(r.key, r.kind, r.tenant_name) for r in result.rows]
                    assert got == shown, params
                    counts = (result.total, result.domain_total, result.email_total)
                    assert counts == (len(rows), len(domains), len(emails)), params
                    assert (result.page, result.pages) == (page, pages), params
                    summary = (
                        f"{len(rows)} match{plural(len(rows), 'es')}: {len(domains)} "
                        f"domain{plural(len(domains))}, {len(emails)} email{plural(len(emails))}."
                    )
                    assert summary in text(response), params


def test_the_routing_map_searches_match_literally(routing):
    """The cases the brief's examples name, spelled out (the loop above covers them all)."""
    assert expected_map("a_b", "domain", None, routing)[0] == [
        ("a_b.example", "domain", "Acme Research")
    ]  # not axb.example: "_" is not a wildcard
    assert expected_map("%", "", None, routing) == (
        [],
        [("per%cent@acme.io", "user", "Acme Research")],
    )
    assert expected_map("_", "domain", None, routing)[0] == [
        ("a_b.example", "domain", "Acme Research"),
        ("under.example", "domain", "Under_Score"),  # its tenant's name has a "_"
    ]


# --- the Tenants page ----------------------------------------------------------------------------

# (name, company, status, deleted, domains, whitelist, admins' emails, credentials)
TENANTS = [
    ("Acme Research", "c-acme", "active", False, 2, 0, ["alice@acme.io", "dan@acme.io"], 2),
    ("Beta Labs", "c-beta", "active", False, 1, 3, ["ben@zeta-mail.io"], 0),
    ("Gone Corp", "c-gone", "active", False, 0, 1, [], 0),  # not on the server: needs attention
    ("Draft", "", "planned", False, 0, 0, ["dora@zeta-mail.io"], 0),
    ("Old Co", "c-old", "deleted", True, 1, 0, ["olga@zeta-mail.io"], 0),
]
OUTSIDE = "Outside Inc"  # a company on the server the console does not manage
SHOWN = {
    "all": {"Acme Research", "Beta Labs", "Gone Corp", "Draft", OUTSIDE},
    "console": {"Acme Research", "Beta Labs", "Gone Corp", "Draft"},
    "outside": {OUTSIDE},
    "attention": {"Gone Corp", "Draft"},
    "deleted": {"Old Co"},
}
ADMIN_SEARCH = "ZETA-mail"  # only admins' emails contain it


@pytest.fixture
def tenant_list(settings):
    settings.CLEARML_API_URL = "http://apiserver.invalid"
    for name, company, status, deleted, domains, whitelist, emails, keys in TENANTS:
        tenant = Tenant.objects.create(
            name=name,
            company_id=company,
            status=status,
            deleted_at=timezone.now() if deleted else None,
        )
        slug = name.split()[0].lower()
        for i in range(domains):
            LoginDomain.objects.create(tenant=tenant, domain=f"{slug}{i}.example", position=i)
        for i in range(whitelist):
            WhitelistEntry.objects.create(tenant=tenant, email=f"w{i}@{slug}.example")
        admins = [
            TenantAdmin.objects.create(tenant=tenant, name=email, email=email) for email in emails
        ]
        for i in range(keys):
            IssuedCredential.objects.create(admin=admins[0], access_key=f"AK-{slug}-{i}")
    companies = [{"id": c, "name": n} for n, c, *_ in TENANTS if c and c != "c-gone"]
    companies.append({"id": "c-out", "name": OUTSIDE})
    later = timezone.now() + timedelta(minutes=1)  # read after the tenants were created
    store.snapshot_put(store.COMPANIES, "", {"companies": companies}, later)


def listed(admin_client, **params) -> list[str]:
    response = admin_client.get(reverse("tenants:list"), params)
    assert response.status_code == 200, params
    names = [row.name for row in response.context["rows"]]
    for name in names:
        assert name in text(response)
    return names


def test_every_sort_and_filter_of_the_tenants_page_lists_the_right_tenants(
    admin_client, tenant_list
):
    for sort in SORTS:
        for direction in ("", "-"):
            for show in FILTERS:
                params = {"sort": direction + sort, "show": show}
                assert set(listed(admin_client, **params)) == SHOWN[show], params
                searched = set(listed(admin_client, q=ADMIN_SEARCH, **params))
                with_admin = {n for n, *_, emails, _ in TENANTS if "zeta-mail" in "".join(emails)}
                assert searched == SHOWN[show] & with_admin, params


@pytest.mark.parametrize(
    "sort,show,q,order",
    [
        ("name", "all", "", ["Acme Research", "Beta Labs", "Draft", "Gone Corp", OUTSIDE]),
        ("-name", "all", "", [OUTSIDE, "Gone Corp", "Draft", "Beta Labs", "Acme Research"]),
        # by a count, ties in name order, the companies the console does not manage last
        ("-domains", "all", "", ["Acme Research", "Beta Labs", "Draft", "Gone Corp", OUTSIDE]),
        ("whitelist", "all", "", ["Acme Research", "Draft", "Gone Corp", "Beta Labs", OUTSIDE]),
        ("-whitelist", "console", "", ["Beta Labs", "Gone Corp", "Acme Research", "Draft"]),
        ("-credentials", "all", "", ["Acme Research", "Beta Labs", "Draft", "Gone Corp", OUTSIDE]),
        ("-admins", "all", ADMIN_SEARCH, ["Beta Labs", "Draft"]),
        ("-name", "attention", ADMIN_SEARCH, ["Draft"]),
        ("sync", "console", "", ["Gone Corp", "Draft", "Acme Research", "Beta Labs"]),
    ],
)
def test_the_tenants_page_order(admin_client, tenant_list, sort, show, q, order):
    assert listed(admin_client, sort=sort, show=show, q=q) == order


# --- the Changes page ----------------------------------------------------------------------------


@pytest.fixture
def changesets():
    """PAGE_SIZE + 10 changesets, oldest first; the i-th has i % 4 steps, one risky when 3."""
    Changeset.objects.bulk_create(
        Changeset(
            kind="routing.add" if i % 2 else "tenant.update",
            summary=f"change {i}",
            requested_by="alice",
            status="failed" if i % 5 == 0 else "applied",
            content_hash="x",
        )
        for i in range(CHANGES_PAGE_SIZE + 10)
    )
    made = list(Changeset.objects.order_by("pk"))
    for i, changeset in enumerate(made):
        changeset.made_steps = i % 4
    ChangeStep.objects.bulk_create(
        ChangeStep(changeset=c, position=p, kind="k", target=f"t{p}", risky=p == 2)
        for i, c in enumerate(made)
        for p in range(i % 4)
    )
    return made


def counts_of(made: list[Changeset]) -> list[tuple]:
    return [(c.pk, c.made_steps, int(c.made_steps == 3)) for c in made]


def shown_changesets(admin_client, **params) -> tuple[list[tuple], str]:
    response = admin_client.get(reverse("changes:list"), params)
    assert response.status_code == 200
    shown = [(c.pk, c.step_count, c.risky_count) for c in response.context["page"].object_list]
    return shown, text(response)


def test_the_changes_page_as_opened_pages_newest_first_with_step_counts(admin_client, changesets):
    newest_first = changesets[::-1]
    first, page = shown_changesets(admin_client)
    assert first == counts_of(newest_first[:CHANGES_PAGE_SIZE])
    assert "Page 1 of 2" in page
    second, page = shown_changesets(admin_client, page=2)
    assert second == counts_of(newest_first[CHANGES_PAGE_SIZE:])
    assert "Page 2 of 2" in page
    for pk, steps, risky in second:
        cell = f'<td class="num">{steps}'
        cell += (
            ' <span class="badge badge-warn" title="risky steps">1 risky</span>' if risky else ""
        )
        assert f'<a href="{reverse("changes:detail", args=[pk])}">change ' in page
        assert cell + "</td>" in page
    past_the_end, _ = shown_changesets(admin_client, page=99)
    assert past_the_end == second


def test_a_filtered_changes_page_pages_its_own_changesets(admin_client, changesets):
    newest_first = changesets[::-1]
    failed = [c for c in newest_first if c.status == "failed"]
    shown, page = shown_changesets(admin_client, status="failed")
    assert shown == counts_of(failed) and "Page 1 of 1" in page
    routing = [c for c in newest_first if c.kind == "routing.add"]
    shown, _ = shown_changesets(admin_client, kind="routing")
    assert shown == counts_of(routing)
    everything = counts_of(newest_first)
    shown, page = shown_changesets(admin_client, requested_by="ALICE", page=2)
    assert shown == everything[CHANGES_PAGE_SIZE:] and "Page 2 of 2" in page


# --- the Audit page ------------------------------------------------------------------------------


def test_the_audit_page_pages_back_through_the_entries(admin_client):
    seqs = [
        audit_record(actor=f"actor{i}", action="tenant.update", target_type="tenant").seq
        for i in range(2 * AUDIT_PAGE_SIZE + 7)
    ]
    newest_first = sorted(seqs, reverse=True)

    def shown(**params):
        response = admin_client.get(reverse("audit:list"), params)
        assert response.status_code == 200
        return [e.seq for e in response.context["entries"]], response

    first, response = shown()
    assert first == newest_first[:AUDIT_PAGE_SIZE]
    assert f"Showing entries #{first[0]} to #{first[-1]}." in text(response)
    assert response.context["older_url"].endswith(f"?before={first[-1]}")
    second, response = shown(before=first[-1])
    assert second == newest_first[AUDIT_PAGE_SIZE : 2 * AUDIT_PAGE_SIZE]
    third, response = shown(before=second[-1])
    assert third == newest_first[2 * AUDIT_PAGE_SIZE :]
    assert not response.context["older_url"]  # the oldest page
    middle = newest_first[10]
    from_middle, _ = shown(before=middle)
    assert from_middle == newest_first[11 : 11 + AUDIT_PAGE_SIZE]
    past_the_oldest, response = shown(before=min(seqs))
    assert past_the_oldest == []
