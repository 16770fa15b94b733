"""Bulk import of whitelist emails: every line checked before anything is saved."""

import time

import pytest

from console.audit import AuditEntry
from console.validation import InvalidInput
from sso.models import LoginDomain, RoutingImport, WhitelistEntry
from sso.routing.csv_import import decode_upload, import_check, import_draft, import_save
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return Tenant.objects.create(name="Acme Research")


@pytest.fixture
def beta():
    tenant = Tenant.objects.create(name="Beta Labs")
    LoginDomain.objects.create(tenant=tenant, domain="beta.io")
    WhitelistEntry.objects.create(tenant=tenant, email="taken@gmail.com")
    return tenant


def problems(check) -> dict[int, str]:
    return {p.line: p.message for p in check.errors}


def test_a_header_names_the_columns_and_roles_come_from_is_admin(acme):
    text = "name,Email,is_admin\nCarol,Carol@Partner.com,yes\nBob, bob@gmail.com ,false\n"
    check = import_check(tenant=acme, text=text, role_mode="column")
    assert check.ok
    assert check.entries == [("carol@partner.com", True, 2), ("bob@gmail.com", False, 3)]
    assert (check.new_admins, check.new_users) == (1, 1)


def test_without_a_header_the_chosen_list_sets_the_role(acme):
    text = "# exported from HR\n\na@acme.io\nb@acme.io\n"
    check = import_check(tenant=acme, text=text, role_mode="admins")
    assert [(e, a) for e, a, _ in check.entries] == [("a@acme.io", True), ("b@acme.io", True)]
    assert check.entries[0][2] == 3  # line numbers count the comment and the blank line


def test_every_bad_line_is_reported_with_its_line_number(acme, beta):
    text = "\n".join(
        [
            "email,is_admin",
            "ok@acme.io,true",  # 2
            "not-an-email,false",  # 3
            "ok@acme.io,true",  # 4 repeated
            "OK@acme.io,false",  # 5 other role
            "taken@gmail.com,false",  # 6 another tenant's
            "x@acme.io,maybe",  # 7 bad role
            "y@acme,false",  # 8 bad domain
        ]
    )
    check = import_check(tenant=acme, text=text, role_mode="column")
    assert not check.ok and not check.entries
    found = problems(check)
    assert sorted(found) == [3, 4, 5, 6, 7, 8]
    assert "exactly one @" in found[3]
    assert "listed twice" in found[4] and "line 2" in found[4]
    assert "one role" in found[5] and "line 2" in found[5]
    assert "'Beta Labs'" in found[6]
    assert "is_admin must be true or false" in found[7] and "'maybe'" in found[7]
    assert "two labels" in found[8]


@pytest.mark.parametrize(
    ("text", "mode", "path", "reason"),
    [
        ("a@acme.io\n", "column", "role_mode", "no is_admin column"),
        ("email\na@acme.io\n", "column", "role_mode", "no is_admin column"),
        ("\n# nothing\n", "users", "text", "no email address found"),
        ("a@acme.io\n", "everyone", "role_mode", "choose how"),
    ],
)
def test_file_level_problems_are_refused(acme, text, mode, path, reason):
    with pytest.raises(InvalidInput) as excinfo:
        import_check(tenant=acme, text=text, role_mode=mode)
    error = excinfo.value.errors[0]
    assert error.path == path and reason in error.message


def test_an_upload_must_be_utf8():
    assert decode_upload("\ufeffemail\na@b.io\n".encode()) == "email\na@b.io\n"
    with pytest.raises(InvalidInput) as excinfo:
        decode_upload(b"email\n\xff\xfe@b.io\n")
    assert "not UTF-8" in excinfo.value.errors[0].message


def test_emails_at_a_domain_of_another_tenant_are_warnings(acme, beta):
    check = import_check(tenant=acme, text="eve@beta.io\n", role_mode="users")
    assert check.ok
    [warning] = check.warnings
    assert warning.line == 1 and "'Beta Labs'" in warning.message


def test_saving_merges_into_the_whitelist_and_audits_once(acme):
    WhitelistEntry.objects.create(tenant=acme, email="keep@acme.io", is_admin=False)
    WhitelistEntry.objects.create(tenant=acme, email="promote@acme.io", is_admin=False)
    text = "email,is_admin\npromote@acme.io,true\nnew@acme.io,false\n"
    check = import_check(tenant=acme, text=text, role_mode="column")
    assert (check.new_users, check.role_changes) == (1, 1)
    draft = import_draft(tenant=acme, check=check, actor="admin", source="hr.csv", role_mode="x")
    assert not WhitelistEntry.objects.filter(email="new@acme.io").exists()  # not saved yet
    change = import_save(draft=draft, actor="admin")
    assert change.role_changed == {"promote@acme.io": True}
    assert dict(acme.whitelist.values_list("email", "is_admin")) == {
        "keep@acme.io": False,
        "promote@acme.io": True,
        "new@acme.io": False,
    }
    entry = AuditEntry.objects.get(action="login.routing.import")
    assert entry.after["users"] == ["new@acme.io"] and "hr.csv" in entry.after["source"]
    draft.refresh_from_db()
    assert draft.status == RoutingImport.Status.SAVED
    with pytest.raises(InvalidInput, match="saved already"):
        import_save(draft=draft, actor="admin")


def test_a_race_lost_after_the_check_names_the_tenant_and_the_line(acme, beta):
    check = import_check(tenant=acme, text="a@x.io\nlate@x.io\n", role_mode="users")
    draft = import_draft(tenant=acme, check=check, actor="admin", source="", role_mode="users")
    WhitelistEntry.objects.create(tenant=beta, email="late@x.io")
    with pytest.raises(InvalidInput) as excinfo:
        import_save(draft=draft, actor="admin")
    error = excinfo.value.errors[0]
    assert error.path == "line 2" and "'Beta Labs'" in error.message
    assert not acme.whitelist.exists()


def test_ten_thousand_emails_check_and_save_in_under_two_seconds(
    acme, beta, django_assert_max_num_queries
):
    """Measured as this process's CPU time, so other jobs on a shared machine cannot make it
    flaky; `bench/routing_import.py` prints the wall-clock figures."""
    lines = ["email,is_admin"] + [
        f"User{i:05d}@Dept{i % 97}.example.com,{'true' if i % 50 == 0 else 'false'}"
        for i in range(10_000)
    ]
    started = time.process_time()
    with django_assert_max_num_queries(12):
        check = import_check(tenant=acme, text="\n".join(lines), role_mode="column")
        draft = import_draft(tenant=acme, check=check, actor="a", source="", role_mode="column")
    change = import_save(draft=draft, actor="a")
    elapsed = time.process_time() - started
    assert check.ok and len(change.whitelist_added) == 10_000
    assert acme.whitelist.count() == 10_000
    assert elapsed < 2.0, f"{elapsed:.2f} s"
