"""Run in a subprocess by test_embedded_default: the SpatiaLite default from scratch."""

from __future__ import annotations

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")


def main() -> None:
    django.setup()
    from datetime import date

    from django.contrib.gis.geos import MultiPolygon, Point, Polygon
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from backend.accounts.models import GridAssignment, Role, User
    from backend.people.actions import do_create_resident
    from backend.people.idnumbers import check_digit
    from backend.territory.models import Community, District, Grid, Household

    call_command("migrate", verbosity=0)
    district = District.objects.create(code="340705", name="铜官区")
    community = Community.objects.create(district=district, code="C01", name="幸福社区")
    grids = []
    for i in range(2):
        x = 117.80 + i * 0.01
        square = Polygon(((x, 30.92), (x + 0.01, 30.92), (x + 0.01, 30.93), (x, 30.93), (x, 30.92)))
        grids.append(
            Grid.objects.create(
                community=community,
                code=f"G{i}",
                name=f"{i}网格",
                boundary=MultiPolygon(square, srid=4326),
            )
        )
    for i, grid in enumerate(grids):
        household = Household.objects.create(
            grid=grid, address=f"幸福路{i}号", location=Point(117.805 + i * 0.01, 30.925, srid=4326)
        )
        first17 = f"34070519400101{i:03d}"
        do_create_resident(
            household=household,
            name=f"居民{i}",
            gender="F",
            birth_date=date(1940, 1, 1),
            id_number=first17 + check_digit(first17),
            legal_basis="statutory_duty",
            tags=["aged_80"],
        )
    worker = User.objects.create_user(
        "13100000001", "probe-password-1", name="网格员", role=Role.WORKER
    )
    GridAssignment.objects.create(user=worker, grid=grids[0])
    containing = Grid.objects.filter(boundary__contains=Point(117.805, 30.925, srid=4326))

    client = Client()
    token = client.post(
        "/api/v1/auth/login",
        {"phone": "13100000001", "password": "probe-password-1"},
        content_type="application/json",
    ).json()["access_token"]
    health = client.get("/api/v1/health")
    residents = client.get("/api/v1/residents", HTTP_AUTHORIZATION=f"Bearer {token}")
    # A visit day on SpatiaLite: the geofence and the route use the Python fallbacks.
    from backend.visits.actions import derive_due_visits

    derive_due_visits()
    worker_client = Client(headers={"Authorization": f"Bearer {token}"})
    today = worker_client.get("/api/v1/visits/today", {"lat": "30.92", "lon": "117.80"}).json()
    visit_uuid = "6f1c2a9e-0000-4000-8000-000000000001"
    checkin = worker_client.post(
        "/api/v1/visits/checkin",
        {
            "client_uuid": visit_uuid,
            "household_id": today["stops"][0]["household"]["id"],
            "location": {"lat": 30.925, "lon": 117.8052, "accuracy_m": 10},
        },
        content_type="application/json",
    ).json()
    record = {
        "client_uuid": visit_uuid,
        "household_id": today["stops"][0]["household"]["id"],
        "visited_at": "2026-11-28T09:00:00+08:00",
        "present": True,
    }
    synced = [
        worker_client.post(
            "/api/v1/visits/sync", {"records": [record]}, content_type="application/json"
        ).json()
        for _ in range(2)
    ]
    json.dump(
        {
            "engine": connection.settings_dict["ENGINE"],
            "health_status": health.status_code,
            "health": health.json(),
            "residents_status": residents.status_code,
            "resident_names": [r["name"] for r in residents.json()["items"]],
            "containing_grid": [g.code for g in containing],
            "visit_stops": len(today["stops"]),
            "checkin": [checkin["flag"], round(checkin["distance_m"])],
            "sync": [[s["created"], s["duplicate"]] for s in synced],
        },
        sys.stdout,
        ensure_ascii=False,
    )


if __name__ == "__main__":
    main()
