"""Run in a subprocess by the embedded-default load test: a fresh SpatiaLite file with one
grid, its worker and four residents wearing signed pendants; prints the secrets as JSON."""

from __future__ import annotations

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

DEVICES = 4
PASSWORD = "load-password-1"


def main() -> None:
    django.setup()
    from datetime import date

    from django.contrib.gis.geos import MultiPolygon, Point, Polygon
    from django.core.management import call_command

    from backend.accounts.models import GridAssignment, Role, User
    from backend.alerts.devices import do_register_device
    from backend.people.actions import do_create_resident
    from backend.people.idnumbers import check_digit
    from backend.territory.models import Community, District, Grid, Household

    call_command("migrate", verbosity=0)
    district = District.objects.create(code="340705", name="铜官区")
    community = Community.objects.create(district=district, code="C01", name="幸福社区")
    square = Polygon(
        ((117.80, 30.92), (117.81, 30.92), (117.81, 30.93), (117.80, 30.93), (117.80, 30.92))
    )
    grid = Grid.objects.create(
        community=community, code="G0", name="0网格", boundary=MultiPolygon(square, srid=4326)
    )
    worker = User.objects.create_user("13100000001", PASSWORD, name="网格员", role=Role.WORKER)
    GridAssignment.objects.create(user=worker, grid=grid)
    devices = []
    for i in range(DEVICES):
        household = Household.objects.create(
            grid=grid,
            address=f"幸福路{i}号",
            location=Point(117.801 + i * 0.001, 30.925, srid=4326),
        )
        first17 = f"34070519400101{i:03d}"
        resident = do_create_resident(
            household=household,
            name=f"居民{i}",
            gender="F",
            birth_date=date(1940, 1, 1),
            id_number=first17 + check_digit(first17),
            legal_basis="statutory_duty",
            tags=["aged_80"],
        )
        device, secret = do_register_device(
            device_id=f"PENDANT-{i}", kind="pendant", resident=resident
        )
        devices.append([device.device_id, secret])
    json.dump({"devices": devices, "phone": worker.phone, "password": PASSWORD}, sys.stdout)


if __name__ == "__main__":
    main()
