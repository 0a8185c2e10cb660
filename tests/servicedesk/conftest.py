"""Service-desk fixtures: a small catalog (not the shipped sample, which transactional tests
flush), a civil-affairs officer, a district department, and a frozen clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from backend.accounts.models import BusinessLineAssignment, Role, User
from backend.servicedesk import actions
from backend.servicedesk.models import Case, Department, ServiceItem
from tests.conftest import PASSWORD, World


@dataclass
class Desk:
    world: World
    allowance: ServiceItem  # elderly care, 20 working days, result by the app
    modification: ServiceItem  # elderly care, handed over in person at the door
    reimbursement: ServiceItem  # a district department's item
    five_days: ServiceItem  # elderly care, 5 working days (SLA tests)
    department: Department
    dept_officer: User
    civil_officer: User


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    settings.SMS_BACKEND = "backend.notify.sms.LocmemBackend"
    from backend.notify import sms

    sms.outbox.clear()
    return tmp_path


def _item(code: str, **extra: Any) -> ServiceItem:
    defaults = {
        "name_zh": f"测试{code}",
        "name_en": f"Test {code}",
        "category": "elderly",
        "line": "elderly_care",
        "time_limit_days": 20,
        "materials_zh": "身份证\n户口簿",
        "materials_en": "ID card\nhousehold register",
    }
    defaults.update(extra)
    item, _ = ServiceItem.objects.update_or_create(code=code, defaults=defaults)
    return item


@pytest.fixture
def desk(world: World) -> Desk:
    department, _ = Department.objects.get_or_create(
        code="t-medical", defaults={"name_zh": "区医保局", "name_en": "Medical insurance"}
    )
    dept_officer = User.objects.create_user(
        "13100000011", PASSWORD, name="医保专员", role=Role.OFFICER, district=world.district
    )
    department.members.add(dept_officer)
    civil_officer = User.objects.create_user(
        "13100000012", PASSWORD, name="民政专员", role=Role.OFFICER, community=world.c1
    )
    BusinessLineAssignment.objects.create(
        user=civil_officer, community=world.c1, line="civil_affairs"
    )
    return Desk(
        world=world,
        allowance=_item("t-allowance"),
        modification=_item("t-modification", in_person_delivery=True, time_limit_days=30),
        reimbursement=_item(
            "t-reimbursement", category="medical_insurance", line="", department=department
        ),
        five_days=_item("t-five-days", time_limit_days=5),
        department=department,
        dept_officer=dept_officer,
        civil_officer=civil_officer,
    )


def file_case(
    desk: Desk,
    *,
    item: ServiceItem | None = None,
    by: User | None = None,
    resident: Any = None,
    proxy: bool = False,
) -> Case:
    w = desk.world
    with transaction.atomic():
        return actions.do_file_case(
            item=item or desk.allowance,
            channel="doorstep" if proxy else "front_desk",
            filed_by=by or w.worker_a,
            resident=resident or w.resident_a,
            proxy=proxy,
            description="代为申请",
        )


class Frozen:
    """The clock stopped and moved by the test (time-machine changes the system time the
    process sees; the code under test runs unchanged)."""

    def __init__(self, traveller: time_machine.Traveller) -> None:
        self.traveller = traveller

    def set(self, value: datetime) -> None:
        self.traveller.move_to(value)


@pytest.fixture
def frozen() -> Iterator[Frozen]:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield Frozen(traveller)


def new_id() -> str:
    return str(uuid.uuid4())
