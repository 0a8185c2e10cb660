"""The synthetic district: deterministic, valid ID numbers, points in their grids, sane tags."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.gis.geos import GEOSGeometry
from django.core.management import call_command
from django.db.models import Count, F
from django.test import Client
from django.utils import timezone

from backend.accounts.models import (
    BusinessLine,
    BusinessLineAssignment,
    DutyShift,
    GridAssignment,
    Role,
    User,
)
from backend.alerts.models import Device
from backend.core.models import Timer
from backend.core.personal import age_on
from backend.demo import synthetic
from backend.people import idnumbers
from backend.people.models import CareTag, EmergencyContact, Resident, ResidentTag
from backend.territory.models import Building, Community, District, Grid, Household
from tests.conftest import ApiClient, login

DAY = date(2026, 3, 15)
NOON = datetime(2026, 3, 15, 12, tzinfo=synthetic.LOCAL_TZ)


def plan(seed: int = 7, communities: int = 1) -> list[synthetic.CommunityPlan]:
    return list(synthetic.plan_district(seed=seed, communities=communities, as_of=DAY))


def residents_of(plans: list[synthetic.CommunityPlan]) -> list[synthetic.ResidentPlan]:
    return [r for p in plans for _, _, h in p.households() for r in h.residents]


def test_same_seed_same_district_other_seed_another() -> None:
    first, again, other = plan(7), plan(7), plan(8)

    def fingerprint(plans: list[synthetic.CommunityPlan]) -> list[tuple[str, str, str]]:
        return [
            (h.address, r.name, r.id_number) for p in plans for _, _, h in p.households()
            for r in h.residents
        ]  # fmt: skip

    assert fingerprint(first) == fingerprint(again)
    assert [s.name for s in first[0].staff] == [s.name for s in again[0].staff]
    assert fingerprint(first) != fingerprint(other)
    # community 1 of a two-community load is community 1 of a one-community load
    assert fingerprint(plan(7, communities=2)[:1]) == fingerprint(first)


def test_geometry_at_the_scale_of_tongguanshan() -> None:
    grids = [r for n in range(1, 19) for r in synthetic.grid_rects(n)]
    assert [len(synthetic.grid_rects(n)) for n in range(1, 19)] == [20] * 17 + [19]
    assert len(grids) == 359
    assert len(set(synthetic.COMMUNITY_NAMES)) == 18
    union: GEOSGeometry = synthetic.boundary(grids[0])
    for rect in grids[1:]:
        shape = synthetic.boundary(rect)
        assert not union.relate_pattern(shape, "T********")  # no two grids overlap
        union = union.union(shape)
    box = synthetic.boundary((synthetic.WEST, synthetic.SOUTH, synthetic.EAST, synthetic.NORTH))
    assert union.sym_difference(box).area < 1e-10  # together they tile the district
    km2 = union.transform(32650, clone=True).area / 1e6  # UTM zone 50N
    assert 35 <= km2 <= 37
    assert union.centroid.x == pytest.approx(117.81, abs=0.001)
    assert union.centroid.y == pytest.approx(30.93, abs=0.001)


def test_a_city_is_districts_side_by_side_each_with_its_own_codes_people_and_log_ins() -> None:
    first = plan(7)
    second = list(synthetic.plan_district(seed=7, communities=1, as_of=DAY, district=2))
    assert first[0].code == "340705-C01" and second[0].code == "340752-C01"
    # Its own people: other names and ID numbers of its own region code, its own addresses.
    ones, twos = residents_of(first), residents_of(second)
    assert {r.id_number[:6] for r in twos} == {"340752"}
    assert all(idnumbers.is_valid(r.id_number) for r in twos)
    assert [r.name for r in ones[:50]] != [r.name for r in twos[:50]]
    assert all(h.address.startswith("模拟第2区") for _, _, h in second[0].households())
    # Log-ins that no other district has.
    phones = {s.phone for s in first[0].staff}
    assert not phones & {s.phone for s in second[0].staff}
    assert synthetic.staff_phone(Role.WORKER, 1, 3, district=2) == "19910110003"
    # East of district 1, not overlapping it, the same shape.
    a, b = first[0].rect, second[0].rect
    assert b[0] > synthetic.EAST and b[1:4:2] == a[1:4:2]
    assert b[2] - b[0] == pytest.approx(a[2] - a[0])
    with pytest.raises(synthetic.SyntheticError):
        next(synthetic.plan_district(seed=7, communities=1, as_of=DAY, district=11))


def test_id_numbers_are_valid_unique_and_match_birth_date_and_gender() -> None:
    residents = residents_of(plan(7, communities=2))
    numbers = [r.id_number for r in residents]
    assert len(set(numbers)) == len(numbers) > 30_000
    for r in residents:
        assert idnumbers.is_valid(r.id_number), r.id_number
        assert r.id_number[:6] == "340705"
        assert r.id_number[6:14] == f"{r.birth_date:%Y%m%d}"
        assert int(r.id_number[16]) % 2 == (1 if r.gender == Resident.Gender.MALE else 0)
        assert age_on(r.birth_date, DAY) == r.age


def test_care_tags_follow_age_and_household() -> None:
    plans = plan(7, communities=2)
    households = [h for p in plans for _, _, h in p.households()]
    residents = [r for h in households for r in h.residents]
    for h in households:
        size = len(h.residents)
        elderly_couple = size == 2 and all(r.age >= 60 for r in h.residents)
        low_income = {CareTag.LOW_INCOME in r.tags for r in h.residents}
        assert len(low_income) == 1, h.address  # 低保 is granted to the household
        for r in h.residents:
            tags = set(r.tags)
            assert (CareTag.AGED_60 in tags) == (r.age >= 60)
            assert (CareTag.AGED_80 in tags) == (r.age >= 80)
            assert (CareTag.LIVING_ALONE in tags) == (size == 1 and r.age >= 60)
            assert (CareTag.EMPTY_NEST in tags) == elderly_couple
            if CareTag.CHRONIC_ILLNESS in tags:
                assert r.age >= 60
                assert r.health_notes
            assert (r.contact is not None) == (r.age >= 60)
            if r.contact is not None:
                assert r.contact.phone and r.contact.name and r.contact.relation
            assert len(tags) == len(r.tags)
    n = len(residents)
    share = Counter(t for r in residents for t in r.tags)
    assert 0.22 <= share[CareTag.AGED_60] / n <= 0.28
    assert 0.03 <= share[CareTag.AGED_80] / n <= 0.05
    assert 0.01 <= share[CareTag.DISABLED] / n <= 0.03
    assert 0.02 <= share[CareTag.LOW_INCOME] / n <= 0.045
    assert 0.25 <= share[CareTag.CHRONIC_ILLNESS] / share[CareTag.AGED_60] <= 0.35
    assert 2.7 <= n / len(households) <= 2.9
    assert all(1 <= len(h.residents) <= 5 for h in households)
    assert all(
        270 <= sum(len(b.households) for b in g.buildings) <= 330 for p in plans for g in p.grids
    )


def test_load_one_community(db: None) -> None:
    result = synthetic.generate_district(password="pw-for-tests-1", seed=7, communities=1, day=DAY)

    assert result.counts["grids"] == Grid.objects.count() == 20
    households = Household.objects.count()
    residents = Resident.objects.count()
    assert result.counts["households"] == households
    assert 20 * 270 <= households <= 20 * 330
    assert 2.7 <= residents / households <= 2.9
    assert result.counts["residents"] == residents
    # every household point, and every building, inside its grid polygon (ST_Contains)
    assert Household.objects.filter(grid__boundary__contains=F("location")).count() == households
    assert (
        Building.objects.filter(grid__boundary__contains=F("location")).count()
        == Building.objects.count()
    )
    assert not Household.objects.exclude(building__grid=F("grid")).exists()
    sizes = Building.objects.annotate(n=Count("households")).values_list("n", flat=True)
    assert 12 <= sum(sizes) / len(sizes) <= 20

    # stored ID numbers: encrypted, masked, digested, and the same as planned
    planned = {r.id_number for r in residents_of(plan(7))}
    stored = Resident.objects.order_by("pk")[:200]
    for r in stored:
        assert r.id_number in planned
        assert r.id_number_masked == idnumbers.mask(r.id_number)
        assert r.id_number_digest == idnumbers.digest(r.id_number)
    assert Resident.objects.values("id_number_digest").distinct().count() == residents

    # tags agree with birth dates on the day of the load
    sixty = DAY.replace(year=DAY.year - 60)
    eighty = DAY.replace(year=DAY.year - 80)
    aged_60 = ResidentTag.objects.filter(tag=CareTag.AGED_60)
    assert aged_60.count() == Resident.objects.filter(birth_date__lte=sixty).count()
    assert (
        ResidentTag.objects.filter(tag=CareTag.AGED_80).count()
        == Resident.objects.filter(birth_date__lte=eighty).count()
    )
    living_alone = Resident.objects.filter(tags__tag=CareTag.LIVING_ALONE)
    assert living_alone.exists()
    assert not living_alone.filter(birth_date__gt=sixty).exists()
    assert not living_alone.annotate(n=Count("household__residents")).exclude(n=1).exists()
    assert EmergencyContact.objects.count() == aged_60.count()
    assert not EmergencyContact.objects.filter(resident__birth_date__gt=sixty).exists()
    assert set(Resident.objects.values_list("legal_basis", flat=True)) == {"statutory_duty"}
    chronic = Resident.objects.filter(tags__tag=CareTag.CHRONIC_ILLNESS).order_by("pk")[:20]
    assert all(r.health_notes for r in chronic)  # decrypted: 高血压, 糖尿病, ...
    healthy = Resident.objects.exclude(tags__tag__in=[CareTag.CHRONIC_ILLNESS, CareTag.DISABLED])
    assert {r.health_notes for r in healthy.order_by("pk")[:20]} == {""}

    # staff: a worker per grid with a B post there and an A post, a supervisor, two officers
    workers = User.objects.filter(role=Role.WORKER)
    assert workers.count() == 20
    assert GridAssignment.objects.count() == 20
    assert not GridAssignment.objects.exclude(user__community=F("grid__community")).exists()
    assert set(GridAssignment.objects.values_list("grid_id", flat=True)) == set(
        Grid.objects.values_list("pk", flat=True)
    )
    lines = Counter(
        BusinessLineAssignment.objects.filter(user__role=Role.WORKER).values_list("line", flat=True)
    )
    assert sum(lines.values()) == 20 and set(lines) == set(BusinessLine.values)
    officers = User.objects.filter(role=Role.OFFICER)
    assert officers.count() == 2
    assert set(
        BusinessLineAssignment.objects.filter(user__in=officers).values_list("line", flat=True)
    ) == set(BusinessLine.values)
    assert User.objects.filter(role=Role.SUPERVISOR).count() == 1
    admin = User.objects.get(role=Role.DISTRICT_ADMIN)
    assert admin.district == result.district
    worker = User.objects.get(phone=synthetic.staff_phone(Role.WORKER, 1, 1))
    assert worker.check_password("pw-for-tests-1")
    assert len(set(User.objects.values_list("password", flat=True))) == 1  # hashed once
    assert User.objects.values("phone").distinct().count() == User.objects.count() == 24

    # on duty at noon on the day, off duty the evening before
    on_duty = DutyShift.objects.filter(starts_at__lte=NOON, ends_at__gt=NOON)
    assert on_duty.count() == 21
    assert set(on_duty.values_list("user__role", flat=True)) == {Role.WORKER, Role.SUPERVISOR}
    assert not on_duty.filter(user__role=Role.WORKER, grid=None).exists()
    assert not DutyShift.objects.filter(starts_at__lte=NOON - timedelta(hours=16)).exists()


def test_refuses_to_load_twice(db: None) -> None:
    District.objects.create(code=synthetic.DISTRICT_CODE, name="铜官区")
    with pytest.raises(synthetic.SyntheticError):
        synthetic.generate_district(password="x", communities=1, day=DAY)
    assert not Community.objects.exists()


def test_seed_demo_is_idempotent_and_its_logins_work(db: None) -> None:
    out = io.StringIO()
    call_command("seed_demo", "--if-empty", stdout=out)
    assert "community 1 loaded" in out.getvalue()
    # The demo button and the demo alarm panel are supervised from the start, like any
    # registered device.
    button, panel = Device.objects.order_by("pk")
    assert panel.alarm_account.account == "D3C0DE"
    for device in (button, panel):
        assert Timer.objects.filter(
            kind="device.silent", key=str(device.pk), fired_at=None
        ).exists()
    counts = (Household.objects.count(), Resident.objects.count(), User.objects.count())
    shifts = DutyShift.objects.count()
    starts_at, _ = synthetic.duty_window(timezone.localdate())
    daily = DutyShift.objects.filter(starts_at=starts_at).count()
    assert shifts - daily == 4  # round-the-clock duty of the demo accounts (tiers 1-4)

    call_command("seed_demo", "--if-empty", stdout=out)
    assert (Household.objects.count(), Resident.objects.count(), User.objects.count()) == counts
    assert DutyShift.objects.count() == shifts  # today's shifts are there already
    # started again on a later day: today's shifts are added, so people are on duty. (Two days
    # back, not one: the demo accounts' 24-hour shifts moved back by one day still overlap
    # today's 08:00-20:00 window when the test runs after 08:00 Beijing time.)
    DutyShift.objects.update(
        starts_at=F("starts_at") - timedelta(days=2), ends_at=F("ends_at") - timedelta(days=2)
    )
    again = io.StringIO()
    call_command("seed_demo", "--if-empty", stdout=again)
    assert f"{shifts} duty shifts added" in again.getvalue()
    assert DutyShift.objects.count() == 2 * shifts
    assert DutyShift.objects.filter(starts_at=starts_at).count() == daily
    assert not DutyShift.objects.filter(
        starts_at=starts_at, user__role=Role.WORKER, grid=None
    ).exists()

    resident_user = User.objects.get(role=Role.RESIDENT)
    assert resident_user.resident is not None
    assert set(resident_user.resident.tags.values_list("tag", flat=True)) >= {
        CareTag.AGED_60,
        CareTag.LIVING_ALONE,
    }
    # Community life: a published notice, an open poll and a hearing, all for the resident.
    app = ApiClient(login(resident_user.phone, "gridline-demo")["access_token"])
    for path, state in (
        ("notices", "published"),
        ("polls", "open"),
        ("hearings", "invited"),
    ):
        seen = app.get(f"/api/v1/community/{path}").json()["items"]
        assert state in {item["state"] for item in seen}, (path, seen)
    admin = User.objects.get(role=Role.DISTRICT_ADMIN)
    assert admin.is_staff and admin.is_superuser and admin.district is not None

    logins = io.StringIO()
    call_command("seed_demo", "--print-logins", stdout=logins)
    text = logins.getvalue()
    for phone in ("19900110001", "19900120001", "19900130001", "19900090001", "19900180001"):
        assert phone in text
    assert "not in this database" not in text and "password is not" not in text
    for phone in ("19900110001", "19900180001"):
        response = Client().post(
            "/api/v1/auth/login",
            {"phone": phone, "password": "gridline-demo"},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content


# `make run` on the embedded default: migrate, seed twice, print log-ins, import a GeoJSON file.
_SPATIALITE_DEMO = """
import json, django
django.setup()
from django.core.management import call_command
from django.db import connection
from backend.accounts.models import User
from backend.territory.models import Community, District, Household
call_command("migrate", verbosity=0)
call_command("seed_demo", "--if-empty")
call_command("seed_demo", "--if-empty")
call_command("seed_demo", "--print-logins")
Community.objects.create(district=District.objects.get(), code="T01", name="试点社区")
call_command("import_territory", "tests/territory/data/two_grids.geojson", "--community", "T01")
print(json.dumps({
    "engine": connection.settings_dict["ENGINE"],
    "districts": District.objects.count(),
    "users": User.objects.count(),
    "imported": sorted(Household.objects.filter(grid__community__code="T01")
                       .values_list("grid__code", flat=True)),
}))
"""


@pytest.mark.slow
def test_seed_demo_and_import_on_the_embedded_spatialite_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {
        "GRIDLINE_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "backend.config.settings",
        "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
    }
    result = subprocess.run(
        [sys.executable, "-c", _SPATIALITE_DEMO],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert report["engine"] == "backend.core.spatialite"
    assert report["districts"] == 1
    assert report["users"] == 25  # 20 workers, supervisor, 2 officers, admin, resident
    assert report["imported"] == ["T01-G01", "T01-G01", "T01-G02", "T01-G02"]
    assert "19900180001" in result.stdout
    assert "nothing loaded" in result.stdout
