"""Benchmark: POST /api/v1/visits/sync with 200 visit records on PostGIS, through the whole
stack (auth, per-item validation, scope, one geofence query, bulk writes, task closing,
follow-ups and their stream events, commit), against a bare floor measured in the same run:
bulk_create of the same 200 rows in one committed transaction.

It runs in its own database (`bench_visits_<name>`, created with migrations on first use and
kept), so it never writes into the database it is pointed at.

    run(small) -> {"name": {"value", "unit", "baseline", "ratio"}}
"""

from __future__ import annotations

import os
import random
import statistics
import time
import uuid
from datetime import timedelta
from typing import Any

BATCH = 200


def _setup_django() -> None:
    import django
    from django.apps import apps

    if not apps.ready:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
        django.setup()


def _bench_database() -> None:
    from django.db import connection

    settings = connection.settings_dict
    assert settings["ENGINE"].endswith("postgis"), "the sync benchmark needs PostGIS"
    if not settings["NAME"].startswith("bench_visits_"):
        settings["TEST"]["NAME"] = f"bench_visits_{settings['NAME']}"
        connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=True)


def _world(households: int) -> tuple[Any, list[Any]]:
    from django.contrib.gis.geos import MultiPolygon, Point, Polygon

    from backend.accounts.models import GridAssignment, Role, User
    from backend.people.models import Resident, ResidentTag
    from backend.territory.models import Community, District, Grid, Household

    tag = uuid.uuid4().hex[:8]
    district = District.objects.create(code=f"B{tag}", name="bench")
    community = Community.objects.create(district=district, code=f"B{tag}", name="bench")
    x, y = 117.80, 30.92
    square = Polygon(((x, y), (x + 0.01, y), (x + 0.01, y + 0.01), (x, y + 0.01), (x, y)))
    grid = Grid.objects.create(
        community=community, code=f"B{tag}", name="bench", boundary=MultiPolygon(square, srid=4326)
    )
    rng = random.Random(4)
    homes = Household.objects.bulk_create(
        [
            Household(
                grid=grid,
                address=f"bench {i}",
                location=Point(x + rng.random() * 0.01, y + rng.random() * 0.01, srid=4326),
            )
            for i in range(households)
        ]
    )
    residents = Resident.objects.bulk_create(
        [
            Resident(
                household=h,
                name="居民",
                gender="F",
                birth_date="1940-01-01",
                id_number="",
                id_number_masked="",
                id_number_digest=uuid.uuid4().hex,
                legal_basis="statutory_duty",
            )
            for h in homes
        ]
    )
    ResidentTag.objects.bulk_create(
        [ResidentTag(resident=r, tag="aged_80") for r in residents[::3]]
        + [ResidentTag(resident=r, tag="living_alone") for r in residents[::3]]
    )
    worker = User.objects.create_user(
        f"19{random.randrange(10**9):09d}", "bench-password-1", name="bench", role=Role.WORKER
    )
    GridAssignment.objects.create(user=worker, grid=grid)
    return worker, homes


def _records(homes: list[Any]) -> list[dict[str, Any]]:
    from django.utils import timezone

    now = timezone.now()
    out = []
    for i, home in enumerate(homes[:BATCH]):
        findings = (
            [{"category": "health", "description": "血压偏高", "action": "follow_up"}]
            if i % 10 == 0
            else []
        )
        out.append(
            {
                "client_uuid": str(uuid.uuid4()),
                "household_id": home.pk,
                "visited_at": (now - timedelta(minutes=BATCH - i)).isoformat(),
                "location": {
                    "lat": home.location.y,
                    "lon": home.location.x + 0.0002,
                    "accuracy_m": 8,
                },
                "present": i % 7 != 0,
                "checklist": {
                    "health": {"status": "ok"},
                    "needs": {"status": "concern", "note": "助餐"},
                },
                "note": "情况良好，已宣传一键通使用方法。",
                "findings": findings,
                "photo_ids": [str(uuid.uuid4())],
            }
        )
    return out


def _floor(worker: Any, homes: list[Any]) -> float:
    from django.db import transaction
    from django.utils import timezone

    from backend.visits.models import Visit

    now = timezone.now()
    rows = [
        Visit(
            client_uuid=uuid.uuid4(),
            worker=worker,
            household=h,
            grid_id=h.grid_id,
            community_id=h.grid.community_id,
            visited_at=now,
            counted_at=now,
            state="completed",
            present=True,
            location=h.location,
            checklist={"health": {"status": "ok"}},
            note="情况良好",
        )
        for h in homes[:BATCH]
    ]
    started = time.perf_counter()
    with transaction.atomic():
        Visit.objects.bulk_create(rows)
    elapsed = time.perf_counter() - started
    Visit.objects.filter(pk__in=[r.pk for r in rows]).delete()
    return elapsed


def _cleanup(worker: Any) -> None:
    from backend.core.models import StreamEvent
    from backend.people.models import Resident
    from backend.visits.models import Visit, VisitTask

    household_ids = list(worker.b_posts.values_list("grid__households", flat=True))
    grid = worker.b_posts.get().grid
    community = grid.community
    Visit.objects.filter(household_id__in=household_ids).delete()
    VisitTask.objects.filter(household_id__in=household_ids).delete()
    StreamEvent.objects.filter(user=worker).delete()
    Resident.objects.filter(household_id__in=household_ids).delete()
    worker.b_posts.all().delete()
    worker.mobile_sessions.all().delete()
    # The audit trail is append-only and names the worker: the account stays, closed.
    worker.is_active = False
    worker.save(update_fields=["is_active"])
    grid.households.all().delete()
    grid.delete()
    district = community.district
    community.delete()
    district.delete()


def run(small: bool = False) -> dict[str, dict[str, float | str]]:
    _setup_django()
    _bench_database()
    from django.conf import settings
    from django.test import Client

    from backend.visits.actions import derive_due_visits

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    rounds = 2 if small else 5
    worker, homes = _world(BATCH * rounds)
    try:
        derive_due_visits(community_ids=[homes[0].grid.community_id])
        login = Client().post(
            "/api/v1/auth/login",
            {"phone": worker.phone, "password": "bench-password-1"},
            content_type="application/json",
        )
        token = login.json()["access_token"]
        client = Client(headers={"Authorization": f"Bearer {token}"})
        first, again, floors = [], [], []
        for r in range(rounds):
            batch = {"records": _records(homes[r * BATCH : (r + 1) * BATCH])}
            started = time.perf_counter()
            response = client.post("/api/v1/visits/sync", batch, content_type="application/json")
            first.append(time.perf_counter() - started)
            assert response.status_code == 200 and response.json()["created"] == BATCH, (
                response.content
            )
            started = time.perf_counter()
            response = client.post("/api/v1/visits/sync", batch, content_type="application/json")
            again.append(time.perf_counter() - started)
            assert response.json()["duplicate"] == BATCH, response.content
            floors.append(_floor(worker, homes[r * BATCH : (r + 1) * BATCH]))
    finally:
        _cleanup(worker)
    sync_s, again_s, floor_s = (statistics.median(x) for x in (first, again, floors))
    return {
        "visits_sync_200_s": {
            "value": round(sync_s, 3),
            "unit": "s/batch",
            "baseline": round(floor_s, 3),
            "ratio": round(sync_s / floor_s, 2),
        },
        "visits_sync_records_per_s": {
            "value": round(BATCH / sync_s),
            "unit": "records/s",
            "baseline": BATCH,  # the budget: 200 records within 1 s
            "ratio": round(BATCH / sync_s / BATCH, 2),
        },
        "visits_sync_200_again_s": {
            "value": round(again_s, 3),
            "unit": "s/batch",
            "baseline": round(floor_s, 3),
            "ratio": round(again_s / floor_s, 2),
        },
    }


if __name__ == "__main__":
    for name, row in run(small=bool(os.environ.get("BENCH_SMALL"))).items():
        print(
            f"{name:28} {row['value']:>10} {row['unit']:10} "
            f"baseline {row['baseline']:>8}  x{row['ratio']}"
        )
