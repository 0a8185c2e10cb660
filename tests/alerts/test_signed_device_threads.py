"""Every signed request reads its device through one hand-written statement whose column
converters are built once per thread (backend/alerts/signing.py). GeoDjango's point converter
holds its thread's GEOS WKB reader, which is not thread-safe: shared by the request threads, two
parses at once corrupted each other ("ParseException: Unexpected EOF parsing WKB", a 500 on a
press or a heartbeat under load)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from django.contrib.gis.geos import Point

from backend.alerts.signing import _SIGNED_SHAPE, _signed_device_sql
from backend.territory.models import Household

THREADS = 8
PARSES = 2000


def _location_index() -> int:
    start = 0
    for model, names in _SIGNED_SHAPE:
        if model is Household:
            return start + names.index("location")
        start += len(names)
    raise AssertionError("the statement reads no household")


def test_the_point_of_a_signed_device_parses_right_in_many_threads_at_once() -> None:
    index = _location_index()
    points = [Point(117.8 + i / 1000, 30.9 + i / 1000, srid=4326) for i in range(THREADS)]

    def parse_many(point: Point) -> int:
        _, converters = _signed_device_sql()
        convert = dict(converters)[index]
        wkb = point.hexewkb.decode()  # as psycopg 3 hands PostGIS geometry over: hex text
        wrong = 0
        for _ in range(PARSES):
            if convert(wkb).coords != point.coords:
                wrong += 1
        return wrong

    _signed_device_sql()  # built first in this thread, as a process's first request does
    with ThreadPoolExecutor(THREADS) as pool:
        wrong = list(pool.map(parse_many, points))
    assert wrong == [0] * THREADS
