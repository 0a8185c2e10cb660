"""The walking route: on PostGIS a recursive nearest-neighbour walk in one query (geography,
metres); the embedded SpatiaLite default (`make run`) walks the same way with haversine
distances in Python. (The check-in fence is backend.core.geo's.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection

from backend.core.geo import haversine_m
from backend.territory.models import Household


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
    if connection.vendor != "postgresql":
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
