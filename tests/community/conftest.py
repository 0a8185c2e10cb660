"""Community-life fixtures: the objection item (transactional tests flush the shipped one), an
extra household in grid A outside the polygon tests draw, and helpers that write notices,
polls and hearings through their actions."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone
from PIL import Image

from backend.accounts.models import User
from backend.community import actions
from backend.community.area import AreaIn
from backend.community.models import Hearing, Notice, Poll
from backend.notify import sms
from backend.servicedesk.models import ServiceItem
from backend.territory.models import Building, Household
from tests.conftest import World
from tests.notify.conftest import aliyun  # noqa: F401  (the Aliyun stand-in, for voice calls)


@pytest.fixture(autouse=True)
def media_and_sms(settings: Any, tmp_path: Path) -> Iterator[list[sms.SmsMessage]]:
    settings.MEDIA_ROOT = tmp_path
    settings.SMS_BACKEND = "backend.notify.sms.LocmemBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def objection_item() -> ServiceItem:
    item, _ = ServiceItem.objects.get_or_create(
        code="community-objection",
        defaults={
            "name_zh": "公示异议",
            "name_en": "Objection to a community notice",
            "category": "community_affairs",
            "line": "civil_affairs",
            "time_limit_days": 5,
        },
    )
    return item


@dataclass
class Life:
    world: World
    household_a2: Household  # grid A, north-east corner: outside the polygon around A
    item: ServiceItem

    def __getattr__(self, name: str) -> Any:
        return getattr(self.world, name)


@pytest.fixture
def life(world: World) -> Life:
    point = Point(117.809, 30.929, srid=4326)
    building = Building.objects.create(grid=world.grid_a, name="幸福路9号", location=point)
    household = Household.objects.create(
        grid=world.grid_a, building=building, address="幸福路9号9栋909室", location=point
    )
    return Life(world, household, objection_item())


def polygon_around(x: float, y: float, half: float = 0.002) -> dict[str, Any]:
    ring = [[x - half, y - half], [x + half, y - half], [x + half, y + half], [x - half, y + half]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def grids(*grid_ids: int) -> AreaIn:
    return AreaIn(kind="grids", ids=tuple(grid_ids))


def notice(
    author: User, area: AreaIn, *, publish: bool = True, title: str = "小区整治方案公示", **kw: Any
) -> Notice:
    draft = actions.NoticeDraft(
        kind=kw.pop("kind", "affairs"), title=title, body="拟对幸福小区进行整治。", area=area, **kw
    )
    with transaction.atomic():
        made = actions.do_create_notice(user=author, draft=draft)
    if publish:
        made = actions.do_publish_notice(user=author, notice_id=made.pk)
    return made


def poll(author: User, area: AreaIn, *, open: bool = True, **kw: Any) -> Poll:
    draft = actions.PollDraft(
        title="是否加装电梯",
        question="幸福小区1栋是否加装电梯？",
        options=("同意", "不同意", "弃权"),
        closes_at=kw.pop("closes_at", timezone.now() + timedelta(days=3)),
        area=area,
        **kw,
    )
    made = actions.do_create_poll(user=author, draft=draft)
    return actions.do_open_poll(user=author, poll_id=made.pk) if open else made


def hearing(author: User, area: AreaIn, *, invite: bool = True) -> Hearing:
    draft = actions.HearingDraft(
        title="棚户区改造方案听证会",
        topic="幸福路棚户区改造补偿方案",
        place="幸福社区居委会二楼会议室",
        meeting_at=timezone.now() + timedelta(days=5),
        area=area,
    )
    made = actions.do_create_hearing(user=author, draft=draft)
    return actions.do_invite(user=author, hearing_id=made.pk) if invite else made


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (180, 40, 40)).save(out, "JPEG")
    return out.getvalue()
