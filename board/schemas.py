"""What the board's endpoints take and give (the shapes board.js draws)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from backend.core.text import Text

# -- in --------------------------------------------------------------------------------------


class AssignIn(Schema):
    assignee_id: int = Field(
        strict=True, description="a worker or supervisor of the alert's community"
    )
    note: Text = ""


class NoteIn(Schema):
    note: Text


# -- alerts ----------------------------------------------------------------------------------


class Ref(Schema):
    id: int
    name: str


class Me(Ref):
    role: str


class HouseholdRef(Schema):
    id: int
    address: str
    lat: float
    lon: float


class FixOut(Schema):
    lat: float
    lon: float
    accuracy_m: float | None


class AlertOut(Schema):
    alert_id: int
    kind: str
    state: str
    tier: int
    resident: Ref = Field(description="the name is masked")
    household: HouseholdRef
    grid_id: int
    community_id: int
    location: FixOut | None
    created_at: datetime
    escalates_at: datetime | None
    seconds_left: int | None = Field(description="until the next tier, while open")
    accepted_by: Ref | None
    disposition: str | None
    presses: int = Field(1, description="presses folded into this alert, the first included")
    call: str | None = Field(None, description="the number to call first (119 for a fire)")


class StepOut(Schema):
    kind: str
    actor: Ref | None
    at: datetime
    note: str
    data: dict[str, Any]


class RungOut(Schema):
    channel: str
    rung: int
    status: str
    outcome: str
    attempts: int
    due_at: datetime
    tried_at: datetime | None


class ReachOut(Schema):
    user: Ref
    tier: int
    rungs: list[RungOut]
    unreachable: bool


class AlertDetail(AlertOut):
    timeline: list[StepOut]
    reach: list[ReachOut]


# -- state -----------------------------------------------------------------------------------


class PositionOut(FixOut):
    at: datetime


class WorkerOut(Schema):
    id: int
    name: str
    role: str
    community_id: int | None
    grid_ids: list[int] = Field(description="B posts")
    on_duty: bool
    position: PositionOut | None


class OnDutyOut(Schema):
    id: int
    name: str
    role: str
    until: datetime


class DutyOut(Schema):
    grids: dict[str, list[OnDutyOut]] = Field(description="on duty per grid id")
    wide: list[OnDutyOut] = Field(description="on duty community- or district-wide")


class StateOut(Schema):
    server_time: datetime
    last_event_id: int = Field(description="the stream position this state is as of")
    me: Me
    alerts: list[AlertOut]
    workers: list[WorkerOut]
    duty: DutyOut


# -- map -------------------------------------------------------------------------------------


class GridProperties(Schema):
    id: int
    code: str
    name: str
    community_id: int
    community_name: str


class GridFeature(Schema):
    type: Literal["Feature"]
    id: int
    geometry: dict[str, Any]
    properties: GridProperties


class GridCollection(Schema):
    type: Literal["FeatureCollection"]
    features: list[GridFeature]


class HouseholdOut(Schema):
    id: int
    address: str
    lat: float
    lon: float
    grid_id: int


class HouseholdsOut(Schema):
    items: list[HouseholdOut]
    truncated: bool = Field(description="more households in the viewport than sent")


# -- panels ----------------------------------------------------------------------------------


class GridCoverageOut(Schema):
    grid_id: int
    code: str
    name: str
    households: int
    visited_in_cycle: int
    share_visited: float | None
    vulnerable: int
    vulnerable_on_schedule: int
    share_vulnerable_on_schedule: float | None
    overdue: int


class CaseOut(Schema):
    id: int
    number: str
    state: str
    resident_name: str | None = Field(description="masked")
    address: str
    grid_id: int | None
    due_at: datetime | None
    overdue: bool
    paused: bool


class PanelsOut(Schema):
    coverage: list[GridCoverageOut]
    cases: list[CaseOut] = Field(description="open cases near (75 % warned) or past their SLA")
    cases_total: int


# -- the stream ------------------------------------------------------------------------------


class TicketOut(Schema):
    ticket: str
    expires_in: int
    url: str


# -- assessment (考核) -------------------------------------------------------------------------


class ChartPeriodOut(Schema):
    id: int
    label: str
    state: str
    scheme: str


class ChartRankOut(Schema):
    community_id: int
    community: str
    mean: float
    cards: int


class ChartTrendOut(Schema):
    period: str
    community_id: int
    community: str
    mean: float


class ChartSpreadOut(Schema):
    indicator: str
    label: str
    bins: list[int] = Field(description="cards with points in 0-20, 20-40, 40-60, 60-80, 80-100")


class AssessmentChartsOut(Schema):
    applies_to: str = Field(description="worker (B post), officer (A post) or community")
    period: ChartPeriodOut | None
    ranking: list[ChartRankOut]
    trend: list[ChartTrendOut]
    distribution: list[ChartSpreadOut]
