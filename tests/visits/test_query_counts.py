"""What the hot visit writes cost in queries: a batch sync does a fixed number of queries
whatever its size (everything per record is done in bulk), so a phone back online after a
day of visits costs no more round trips than one visit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.alerts.actions import Fix
from backend.territory.models import Building, Household
from backend.visits.actions import (
    FindingRecord,
    VisitRecord,
    derive_due_visits,
    do_check_in,
    do_sync_visits,
)
from backend.visits.models import Visit, VisitTask
from tests.conftest import World

pytestmark = pytest.mark.django_db


def _households(world: World, n: int) -> list[Household]:
    """n households around household_a's door, in grid A (so each has a routine task)."""
    out = []
    for i in range(n):
        point = Point(117.805 + i * 0.0001, 30.925, srid=4326)
        building = Building.objects.create(grid=world.grid_a, name=f"测试{i}号", location=point)
        out.append(
            Household.objects.create(
                grid=world.grid_a, building=building, address=f"测试{i}号101", location=point
            )
        )
    return out


def _records(households: list[Household], *, follow_up: bool) -> list[VisitRecord]:
    findings = (
        (FindingRecord("health", "血压偏高", action="follow_up", follow_up_days=3),)
        if follow_up
        else ()
    )
    return [
        VisitRecord(
            client_uuid=uuid.uuid4(),
            household_id=h.pk,
            visited_at=timezone.now(),
            present=True,
            fix=Fix(h.location.y, h.location.x, 10),
            note="在家",
            findings=findings,
        )
        for h in households
    ]


def _sync_queries(world: World, n: int, *, follow_up: bool) -> int:
    records = _records(_households(world, n), follow_up=follow_up)
    derive_due_visits()  # every household has an open routine task the visits complete
    with CaptureQueriesContext(connection) as queries:
        results = do_sync_visits(worker=world.worker_a, records=records)
    assert [r.status for r in results] == ["created"] * n
    assert Visit.objects.filter(worker=world.worker_a).count() >= n
    return len(queries)


@pytest.mark.parametrize("follow_up", [False, True], ids=["visits", "with_follow_ups"])
def test_a_sync_costs_the_same_queries_for_1_or_25_records(world: World, follow_up: bool) -> None:
    one = _sync_queries(world, 1, follow_up=follow_up)
    many = _sync_queries(world, 25, follow_up=follow_up)
    assert many == one, f"{one} queries for 1 record, {many} for 25"
    done = VisitTask.objects.filter(kind="routine", state="done").count()
    assert done == 26  # every visited household's routine task was completed, in bulk


def test_a_sync_of_one_visit_costs_exactly_this(
    world: World, django_assert_num_queries: Any
) -> None:
    records = _records(_households(world, 1), follow_up=False)
    derive_due_visits()
    with django_assert_num_queries(PINNED["sync"]):
        do_sync_visits(worker=world.worker_a, records=records)


def test_a_check_in_costs_exactly_this(world: World, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(PINNED["check_in"]):
        do_check_in(
            worker=world.worker_a,
            household=world.household_a,
            client_uuid=uuid.uuid4(),
            fix=Fix(30.925, 117.805, 10),
            visited_at=timezone.now(),
        )


# sync: the caller's B and A posts (scope), the households in scope, savepoint, the worker's
# row lock, the stored visits of these uuids, the fence settings, the fence (one spatial
# query), insert visits, the open tasks they complete, one UPDATE ... FROM unnest, the grid's
# workers to tell, release. check_in: scope (2), the stored visit, fence settings, fence,
# savepoint, insert, release.
PINNED = {"sync": 13, "check_in": 8}
