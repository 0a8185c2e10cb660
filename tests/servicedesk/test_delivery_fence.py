"""A hand delivery is held to the check-in's fence: the same community settings, the same rule
(backend.core.geo), the same datum conversion."""

from __future__ import annotations

import geocoordinates_ffi as gc
import pytest

from backend.core.geo import Fix
from backend.servicedesk.actions import within_geofence
from backend.visits.actions.checkin import check_fixes
from backend.visits.models import VisitSettings
from tests.conftest import World

pytestmark = pytest.mark.django_db

METRE = 1 / 95_500  # degrees of longitude per metre at 30.9° N


def test_delivery_and_check_in_agree_on_every_fix(world: World) -> None:
    home = world.household_a.location
    fixes = [
        Fix(home.y, home.x + 65 * METRE, 20),  # inside 50 + 20
        Fix(home.y, home.x + 90 * METRE, 20),  # outside 70
        Fix(home.y, home.x + 120 * METRE, None),  # unknown accuracy counts as the cap: 150
        Fix(home.y, home.x + 500 * METRE, 20),
    ]

    def both() -> list[tuple[bool, bool]]:
        visits = check_fixes([(world.household_a, f) for f in fixes])
        return [
            (within_geofence(household=world.household_a, fix=f, fallback=None), v.within)
            for f, v in zip(fixes, visits, strict=True)
        ]

    assert both() == [(True, True), (False, False), (True, True), (False, False)]
    VisitSettings.objects.create(community=world.c1, checkin_radius_m=600)
    assert both() == [(True, True)] * 4


def test_a_gcj02_reading_at_the_door_is_a_delivery_at_the_door(world: World) -> None:
    home = world.household_a.location
    gcj = gc.wgs84_to_gcj02(gc.Wgs84(lat=home.y, lon=home.x))
    raw = Fix(gcj.lat, gcj.lon, 10)
    converted = Fix.reported(lat=gcj.lat, lon=gcj.lon, accuracy_m=10, datum="gcj02")
    assert not within_geofence(household=world.household_a, fix=raw, fallback=None)
    assert within_geofence(household=world.household_a, fix=converted, fallback=None)
    # a case without a household is checked around its own point, with the default fence
    assert within_geofence(household=None, fix=converted, fallback=home)
    assert not within_geofence(household=None, fix=converted, fallback=None)
