"""What the hot service-desk writes cost in queries, pinned so that a change that adds a
round trip per case (or per recipient) shows up here first."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.gis.geos import Point

from backend.servicedesk import actions
from backend.servicedesk.actions.keys import do_issue_open311_key
from backend.servicedesk.models import Channel, Open311Key

from .conftest import Desk, file_case

pytestmark = pytest.mark.django_db


def test_intake_from_the_app_costs_exactly_this(desk: Desk, django_assert_num_queries: Any) -> None:
    w = desk.world
    request = {"item_code": desk.allowance.code, "resident_id": w.resident_a.pk}
    with django_assert_num_queries(PINNED["intake"]):
        filed = actions.do_intake(
            user=w.worker_a,
            item_code=desk.allowance.code,
            channel=Channel.FRONT_DESK,
            resident_id=w.resident_a.pk,
            client_case_id=uuid.uuid4(),
            request=request,
        )
    assert filed.status == 201 and filed.case.state == "submitted"


def test_intake_over_open311_costs_exactly_this(desk: Desk, django_assert_num_queries: Any) -> None:
    key = Open311Key(name="12345 热线")
    do_issue_open311_key(key=key)
    with django_assert_num_queries(PINNED["open311"]):
        filed = actions.do_open311_intake(
            filer=actions.PublicFiler(key=key, location=Point(117.805, 30.925, srid=4326)),
            item_code=desk.allowance.code,
            district_id=None,
            description="路灯坏了",
        )
    assert filed.case.grid == desk.world.grid_a


def test_accepting_a_case_costs_exactly_this(desk: Desk, django_assert_num_queries: Any) -> None:
    case = file_case(desk)
    with django_assert_num_queries(PINNED["accept"]):
        actions.do_transition(user=desk.world.officer_elderly_1, case_id=case.pk, action="accept")
    case.refresh_from_db()
    assert case.state == "accepted"


# `pytest -vv` on a failing count lists the queries. Intake: the caller's scope, the resident
# (with tags and contacts), the item, the idempotency record, the number, the case, its steps,
# the holiday calendar, two SLA timers (one statement each), the queue (asked by the submit and
# again by the audience), the resident's accounts, the stream cursors of every recipient (one
# statement), the events in one insert, the urgent recipients' push rungs (one outbox insert),
# and savepoints. Accept: the case in scope, its lock,
# the caller's roles, the update, the step, the audience, cursors and events. (The caller's
# scope is one query: B and A posts in one union.)
PINNED = {"intake": 22, "open311": 18, "accept": 14}
