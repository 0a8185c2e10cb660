"""Shapes of the assessment API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field


class PeriodOut(Schema):
    id: int
    scheme: str
    version: int
    applies_to: str
    year: int
    quarter: int
    label: str
    state: str
    publish_until: datetime | None
    signed_off_at: datetime | None


class CardRowOut(Schema):
    id: int
    period_id: int
    user_id: int | None
    name: str
    community_id: int
    community: str
    base: float
    leader: float | None = Field(description="the leader's (qualitative) score, 0-100")
    adjustment: float
    total: float
    grade: str
    rank: int | None


class AdjustmentOut(Schema):
    id: int
    points: float
    reason: str
    by_id: int
    at: datetime
    photo_id: str | None


class LeaderScoreOut(Schema):
    id: int
    version: int
    score: float
    reason: str
    by_id: int
    at: datetime


class LeaderScoreIn(Schema):
    score: float = Field(ge=0, le=100, description="0-100")
    reason: str = Field(min_length=1, max_length=300)
    replaces: int | None = Field(
        None, description="the version this changes (required once the card has a score)"
    )


class AppealOut(Schema):
    id: int
    text: str
    at: datetime
    decision: str
    points: float
    note: str
    decided_by_id: int | None


class CardOut(CardRowOut):
    period: PeriodOut
    indicators: dict[str, Any]
    exclusions: dict[str, int]
    self_comment: str
    leader_weight: float = Field(description="the leader's share of the total, %")
    leader_scores: list[LeaderScoreOut] = Field(description="every version, oldest first")
    adjustments: list[AdjustmentOut]
    appeals: list[AppealOut]


class EvidenceOut(Schema):
    record: str
    ref: int
    value: float
    excluded: str


class CommentIn(Schema):
    comment: str = Field(min_length=1, max_length=2000)


class AppealIn(Schema):
    text: str = Field(min_length=1, max_length=2000)


class AdjustmentForm(Schema):
    points: float
    reason: str = Field(min_length=1, max_length=300)
    household_id: int | None = None


class DecisionIn(Schema):
    change: bool
    points: float = 0
    note: str = Field("", max_length=2000)


class AnswerIn(Schema):
    score: int | None = Field(None, ge=1, le=5, description="1-5; null declines")


class FollowUpOut(Schema):
    id: int
    source: str
    channel: str
    state: str
    household_id: int
    asked_at: datetime
