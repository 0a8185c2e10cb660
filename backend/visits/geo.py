"""Distances for check-in and the walking route: geography (metres) on PostGIS.

On PostGIS the fence is `ST_DWithin(household::geography, fix::geography, fence)` and the route
is a recursive nearest-neighbour walk in one query. The embedded SpatiaLite default (`make run`)
uses the same rules with haversine distances in Python.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection

from backend.territory.models import Household

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class FenceCheck:
    household_id: int
    lon: float
    lat: float
    fence_m: float


@dataclass(frozen=True)
class FenceResult:
    distance_m: float
    within: bool


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _postgis() -> bool:
    return connection.vendor == "postgresql"


def fence(checks: Sequence[FenceCheck]) -> list[FenceResult]:
    """Distance from each fix to its household and whether it lies within the fence; one query
    for a whole sync batch."""
    if not checks:
        return []
    if not _postgis():
        homes = {
            h.pk: h.location
            for h in Household.objects.filter(pk__in={c.household_id for c in checks})
        }
        out = []
        for c in checks:
            home = homes[c.household_id]
            d = haversine_m(c.lon, c.lat, home.x, home.y)
            out.append(FenceResult(round(d, 1), d <= c.fence_m))
        return out
    table = Household._meta.db_table
    sql = f"""
        SELECT v.i,
               ST_Distance(h.location::geography, p.g),
               ST_DWithin(h.location::geography, p.g, v.fence)
        FROM unnest(%s::int[], %s::bigint[], %s::float8[], %s::float8[], %s::float8[])
             AS v(i, hid, lon, lat, fence)
        JOIN {table} h ON h.id = v.hid
        CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(v.lon, v.lat), 4326)::geography AS g) p
    """  # noqa: S608  (the table name is ours; values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                list(range(len(checks))),
                [c.household_id for c in checks],
                [c.lon for c in checks],
                [c.lat for c in checks],
                [c.fence_m for c in checks],
            ],
        )
        rows = {int(i): FenceResult(round(float(d), 1), bool(w)) for i, d, w in cursor.fetchall()}
    return [rows[i] for i in range(len(checks))]


@dataclass(frozen=True)
class Stop:
    household_id: int
    lon: float
    lat: float


def walking_order(
    stops: Sequence[Stop], origin: tuple[float, float] | None
) -> list[tuple[int, float]]:
    """Greedy nearest neighbour from `origin` (lon, lat), or from the first stop without one:
    [(household_id, metres from the previous point)]. Straight lines, not streets."""
    if not stops:
        return []
    start = origin or (stops[0].lon, stops[0].lat)
    if not _postgis():
        return walking_order_python(stops, start)
    table = Household._meta.db_table
    sql = f"""
        WITH RECURSIVE stops AS (
            SELECT id, location::geography AS g FROM {table} WHERE id = ANY(%s::bigint[])
        ), route(step, id, g, seen, leg) AS (
            SELECT 0, NULL::bigint, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography,
                   ARRAY[]::bigint[], 0::float8
            UNION ALL
            SELECT r.step + 1, n.id, n.g, r.seen || n.id, n.d
            FROM route r
            CROSS JOIN LATERAL (
                SELECT s.id, s.g, ST_Distance(s.g, r.g, false) AS d
                FROM stops s WHERE s.id <> ALL(r.seen)
                ORDER BY d, s.id LIMIT 1
            ) n
        )
        SELECT id, leg FROM route WHERE step > 0 ORDER BY step
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [[s.household_id for s in stops], start[0], start[1]])
        return [(int(i), round(float(leg), 1)) for i, leg in cursor.fetchall()]


def walking_order_python(
    stops: Sequence[Stop], start: tuple[float, float]
) -> list[tuple[int, float]]:
    left = {s.household_id: s for s in stops}
    here, route = start, []
    while left:
        best = min(
            left.values(),
            key=lambda s: (haversine_m(here[0], here[1], s.lon, s.lat), s.household_id),
        )
        route.append((best.household_id, round(haversine_m(*here, best.lon, best.lat), 1)))
        here = (best.lon, best.lat)
        del left[best.household_id]
    return route
