"""Shared fixtures: a small world of two communities and three grids, and API clients."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.db import connection
from django.db.models import Max
from django.test import Client
from django.utils import timezone

from backend.accounts.models import (
    BusinessLineAssignment,
    DutyShift,
    GridAssignment,
    Role,
    User,
)
from backend.core.models import StreamEvent
from backend.people.actions import ContactIn, do_create_resident
from backend.people.idnumbers import check_digit
from backend.people.models import LegalBasis, Resident
from backend.territory.models import Building, Community, District, Grid, Household

PASSWORD = "correct-horse-battery-9"


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _own_rate_limits(settings: Any) -> None:
    """Each test counts its own requests (the counters live in the shared Redis)."""
    settings.RATE_LIMIT_SCOPE = f"t{uuid.uuid4().hex}:"


@pytest.fixture(autouse=True)
def _real_services(request: pytest.FixtureRequest) -> None:
    """The suite runs on PostGIS and Redis; refuse to pass quietly on anything else."""
    if "django_db" in request.keywords or "db" in request.fixturenames:
        engine = connection.settings_dict["ENGINE"]
        assert engine == "django.contrib.gis.db.backends.postgis", (
            f"tests need PostGIS (DATABASE_URL=postgis://...), got {engine}; run `make test`"
        )
    assert os.environ.get("REDIS_URL"), "tests need REDIS_URL; run `make test`"


def make_id_number(serial: int, born: date = date(1950, 3, 4)) -> str:
    first17 = f"340705{born:%Y%m%d}{serial % 1000:03d}"
    return first17 + check_digit(first17)


def square(x: float, y: float, size: float = 0.01) -> MultiPolygon:
    return MultiPolygon(
        Polygon(((x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y))),
        srid=4326,
    )


@dataclass
class World:
    district: District
    c1: Community
    c2: Community
    grid_a: Grid
    grid_b: Grid
    grid_c: Grid
    household_a: Household
    household_b: Household
    household_c: Household
    resident_a: Resident
    resident_b: Resident
    resident_c: Resident
    worker_a: User
    worker_b: User
    supervisor_1: User
    officer_elderly_1: User
    admin: User
    resident_user_a: User


_serial = iter(range(1, 10_000))


def _household(grid: Grid, x: float, y: float, address: str) -> Household:
    point = Point(x, y, srid=4326)
    building = Building.objects.create(
        grid=grid, name=address.split("号")[0] + "号", location=point
    )
    return Household.objects.create(grid=grid, building=building, address=address, location=point)


def _resident(household: Household, name: str, born: date, tags: list[str]) -> Resident:
    return do_create_resident(
        household=household,
        name=name,
        gender="F",
        birth_date=born,
        id_number=make_id_number(next(_serial), born),
        legal_basis=LegalBasis.STATUTORY_DUTY,
        tags=tags,
        contacts=[ContactIn(name="王明", relation="儿子", phone="13900000001")],
        phone="13800000000",
        health_notes="高血压",
    )


def _user(phone: str, role: str, **extra: Any) -> User:
    return User.objects.create_user(phone, PASSWORD, name=f"用户{phone[-4:]}", role=role, **extra)


@pytest.fixture
def world(db: None) -> World:
    district = District.objects.create(code="340705", name="铜官区")
    c1 = Community.objects.create(district=district, code="C01", name="幸福社区")
    c2 = Community.objects.create(district=district, code="C02", name="长江社区")
    grid_a = Grid.objects.create(
        community=c1, code="C01-G01", name="一网格", boundary=square(117.80, 30.92)
    )
    grid_b = Grid.objects.create(
        community=c1, code="C01-G02", name="二网格", boundary=square(117.81, 30.92)
    )
    grid_c = Grid.objects.create(
        community=c2, code="C02-G01", name="三网格", boundary=square(117.82, 30.92)
    )
    household_a = _household(grid_a, 117.805, 30.925, "幸福路1号1栋101室")
    household_b = _household(grid_b, 117.815, 30.925, "幸福路2号2栋202室")
    household_c = _household(grid_c, 117.825, 30.925, "长江路3号3栋303室")
    resident_a = _resident(
        household_a, "张桂英", date(1940, 5, 6), ["aged_60", "aged_80", "living_alone"]
    )
    resident_b = _resident(household_b, "李秀兰", date(1945, 7, 8), ["aged_60", "aged_80"])
    resident_c = _resident(household_c, "王建国", date(1950, 1, 2), ["aged_60", "disabled"])
    worker_a = _user("13100000001", Role.WORKER, community=c1)
    worker_b = _user("13100000002", Role.WORKER, community=c1)
    GridAssignment.objects.create(user=worker_a, grid=grid_a)
    GridAssignment.objects.create(user=worker_b, grid=grid_b)
    now = timezone.now()
    DutyShift.objects.create(
        user=worker_a,
        community=c1,
        grid=grid_a,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=7),
    )
    supervisor_1 = _user("13100000003", Role.SUPERVISOR, community=c1)
    officer = _user("13100000004", Role.OFFICER, community=c1)
    BusinessLineAssignment.objects.create(user=officer, community=c1, line="elderly_care")
    admin = _user("13100000005", Role.DISTRICT_ADMIN, district=district)
    resident_user_a = _user("13100000006", Role.RESIDENT, resident=resident_a)
    return World(
        district,
        c1,
        c2,
        grid_a,
        grid_b,
        grid_c,
        household_a,
        household_b,
        household_c,
        resident_a,
        resident_b,
        resident_c,
        worker_a,
        worker_b,
        supervisor_1,
        officer,
        admin,
        resident_user_a,
    )


class ApiClient(Client):
    """A Django test client that sends a bearer token and, by default, JSON bodies."""

    def __init__(self, token: str | None = None, **defaults: Any) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        super().__init__(headers=headers, **defaults)

    def post(  # type: ignore[override]
        self, path: str, data: Any = None, content_type: str = "application/json", **extra: Any
    ) -> Any:
        return super().post(path, data, content_type=content_type, **extra)


def login(phone: str, password: str = PASSWORD) -> dict[str, Any]:
    response = Client().post(
        "/api/v1/auth/login",
        {"phone": phone, "password": password},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def client_for(db: None) -> Callable[[User], ApiClient]:
    def make(user: User) -> ApiClient:
        return ApiClient(login(user.phone)["access_token"])

    return make


# -- the events an action emitted --------------------------------------------------------------


@dataclass(frozen=True)
class Emitted:
    """One stream event as its recipient's phone will read it (data round-tripped through
    JSON, so a value that is not plain JSON fails the test at once)."""

    user_id: int
    seq: int
    type: str
    data: dict[str, Any]
    urgent: bool


class EmittedEvents(list[Emitted]):
    def of(self, user: User | int, type: str | None = None) -> list[Emitted]:
        """What one user was sent, in order (of one type, if given)."""
        user_id = user if isinstance(user, int) else user.pk
        return [e for e in self if e.user_id == user_id and (type is None or e.type == type)]

    def recipients(self, type: str | None = None) -> set[int]:
        return {e.user_id for e in self if type is None or e.type == type}


CaptureEvents = Callable[[], AbstractContextManager[EmittedEvents]]


@pytest.fixture
def capture_events(db: None) -> CaptureEvents:
    """`with capture_events() as events: do_x(...)`: the stream events recorded inside the
    block (what committed or is about to: read back from the stored stream after it), in the
    order they were written. Zulip's capture_send_event_calls, for our stored stream."""

    @contextmanager
    def capture() -> Iterator[EmittedEvents]:
        before = StreamEvent.objects.aggregate(last=Max("pk"))["last"] or 0
        emitted = EmittedEvents()
        yield emitted
        for row in StreamEvent.objects.filter(pk__gt=before).order_by("pk"):
            data = json.loads(json.dumps(row.data, ensure_ascii=False))
            emitted.append(Emitted(row.user_id, row.seq, row.type, data, row.urgent))

    return capture
