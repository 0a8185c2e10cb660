"""GPS fixes and the one geofence rule.

A `Fix` is always WGS-84. Phones using Chinese map SDKs report GCJ-02 (AMap, Tencent) or BD-09
(Baidu), 50-500 m off WGS-84 — more than a 50 m fence — so every location input names its
datum and `Fix.reported` converts it here, once, with geocoordinates-rs (its refined inverses
are within 0.5 m for GCJ-02 and 1 m for BD-09; outside China both datums equal WGS-84).

The fence: a fix is within reach of a place when its distance is at most the radius plus the
reported accuracy, counted up to a cap (an unknown accuracy counts as the cap); a fix within
reach whose accuracy is unknown or above the cap is flagged inaccurate. Distances are measured
on the geography (PostGIS) or by haversine on the embedded SpatiaLite default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import geocoordinates_ffi as gc
from django.contrib.gis.geos import Point
from django.db import connection

Datum = Literal["wgs84", "gcj02", "bd09"]
DATUMS: tuple[Datum, ...] = get_args(Datum)
EARTH_RADIUS_M = 6_371_008.8
MAX_ACCURACY_M = 100_000


def to_wgs84(*, lat: float, lon: float, datum: Datum) -> tuple[float, float]:
    """(lat, lon) in WGS-84 for a reading in `datum`; ValueError for a point off the globe."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):  # also False for NaN
        raise ValueError(f"({lat}, {lon}) is not a position")
    try:
        if datum == "gcj02":
            w = gc.gcj02_to_wgs84_refined(gc.Gcj02(lat=lat, lon=lon))
        elif datum == "bd09":
            w = gc.bd09_to_wgs84_refined(gc.Bd09(lat=lat, lon=lon))
        elif datum == "wgs84":
            return lat, lon
        else:
            raise ValueError(f"unknown datum {datum!r}")
    except gc.GeoError as exc:
        raise ValueError(f"({lat}, {lon}) is not a position") from exc
    return w.lat, w.lon


@dataclass(frozen=True)
class Fix:
    """A position report: WGS-84 degrees and the reported accuracy in metres."""

    lat: float
    lon: float
    accuracy_m: float | None = None

    @classmethod
    def reported(
        cls, *, lat: float, lon: float, accuracy_m: float | None = None, datum: Datum = "wgs84"
    ) -> Fix:
        """The fix for a reading in the phone's datum; ValueError for anything that is not a
        position (off the globe, NaN or infinite, an accuracy that is not 0-100 km)."""
        if accuracy_m is not None and not (
            isinstance(accuracy_m, int | float)
            and not isinstance(accuracy_m, bool)
            and 0 <= accuracy_m <= MAX_ACCURACY_M
        ):
            raise ValueError(f"accuracy {accuracy_m!r} is not a distance")
        wgs_lat, wgs_lon = to_wgs84(lat=lat, lon=lon, datum=datum)
        return cls(wgs_lat, wgs_lon, accuracy_m)

    def point(self) -> Point:
        return Point(self.lon, self.lat, srid=4326)


# -- the fence -----------------------------------------------------------------------------

NONE, OUTSIDE, INACCURATE, NO_FIX = "", "outside", "inaccurate", "no_fix"


@dataclass(frozen=True)
class Fence:
    """Radius around a place and the cap on how much a fix's accuracy may widen it (metres)."""

    radius_m: float = 50
    accuracy_cap_m: float = 100

    def reach_m(self, fix: Fix | None) -> float:
        accuracy = fix.accuracy_m if fix is not None and fix.accuracy_m is not None else None
        widen = self.accuracy_cap_m if accuracy is None else max(0.0, accuracy)
        return float(self.radius_m) + min(widen, float(self.accuracy_cap_m))


@dataclass(frozen=True)
class Verdict:
    distance_m: float | None
    reach_m: float | None
    flag: str  # NONE, OUTSIDE, INACCURATE or NO_FIX

    @property
    def within(self) -> bool:
        return self.flag in (NONE, INACCURATE)


def judge(places: Sequence[tuple[Point, Fix | None, Fence]]) -> list[Verdict]:
    """The verdict on each (place, fix, fence); the distances of a whole batch in one query."""
    measured = [(place, fix) for place, fix, _ in places if fix is not None]
    distances = iter(distances_m(measured))
    out = []
    for _, fix, fence in places:
        if fix is None:
            out.append(Verdict(None, None, NO_FIX))
            continue
        distance, reach = next(distances), fence.reach_m(fix)
        if distance > reach:
            flag = OUTSIDE
        elif fix.accuracy_m is None or fix.accuracy_m > fence.accuracy_cap_m:
            flag = INACCURATE
        else:
            flag = NONE
        out.append(Verdict(round(distance, 1), reach, flag))
    return out


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distances_m(pairs: Sequence[tuple[Point, Fix]]) -> list[float]:
    """Metres from each place (a WGS-84 point) to its fix: on the spheroid in one query on
    PostGIS, by haversine elsewhere."""
    if not pairs:
        return []
    if connection.vendor != "postgresql":
        return [haversine_m(fix.lon, fix.lat, place.x, place.y) for place, fix in pairs]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT ST_Distance(
                ST_SetSRID(ST_MakePoint(v.plon, v.plat), 4326)::geography,
                ST_SetSRID(ST_MakePoint(v.lon, v.lat), 4326)::geography)
            FROM unnest(%s::float8[], %s::float8[], %s::float8[], %s::float8[])
                 WITH ORDINALITY AS v(plon, plat, lon, lat, i)
            ORDER BY v.i
            """,
            [
                [place.x for place, _ in pairs],
                [place.y for place, _ in pairs],
                [fix.lon for _, fix in pairs],
                [fix.lat for _, fix in pairs],
            ],
        )
        return [float(d) for (d,) in cursor.fetchall()]
