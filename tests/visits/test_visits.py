"""Rules and the daily job, one-off tasks from alerts, the geofence, the batch sync, the route,
the service-desk seam and the events that keep a phone's list current."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone

from backend.accounts.actions import do_remove_grid_assignment, do_save_grid_assignment
from backend.accounts.models import GridAssignment, WorkerPosition
from backend.core import clock
from backend.core.models import StreamEvent, Timer
from backend.notify.delivery import push_data
from backend.servicedesk.models import Case
from backend.territory.models import Building, Household
from backend.visits import geo
from backend.visits.actions import derive_due_visits
from backend.visits.models import Visit, VisitFinding, VisitRule, VisitSettings, VisitTask
from backend.visits.timers import DAILY, next_daily_run
from tests.alerts.conftest import SignedDevice, alert_of, device_a  # noqa: F401
from tests.conftest import World
from tests.visits.conftest import record

pytestmark = pytest.mark.django_db


def open_tasks(**filters: Any) -> list[VisitTask]:
    return list(VisitTask.objects.filter(state="open", **filters).order_by("pk"))


def sync(client: Any, *records: Any) -> dict[str, Any]:
    response = client.post("/api/v1/visits/sync", {"records": list(records)})
    assert response.status_code == 200, response.content
    return response.json()


# -- rules and the daily job ---------------------------------------------------------------


def test_built_in_rules_make_every_household_due_once(world: World) -> None:
    totals = derive_due_visits()
    assert totals == {"created": 3, "updated": 0, "cancelled": 0, "open": 3}
    reasons = {t.household_id: t.data["interval_days"] for t in open_tasks()}
    # A: living alone and 80+ (weekly); B: 80+ only (yearly); C: disabled (monthly).
    assert reasons == {world.household_a.pk: 7, world.household_b.pk: 365, world.household_c.pk: 30}
    events = StreamEvent.objects.count()
    assert derive_due_visits() == {"created": 0, "updated": 0, "cancelled": 0, "open": 3}
    assert StreamEvent.objects.count() == events  # the second run changed and told nothing


def test_community_rules_in_the_admin_replace_the_defaults(world: World) -> None:
    VisitRule.objects.create(community=world.c1, name="高龄", tags=["aged_80"], interval_days=14)
    derive_due_visits()
    by_household = {t.household_id: t for t in open_tasks()}
    # Community 1 has only the 80+ rule: both its households fortnightly; community 2 defaults.
    assert by_household[world.household_a.pk].data["interval_days"] == 14
    assert by_household[world.household_b.pk].data["interval_days"] == 14
    assert by_household[world.household_c.pk].data["interval_days"] == 30
    VisitRule.objects.filter(community=world.c1).update(tags=["disabled"])
    totals = derive_due_visits()
    assert totals["cancelled"] == 2  # no rule makes community 1's households due any more


def test_a_recent_visit_makes_a_household_due_again_after_its_interval(
    world: World, client_for: Any
) -> None:
    derive_due_visits()
    client = client_for(world.worker_a)
    eight_days_ago = timezone.now() - timedelta(days=8)
    sync(client, record(world.household_a.pk, at=eight_days_ago))
    assert not open_tasks(household=world.household_a)  # the visit closed the routine task
    derive_due_visits()
    (task,) = open_tasks(household=world.household_a)
    assert task.due_at.date() <= (timezone.localdate() - timedelta(days=1))  # overdue
    today = client.get("/api/v1/visits/today").json()
    assert today["stops"][0]["reasons"][0]["overdue"] is True
    # Visited three days ago instead: not due.
    sync(client, record(world.household_a.pk, at=timezone.now() - timedelta(days=3)))
    derive_due_visits()
    assert not open_tasks(household=world.household_a)


def test_nobody_home_keeps_the_task_open_and_counts_an_attempt(
    world: World, client_for: Any
) -> None:
    derive_due_visits()
    (task,) = open_tasks(household=world.household_a)
    sync(client_for(world.worker_a), record(world.household_a.pk, present=False, task_id=task.pk))
    task.refresh_from_db()
    assert (task.state, task.attempts) == ("open", 1)


def test_the_daily_job_runs_on_the_durable_clock_once_and_re_arms(world: World) -> None:
    assert clock.ensure_recurring() >= 1
    assert clock.ensure_recurring() == 0  # already armed
    timer = Timer.objects.get(kind=DAILY)
    local = timezone.localtime(timer.due_at)
    assert (local.hour, local.minute) == (5, 0)
    first_due = timer.due_at
    assert clock.fire_due(now=first_due) == 1  # the daily timer fans out one per community
    assert Timer.objects.filter(kind="visits.derive", fired_at__isnull=True).count() == 2
    assert clock.fire_due(now=first_due) == 2
    assert len(open_tasks()) == 3
    timer.refresh_from_db()
    assert timer.fired_at is None and timer.due_at == next_daily_run(first_due)
    assert timer.due_at - first_due == timedelta(days=1)
    # Firing again at the same moment finds nothing due; running the job again changes nothing.
    assert clock.fire_due(now=local) == 0
    assert derive_due_visits()["created"] == 0
    assert VisitTask.objects.count() == 3


# -- one-off tasks from other parts --------------------------------------------------------


def test_a_resolved_emergency_raises_a_follow_up_within_24_hours(
    world: World,
    device_a: SignedDevice,  # noqa: F811
    client_for: Any,
) -> None:
    alert = alert_of(device_a.press())
    client = client_for(world.worker_a)
    client.post(f"/api/v1/alerts/{alert.pk}/accept")
    client.post(f"/api/v1/alerts/{alert.pk}/resolve", {"disposition": "assisted_on_site"})
    (task,) = open_tasks(kind="alert_follow_up")
    alert.refresh_from_db()
    assert task.household == world.household_a and task.source_ref == str(alert.pk)
    assert alert.resolved_at is not None
    assert task.due_at == alert.resolved_at + timedelta(hours=24)
    event = StreamEvent.objects.get(user=world.worker_a, type="visit.task")
    assert event.urgent and event.data["task_id"] == task.pk
    pushed = push_data(event)
    assert pushed["title"] == "紧急求助回访" and pushed["task_id"] == str(task.pk)
    assert world.household_a.address not in pushed.values()
    today = client.get("/api/v1/visits/today").json()
    assert today["stops"][0]["reasons"][0]["kind"] == "alert_follow_up"


def test_a_silent_device_raises_a_device_check(
    world: World,
    device_a: SignedDevice,  # noqa: F811
) -> None:
    device_a.post("/api/v1/device/heartbeat", {"battery": 80})
    silent = timezone.now() + timedelta(hours=3, seconds=1)
    clock.fire_due(now=silent)  # the timer armed at registration moves to the heartbeat's
    clock.fire_due(now=silent)
    (task,) = open_tasks(kind="device_check")
    assert task.household == world.household_a
    clock.fire_due(now=timezone.now() + timedelta(hours=7))
    assert len(open_tasks(kind="device_check")) == 1


def test_a_reassigned_grid_tells_the_new_worker_in_the_same_transaction(world: World) -> None:
    derive_due_visits()
    with transaction.atomic():
        do_save_grid_assignment(assignment=GridAssignment(user=world.worker_b, grid=world.grid_a))
        # Recorded with the change, before commit: a crash cannot keep one without the other.
        event = StreamEvent.objects.filter(user=world.worker_b, type="visit.tasks_changed").latest(
            "seq"
        )
    assert event.urgent and event.data == {
        "kind": "tasks_changed",
        "reason": "grid_assigned",
        "grid_ids": [world.grid_a.pk],
    }
    with pytest.raises(RuntimeError), transaction.atomic():
        do_remove_grid_assignment(assignment=world.worker_b.b_posts.get(grid=world.grid_a))
        assert world.worker_b.streamevent_set.filter(data__reason="grid_unassigned").exists()
        raise RuntimeError("crash before commit")
    assert not world.worker_b.streamevent_set.filter(data__reason="grid_unassigned").exists()
    assert world.worker_b.b_posts.filter(grid=world.grid_a).exists()  # neither was kept
    # Deleting a worker (and so their B posts) leaves no event behind for them.
    world.worker_b.shifts.all().delete()
    world.worker_b.delete()
    assert not StreamEvent.objects.filter(user_id=event.user_id).exists()


# -- check-in and the geofence -------------------------------------------------------------


def checkin(client: Any, household: Household, lat: float, lon: float, accuracy: float) -> Any:
    return client.post(
        "/api/v1/visits/checkin",
        {
            "client_uuid": str(uuid.uuid4()),
            "household_id": household.pk,
            "location": {"lat": lat, "lon": lon, "accuracy_m": accuracy},
        },
    )


def test_the_fence_is_radius_plus_capped_accuracy_and_misses_are_flagged(
    world: World, client_for: Any
) -> None:
    client = client_for(world.worker_a)
    home = world.household_a.location
    metre = 1 / 95_500  # degrees of longitude per metre at 30.9° N
    inside = checkin(client, world.household_a, home.y, home.x + 65 * metre, 20).json()
    assert inside["flag"] is None and inside["fence_m"] == 70  # 50 + 20
    outside = checkin(client, world.household_a, home.y, home.x + 500 * metre, 20).json()
    assert outside["flag"] == "outside" and 480 < outside["distance_m"] < 520
    vague = checkin(client, world.household_a, home.y, home.x, 400).json()
    assert vague["flag"] == "inaccurate" and vague["fence_m"] == 150  # accuracy capped at 100
    VisitSettings.objects.create(community=world.c1, checkin_radius_m=600)
    wide = checkin(client, world.household_a, home.y, home.x + 500 * metre, 20).json()
    assert wide["flag"] is None
    # Supervisors list the flagged visits; workers of other grids see none of them.
    flagged = client_for(world.supervisor_1).get("/api/v1/visits", {"flagged": "true"}).json()
    assert {v["client_uuid"] for v in flagged["items"]} == {
        outside["client_uuid"],
        vague["client_uuid"],
    }
    assert client_for(world.worker_b).get("/api/v1/visits").json()["count"] == 0
    assert checkin(client, world.household_b, home.y, home.x, 5).status_code == 404


# -- the batch sync ------------------------------------------------------------------------


def test_each_item_gets_its_own_result_and_a_bad_one_spoils_nothing(
    world: World, client_for: Any
) -> None:
    client = client_for(world.worker_a)
    phone_time = timezone.now() - timedelta(hours=5)
    good = record(world.household_a.pk, at=phone_time)
    body = sync(
        client,
        good,
        record(world.household_b.pk),  # out of scope
        {"client_uuid": str(uuid.uuid4()), "household_id": "one", "present": "maybe"},
        record(world.household_a.pk, at=timezone.now() + timedelta(days=3)),
        good,  # twice in one batch
        record(world.household_a.pk, task_id=987_654),
        "not even an object",
        record(world.household_a.pk, lat=None, lon=None),
    )
    statuses = [(r["status"], (r["reason"] or {}).get("code")) for r in body["results"]]
    assert statuses == [
        ("created", None),
        ("rejected", "not_found"),
        ("rejected", "validation_error"),
        ("rejected", "visited_at_in_future"),
        ("duplicate", None),
        ("rejected", "not_found"),
        ("rejected", "validation_error"),
        ("created", None),
    ]
    assert set(body["results"][2]["reason"]["fields"]) == {"household_id", "present", "visited_at"}
    assert body["results"][7]["flag"] == "no_fix"
    visit = Visit.objects.get(client_uuid=good["client_uuid"])
    assert visit.visited_at == phone_time  # the phone's time...
    assert abs((visit.received_at - timezone.now()).total_seconds()) < 10  # ...and ours
    assert visit.counted_at == phone_time and visit.post == "b"


def test_more_than_200_records_is_refused_whole(world: World, client_for: Any) -> None:
    client = client_for(world.worker_a)
    records = [record(world.household_a.pk) for _ in range(201)]
    response = client.post("/api/v1/visits/sync", {"records": records})
    assert response.status_code == 422
    assert Visit.objects.count() == 0
    assert len(sync(client, *records[:200])["results"]) == 200
    assert Visit.objects.count() == 200


def test_someone_elses_uuid_is_rejected_not_merged(world: World, client_for: Any) -> None:
    shared = uuid.uuid4()
    sync(client_for(world.worker_b), record(world.household_b.pk, client_uuid=shared))
    body = sync(client_for(world.worker_a), record(world.household_a.pk, client_uuid=shared))
    assert body["results"][0]["reason"]["code"] == "client_uuid_conflict"


def test_findings_open_a_follow_up_or_wait_for_the_service_desk(
    world: World, client_for: Any
) -> None:
    client = client_for(world.worker_a)
    findings = [
        {"category": "safety", "description": "燃气灶老化", "action": "follow_up"},
        {"category": "needs", "description": "申请居家养老服务", "action": "service_case"},
        {"category": "living", "description": "屋内整洁"},
    ]
    sync(client, record(world.household_a.pk, findings=findings))
    follow_up, referred, note = VisitFinding.objects.order_by("pk")
    assert (
        follow_up.follow_up_task is not None
        and follow_up.follow_up_task.kind == "finding_follow_up"
    )
    # The service desk is installed: the finding became a case in the same step.
    assert referred.case_state == "opened" and note.case_state == ""
    case = Case.objects.get(number=referred.case_ref)
    assert (case.household, case.filed_by, case.channel) == (
        world.household_a,
        world.worker_a,
        "doorstep",
    )
    assert "申请居家养老服务" in case.description
    assert case.item.code == "visit-referral"


# -- the walking route ---------------------------------------------------------------------


def test_today_is_a_nearest_neighbour_walk_from_where_the_worker_is(
    world: World, client_for: Any
) -> None:
    grid = world.grid_a
    # Five more households along the grid; all due (never visited).
    homes = [world.household_a]
    for i, (dx, dy) in enumerate(
        [(0.003, 0.0), (-0.004, 0.002), (0.001, -0.004), (-0.001, 0.003), (0.004, 0.004)]
    ):
        p = Point(117.805 + dx, 30.925 + dy, srid=4326)
        b = Building.objects.create(grid=grid, name=f"楼{i}", location=p)
        homes.append(
            Household.objects.create(grid=grid, building=b, address=f"幸福路{i}号", location=p)
        )
    derive_due_visits()
    client = client_for(world.worker_a)
    WorkerPosition.objects.create(user=world.worker_a, location=Point(117.801, 30.921, srid=4326))
    today = client.get("/api/v1/visits/today").json()
    assert today["origin"] == "last_position"
    order = [s["household"]["id"] for s in today["stops"]]
    assert sorted(order) == sorted(h.pk for h in homes)
    stops = [geo.Stop(h.pk, h.location.x, h.location.y) for h in homes]
    expected = geo.walking_order_python(stops, (117.801, 30.921))
    assert order == [hid for hid, _ in expected]  # PostGIS and the embedded fallback agree
    legs = [s["leg_m"] for s in today["stops"]]
    assert legs == pytest.approx([leg for _, leg in expected], rel=1e-3)
    assert today["total_m"] == pytest.approx(sum(legs), abs=1)
    assert client.get("/api/v1/visits/today", {"lat": 30.9}).status_code == 422
