"""GPS fixes in their datum (converted once, in backend.core.geo) and the one fence rule."""

from __future__ import annotations

import uuid
from typing import Any

import geocoordinates_ffi as gc
import pytest
from django.contrib.gis.geos import Point

from backend.core.geo import DATUMS, Fence, Fix, haversine_m, judge, to_wgs84
from tests.conftest import World

# Published pairs from the eviltransform project's test suite: (WGS-84 lat, lon, GCJ-02 lat, lon)
WGS_GCJ = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]
# The coordtransform project's published example: GCJ-02 (39.915, 116.404) is BD-09
# (39.92133699351021, 116.41036949371029) and WGS-84 about (39.91359571849836, 116.39775550083061).
BD = (39.92133699351021, 116.41036949371029)
BD_AS_WGS = (39.91359571849836, 116.39775550083061)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return haversine_m(a[1], a[0], b[1], b[0])


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), WGS_GCJ)
def test_gcj02_readings_come_back_to_the_published_wgs84_point(
    wgs_lat: float, wgs_lon: float, gcj_lat: float, gcj_lon: float
) -> None:
    back = to_wgs84(lat=gcj_lat, lon=gcj_lon, datum="gcj02")
    assert metres(back, (wgs_lat, wgs_lon)) < 0.5
    # ... which matters: read as WGS-84, the raw GCJ-02 numbers are far outside a 50 m fence.
    assert metres((gcj_lat, gcj_lon), (wgs_lat, wgs_lon)) > 300


def test_bd09_readings_come_back_to_the_published_wgs84_point() -> None:
    fix = Fix.reported(lat=BD[0], lon=BD[1], accuracy_m=8, datum="bd09")
    assert metres((fix.lat, fix.lon), BD_AS_WGS) < 3  # the example's inverse is one-step
    assert fix.accuracy_m == 8
    assert metres(BD, BD_AS_WGS) > 900


def test_wgs84_is_kept_and_nonsense_is_refused() -> None:
    assert Fix.reported(lat=30.925, lon=117.805) == Fix(30.925, 117.805, None)
    assert to_wgs84(lat=48.85, lon=2.35, datum="gcj02") == pytest.approx((48.85, 2.35))  # Paris
    for lat, lon in ((91.0, 0.0), (0.0, 181.0), (float("nan"), 0.0)):
        for datum in DATUMS:
            with pytest.raises(ValueError):
                to_wgs84(lat=lat, lon=lon, datum=datum)


@pytest.mark.django_db
def test_the_fence_is_radius_plus_accuracy_up_to_its_cap() -> None:
    home = Point(117.805, 30.925, srid=4326)
    metre = 1 / 95_500  # degrees of longitude per metre at 30.9° N
    fence = Fence(radius_m=50, accuracy_cap_m=100)
    near, far, vague, unknown = (
        Fix(30.925, 117.805 + 65 * metre, 20),
        Fix(30.925, 117.805 + 500 * metre, 20),
        Fix(30.925, 117.805, 400),
        Fix(30.925, 117.805 + 120 * metre, None),
    )
    verdicts = judge([(home, f, fence) for f in (near, far, vague, unknown, None)])
    assert [(v.flag, v.reach_m, v.within) for v in verdicts] == [
        ("", 70, True),
        ("outside", 70, False),
        ("inaccurate", 150, True),  # accuracy counted up to the cap
        ("inaccurate", 150, True),  # an unknown accuracy counts as the cap
        ("no_fix", None, False),
    ]
    assert verdicts[0].distance_m == pytest.approx(65, abs=1)
    assert verdicts[1].distance_m == pytest.approx(500, abs=3)


@pytest.mark.django_db
def test_a_check_in_in_gcj02_is_converted_before_the_fence(world: World, client_for: Any) -> None:
    """A phone on a Chinese map SDK reports the household's own position in GCJ-02."""
    home = world.household_a.location
    gcj = gc.wgs84_to_gcj02(gc.Wgs84(lat=home.y, lon=home.x))
    client = client_for(world.worker_a)

    def checkin(datum: str | None) -> dict[str, Any]:
        location: dict[str, Any] = {"lat": gcj.lat, "lon": gcj.lon, "accuracy_m": 10}
        if datum:
            location["datum"] = datum
        body = {"client_uuid": str(uuid.uuid4()), "household_id": world.household_a.pk}
        response = client.post("/api/v1/visits/checkin", {**body, "location": location})
        assert response.status_code == 201, response.content
        return dict(response.json())

    converted = checkin("gcj02")
    assert converted["flag"] is None and converted["distance_m"] < 1
    taken_as_gps = checkin(None)  # the default datum is WGS-84
    assert taken_as_gps["flag"] == "outside" and taken_as_gps["distance_m"] > 300
    refused = client.post(
        "/api/v1/visits/checkin",
        {
            "client_uuid": str(uuid.uuid4()),
            "household_id": world.household_a.pk,
            "location": {"lat": gcj.lat, "lon": gcj.lon, "datum": "tokyo"},
        },
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "validation_error" and list(error["fields"]) == ["location.datum"]


@pytest.mark.django_db
def test_a_reading_its_datum_cannot_hold_is_a_422_not_a_500(world: World, client_for: Any) -> None:
    """BD-09 is GCJ-02 shifted east: at the antimeridian there is no WGS-84 point for it."""
    client = client_for(world.worker_a)
    edge = {"lat": 0.2, "lon": -180.0, "datum": "bd09"}
    position = client.post("/api/v1/me/position", edge)
    assert position.status_code == 422
    assert list(position.json()["error"]["fields"].values()) == ["超出范围。"]
    today = client.get("/api/v1/visits/today", {"lat": -90, "lon": -180, "datum": "bd09"})
    assert today.status_code == 422 and today.json()["error"]["code"] == "validation_error"
    assert client.get("/api/v1/visits/today", {"lat": 30.9, "lon": 117.8}).status_code == 200
