"""A grid worker's day through the API: today's list → check-in → record with photos →
sync twice → coverage moves."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client

from backend.core.models import StreamEvent
from backend.photos.models import Photo
from backend.visits.actions import derive_due_visits
from backend.visits.models import Visit, VisitFinding, VisitTask
from tests.conftest import World
from tests.photos.test_pipeline import jpeg_with_exif
from tests.visits.conftest import record, upload

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, ...]:
    return (
        Visit.objects.count(),
        VisitTask.objects.count(),
        VisitTask.objects.filter(state="open").count(),
        VisitFinding.objects.count(),
        Photo.objects.count(),
        StreamEvent.objects.count(),
    )


def grid_row(body: dict[str, Any], grid_id: int) -> dict[str, Any]:
    return next(g for g in body["grids"] if g["grid_id"] == grid_id)


def test_a_workers_day_end_to_end(world: World, client_for: Any) -> None:
    derive_due_visits()
    worker = client_for(world.worker_a)
    supervisor = client_for(world.supervisor_1)

    before = grid_row(supervisor.get("/api/v1/visits/coverage").json(), world.grid_a.pk)
    assert (before["households"], before["visited_in_cycle"], before["share_visited"]) == (1, 0, 0)
    assert (before["vulnerable"], before["share_vulnerable_on_schedule"]) == (1, 0)

    # Today's list: household A, due because its resident lives alone and is over 80.
    today = worker.get("/api/v1/visits/today", {"lat": 30.92, "lon": 117.80}).json()
    assert today["origin"] == "query"
    (stop,) = today["stops"]
    assert stop["household"]["id"] == world.household_a.pk
    assert stop["leg_m"] > 500  # from the corner of the grid
    assert [r["name"] for r in stop["residents"]] == ["张桂英"]
    assert "living_alone" in stop["residents"][0]["care_tags"]
    (reason,) = stop["reasons"]
    assert reason["kind"] == "routine" and "每 7 天" in reason["reason"]
    assert stop["last_visit"] is None

    # Check in at the door: 20 m away with a 10 m fix is inside 50 + 10 m.
    visit_uuid = uuid.uuid4()
    checkin = {
        "client_uuid": str(visit_uuid),
        "household_id": world.household_a.pk,
        "task_id": reason["task_id"],
        "location": {"lat": 30.925, "lon": 117.80521, "accuracy_m": 10},
    }
    first = worker.post("/api/v1/visits/checkin", checkin)
    assert first.status_code == 201, first.content
    assert first.json()["flag"] is None and 15 < first.json()["distance_m"] < 25
    assert first.json()["fence_m"] == 60
    again = worker.post("/api/v1/visits/checkin", checkin)
    assert again.status_code == 200 and again.json()["visit_id"] == first.json()["visit_id"]

    # Two photos: one before the record arrives (offline), one after.
    photo_1, photo_2 = uuid.uuid4(), uuid.uuid4()
    early = upload(
        worker,
        world.household_a.pk,
        visit_uuid,
        jpeg_with_exif((1200, 900)),
        client_photo_id=photo_1,
    )
    assert early.status_code == 201, early.content
    assert early.json()["gps"] == {"lat": pytest.approx(30.93), "lon": pytest.approx(117.81)}

    batch = {
        "records": [
            record(
                world.household_a.pk,
                client_uuid=visit_uuid,
                task_id=reason["task_id"],
                checklist={"health": {"status": "concern", "note": "血压偏高"}},
                note="老人精神不错，血压偏高。",
                findings=[
                    {
                        "category": "health",
                        "description": "血压 160/95，需复查",
                        "action": "follow_up",
                        "follow_up_days": 3,
                    }
                ],
                photo_ids=[str(photo_1), str(photo_2)],
            )
        ]
    }
    synced = worker.post("/api/v1/visits/sync", batch)
    assert synced.status_code == 200, synced.content
    body = synced.json()
    assert (body["created"], body["duplicate"], body["rejected"]) == (1, 0, 0)
    assert body["results"][0]["status"] == "created"

    # The same batch again (the phone never heard the answer): nothing changes.
    snapshot = counts()
    replay = worker.post("/api/v1/visits/sync", batch).json()
    assert (replay["created"], replay["duplicate"], replay["rejected"]) == (0, 1, 0)
    assert replay["results"][0]["visit_id"] == body["results"][0]["visit_id"]
    assert counts() == snapshot

    late = upload(
        worker,
        world.household_a.pk,
        visit_uuid,
        jpeg_with_exif((800, 600)),
        client_photo_id=photo_2,
    )
    assert late.status_code == 201

    detail = supervisor.get(f"/api/v1/visits/{visit_uuid}").json()
    assert detail["state"] == "completed" and detail["present"] is True
    assert detail["checklist"]["health"] == {"status": "concern", "note": "血压偏高"}
    assert detail["photos_missing"] == [] and len(detail["photos"]) == 2
    served = Client().get(detail["photos"][0]["url"])
    assert served.status_code == 200 and served["X-Content-Type-Options"] == "nosniff"
    assert b"Exif" not in served.getvalue()
    (finding,) = detail["findings"]
    assert finding["action"] == "follow_up" and finding["follow_up_task_id"]

    # Coverage moved; the routine task is done, the finding's follow-up is on the list.
    after = grid_row(supervisor.get("/api/v1/visits/coverage").json(), world.grid_a.pk)
    assert (after["visited_in_cycle"], after["share_visited"]) == (1, 1.0)
    assert after["share_vulnerable_on_schedule"] == 1.0 and after["share_geofence_passed"] == 1.0
    (me,) = [
        w
        for w in supervisor.get("/api/v1/visits/coverage").json()["workers"]
        if w["user_id"] == world.worker_a.pk
    ]
    assert me["share_visited"] == 1.0
    today = worker.get("/api/v1/visits/today").json()
    assert [r["kind"] for s in today["stops"] for r in s["reasons"]] == ["finding_follow_up"]
    assert today["stops"][0]["last_visit"]["client_uuid"] == str(visit_uuid)
    follow_up = StreamEvent.objects.filter(user=world.worker_a, type="visit.tasks_changed").latest(
        "seq"
    )
    assert follow_up.data["reason"] == "finding_follow_up"
    assert follow_up.data["task_ids"] == [finding["follow_up_task_id"]]
