from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import Field

from backend.core.text import Text


class GridRef(Schema):
    id: int
    code: str
    name: str


class ShiftOut(Schema):
    id: int
    community_id: int
    grid: GridRef | None
    starts_at: datetime
    ends_at: datetime


class APostOut(Schema):
    community_id: int
    line: str


class MeOut(Schema):
    id: int
    phone: str
    name: str
    role: str
    community_id: int | None
    district_id: int | None
    resident_id: int | None
    b_post_grids: list[GridRef]
    a_posts: list[APostOut]
    on_duty: bool
    shifts_today: list[ShiftOut]


class PushTokenIn(Schema):
    token: Text = Field(min_length=1, max_length=4096)
    platform: Literal["android", "ios"]
    provider: Literal["fcm", "jpush"] = "fcm"


class PushTokenOut(Schema):
    id: int
    provider: str
    platform: str
    created_at: datetime
