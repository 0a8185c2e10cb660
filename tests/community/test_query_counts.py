"""What the community hot paths cost, pinned: the SMS duty per batch (not per household), a
vote, and the resident's notice list. A change that adds a query fails here; if it is worth
its cost, change the number and say why in the commit."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_django import DjangoAssertNumQueries

from backend.community import selectors
from backend.community.actions import do_vote
from backend.community.models import NoticeAddressee
from backend.community.sms import send_due_notice_sms
from backend.territory.models import Household

from .conftest import Life, grids, notice, poll

pytestmark = pytest.mark.django_db

# SAVEPOINT, the locked batch (with its notices and communities), the phones of its
# households, one outbox INSERT for every text, one bulk UPDATE, RELEASE.
SMS_BATCH_STATEMENTS = 6
# The poll read in the caller's scope; then SAVEPOINT, the poll locked, the roll, the option,
# SAVEPOINT, the voter, RELEASE, the count, RELEASE.
VOTE_STATEMENTS = 10


def test_the_sms_duty_costs_the_same_for_one_household_or_fifty(
    life: Life, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    for i in range(40):
        Household.objects.create(
            grid=life.grid_a, address=f"幸福路{i}号", location=life.household_a.location
        )
    notice(life.supervisor_1, grids(life.grid_a.pk))
    with django_assert_num_queries(SMS_BATCH_STATEMENTS):
        assert send_due_notice_sms() == 42
    assert not NoticeAddressee.objects.filter(sms_state="pending").exists()


def test_a_vote_costs_a_fixed_number_of_statements(
    life: Life, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    p = poll(life.supervisor_1, grids(life.grid_a.pk))
    option = p.options.all()[0].pk
    selectors.get_poll(life.resident_user_a, p.pk)  # the account's resident and household, read
    with django_assert_num_queries(VOTE_STATEMENTS):
        do_vote(user=life.resident_user_a, poll_id=p.pk, option_id=option)


def test_the_residents_notice_list_does_not_grow_with_the_notices(
    life: Life, client_for: Any, django_assert_max_num_queries: Any
) -> None:
    client = client_for(life.resident_user_a)
    for i in range(3):
        notice(life.supervisor_1, grids(life.grid_a.pk), title=f"公示{i}")
    with django_assert_max_num_queries(8) as few:
        assert len(client.get("/api/v1/community/notices").json()["items"]) == 3
    for i in range(10):
        notice(life.supervisor_1, grids(life.grid_a.pk), title=f"更多公示{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get("/api/v1/community/notices").json()["items"]) == 13
