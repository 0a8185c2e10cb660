"""Reads of alerts, cases, today's route, keyed Open311 and the board are audited (issue 11
item 2): one row per request naming the residents the answer showed, written as one INSERT
(the pinned query counts hold whatever the page size), like `people.selectors.read_resident`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from backend.alerts.models import Alert
from backend.audit.models import AuditEvent
from backend.people.models import Resident
from backend.servicedesk.actions.keys import do_issue_open311_key
from backend.servicedesk.models import Case, Open311Key
from backend.visits.models import TaskKind, VisitTask
from tests.board.conftest import board_for  # noqa: F401 - a fixture
from tests.conftest import World, _resident
from tests.servicedesk.conftest import Desk, desk, file_case, media_root  # noqa: F401

pytestmark = pytest.mark.django_db


def _alert(world: World, resident: Resident | None = None, **extra: Any) -> Alert:
    resident = resident or world.resident_a
    household = resident.household
    return Alert.objects.create(
        kind="emergency",
        source="resident_app",
        resident=resident,
        household=household,
        grid=household.grid,
        community=household.grid.community,
        **extra,
    )


def _extra_resident(world: World, n: int) -> Resident:
    return _resident(world.household_a, f"赵{n}", world.resident_a.birth_date, [])


def _last() -> AuditEvent:
    return AuditEvent.objects.latest("pk")


def _rows_for(fn: Any) -> list[AuditEvent]:
    before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    fn()
    return list(AuditEvent.objects.filter(pk__gt=before).order_by("pk"))


# -- alerts --------------------------------------------------------------------------------


def test_an_alert_detail_is_one_row_naming_the_resident(world: World, client_for: Any) -> None:
    alert = _alert(world)
    client = client_for(world.supervisor_1)
    rows = _rows_for(lambda: client.get(f"/api/v1/alerts/{alert.pk}"))
    assert len(rows) == 1
    row = rows[0]
    assert (row.action, row.actor, row.target_type, row.target_id, row.target_ids) == (
        "view_alert",
        world.supervisor_1,
        "alert",
        alert.pk,
        [world.resident_a.pk],
    )
    assert row.detail == f"GET /api/v1/alerts/{alert.pk}" and row.ip == "127.0.0.1"


def test_an_out_of_scope_alert_reads_nothing(world: World, client_for: Any) -> None:
    alert = _alert(world, world.resident_c)  # community 2: not the supervisor's
    client = client_for(world.supervisor_1)
    rows = _rows_for(lambda: client.get(f"/api/v1/alerts/{alert.pk}"))
    assert rows == []


def test_an_alert_list_is_one_row_naming_its_residents(
    world: World, client_for: Any, django_assert_num_queries: Any
) -> None:
    _alert(world)
    _alert(world, world.resident_b)
    _alert(world, world.resident_a, state="resolved", resolved_at=timezone.now())
    client = client_for(world.supervisor_1)
    with django_assert_num_queries(PINNED["alerts"]):
        page = client.get("/api/v1/alerts").json()
    assert page["count"] == 3
    row = _last()
    assert (row.action, row.target_type) == ("list_alerts", "alert")
    assert row.target_ids == list(dict.fromkeys(a["resident_id"] for a in page["items"]))
    assert set(row.target_ids) == {world.resident_a.pk, world.resident_b.pk}
    # More alerts on the page: still one INSERT.
    for _ in range(5):
        _alert(world, world.resident_b)
    with django_assert_num_queries(PINNED["alerts"]):
        client.get("/api/v1/alerts")


# -- cases ---------------------------------------------------------------------------------


def test_a_case_detail_its_comments_and_documents_are_audited(
    desk: Desk,  # noqa: F811
    client_for: Any,
) -> None:
    w = desk.world
    case = file_case(desk)
    client = client_for(w.worker_a)
    for suffix in ("", "/comments", "/documents"):
        rows = _rows_for(lambda s=suffix: client.get(f"/api/v1/cases/{case.pk}{s}"))
        assert [(r.action, r.target_id, r.target_ids) for r in rows] == [
            ("view_case", case.pk, [w.resident_a.pk])
        ], suffix
        assert rows[0].detail == f"GET /api/v1/cases/{case.pk}{suffix}"
    # Refused or out of scope: nothing read, nothing written.
    other = client_for(w.worker_b)
    assert _rows_for(lambda: other.get(f"/api/v1/cases/{case.pk}")) == []
    resident = client_for(w.resident_user_a)
    assert _rows_for(lambda: resident.get(f"/api/v1/cases/{case.pk}/comments")) == []


def test_a_case_list_is_one_row_naming_its_residents(
    desk: Desk,  # noqa: F811
    client_for: Any,
    django_assert_num_queries: Any,
) -> None:
    w = desk.world
    file_case(desk)
    file_case(desk, resident=_extra_resident(w, 1))
    client = client_for(w.supervisor_1)
    with django_assert_num_queries(PINNED["cases"]):
        page = client.get("/api/v1/cases").json()
    row = _last()
    assert (row.action, row.target_type) == ("list_cases", "case")
    assert row.target_ids == [c["resident_id"] for c in page["items"]]
    for n in range(2, 6):
        file_case(desk, resident=_extra_resident(w, n))
    with django_assert_num_queries(PINNED["cases"]):
        page = client.get("/api/v1/cases").json()
    assert len(_last().target_ids) == len(page["items"]) == 6


# -- today's route -------------------------------------------------------------------------


def test_today_is_one_row_naming_every_resident_on_the_route(
    world: World, client_for: Any, django_assert_num_queries: Any
) -> None:
    extra = _extra_resident(world, 1)
    now = timezone.now()
    for household in (world.household_a, world.household_b):
        VisitTask.objects.create(
            kind=TaskKind.ROUTINE,
            household=household,
            grid=household.grid,
            community=household.grid.community,
            reason="例行走访",
            due_at=now - timedelta(hours=1),
        )
    client = client_for(world.worker_a)  # grid A only
    with django_assert_num_queries(PINNED["today"]):
        body = client.get("/api/v1/visits/today").json()
    row = _last()
    assert (row.action, row.actor, row.target_type) == ("visits_today", world.worker_a, "resident")
    shown = [r["id"] for s in body["stops"] for r in s["residents"]]
    assert row.target_ids == shown and set(shown) == {world.resident_a.pk, extra.pk}


# -- Open311 with a key ----------------------------------------------------------------------


def test_keyed_open311_reads_are_audited_under_the_key(desk: Desk) -> None:  # noqa: F811
    w = desk.world
    case = file_case(desk)
    Case.objects.filter(pk=case.pk).update(district=w.district)
    raw = do_issue_open311_key(
        key=Open311Key(name="政务平台", district=w.district, sees_all_requests=True)
    )
    key = Open311Key.objects.get(name="政务平台")
    client = Client()
    rows = _rows_for(lambda: client.get("/open311/v2/requests.json", {"api_key": raw}))
    assert [(r.action, r.actor_id, r.target_type, r.target_ids) for r in rows] == [
        ("open311_read", None, "case", [w.resident_a.pk])
    ]
    assert rows[0].actor_label == f"open311 key {key.pk} 政务平台"
    assert rows[0].detail == "GET /open311/v2/requests.json"
    rows = _rows_for(
        lambda: client.get(f"/open311/v2/requests/{case.number}.json", {"api_key": raw})
    )
    assert [(r.action, r.target_ids) for r in rows] == [("open311_read", [w.resident_a.pk])]
    assert "api_key" not in rows[0].detail  # the key itself is never written down


# -- the board -----------------------------------------------------------------------------


def test_the_boards_reads_are_audited(
    world: World,
    board_for: Any,  # noqa: F811
    django_assert_num_queries: Any,
) -> None:
    alert = _alert(world)
    _alert(world, world.resident_b)
    board = board_for(world.supervisor_1)
    rows = _rows_for(lambda: board.get("/board/api/state"))
    assert [(r.action, r.actor, sorted(r.target_ids)) for r in rows] == [
        ("list_alerts", world.supervisor_1, sorted([world.resident_a.pk, world.resident_b.pk]))
    ]
    assert rows[0].detail == "GET /board/api/state"
    rows = _rows_for(lambda: board.get(f"/board/api/alerts/{alert.pk}"))
    assert [(r.action, r.target_id, r.target_ids) for r in rows] == [
        ("view_alert", alert.pk, [world.resident_a.pk])
    ]
    rows = _rows_for(lambda: board.get("/board/api/panels"))
    assert [(r.action, r.target_type) for r in rows] == [("list_cases", "case")]
    rows = _rows_for(
        lambda: board.get("/board/api/households", {"bbox": "117.79,30.91,117.83,30.94"})
    )
    assert [(r.action, sorted(r.target_ids)) for r in rows] == [
        ("list_households", sorted([world.household_a.pk, world.household_b.pk]))
    ]
    with django_assert_num_queries(PINNED["board_state"]):
        board.get("/board/api/state")
    for _ in range(4):
        _alert(world, world.resident_b)
    with django_assert_num_queries(PINNED["board_state"]):
        board.get("/board/api/state")


# Whole requests, authentication included; `pytest -vv` on a failure lists the queries. The
# audit row is one of them, whatever the number of rows shown.
PINNED = {"alerts": 4, "cases": 4, "today": 9, "board_state": 16}
