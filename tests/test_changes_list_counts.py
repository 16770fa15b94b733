"""The changes list (changes/selectors.py changeset_page): each shown changeset's step and risky
counts, read for the shown page only, and the list's filters and paging unchanged."""

import pytest
from django.urls import reverse

from changes.models import Changeset, ChangeStep
from changes.selectors import PAGE_SIZE, ChangesetFilter, changeset_page

pytestmark = pytest.mark.django_db


def changeset(summary: str, steps: int = 0, risky: int = 0, status="applied") -> Changeset:
    made = Changeset.objects.create(
        kind="routing.add", summary=summary, requested_by="alice", status=status, content_hash="x"
    )
    ChangeStep.objects.bulk_create(
        ChangeStep(changeset=made, position=i, kind="k", target=f"t{i}", risky=i < risky)
        for i in range(steps)
    )
    return made


def test_each_changeset_on_the_page_has_its_own_counts():
    none = changeset("no steps")
    some = changeset("three steps", steps=3)
    risky = changeset("two risky of five", steps=5, risky=2)
    page = changeset_page(ChangesetFilter())
    counts = {c.pk: (c.step_count, c.risky_count) for c in page.object_list}
    assert counts == {none.pk: (0, 0), some.pk: (3, 0), risky.pk: (5, 2)}
    assert [c.pk for c in page.object_list] == [risky.pk, some.pk, none.pk]  # newest first


def test_paging_counts_changesets_not_their_steps():
    made = [changeset(f"c{i}", steps=2) for i in range(PAGE_SIZE + 3)]
    first = changeset_page(ChangesetFilter())
    assert first.paginator.count == PAGE_SIZE + 3 and first.paginator.num_pages == 2
    second = changeset_page(ChangesetFilter(), page=2)
    assert [c.pk for c in second.object_list] == [c.pk for c in made[:3]][::-1]
    assert all(c.step_count == 2 for c in second.object_list)


def test_a_search_through_step_targets_lists_a_changeset_once_with_all_its_steps():
    match = changeset("routing", steps=4, risky=1)
    changeset("other")
    page = changeset_page(ChangesetFilter(q="t2"))  # one of its steps matches, not a summary
    assert [(c.pk, c.step_count, c.risky_count) for c in page.object_list] == [(match.pk, 4, 1)]
    assert page.paginator.count == 1


def test_the_page_shows_the_counts_and_the_risky_badge(admin_client):
    changeset("two risky of five", steps=5, risky=2)
    html = admin_client.get(reverse("changes:list")).content.decode()
    assert (
        '<td class="num">5 <span class="badge badge-warn" title="risky steps">2 risky</span>'
        in html
    )
