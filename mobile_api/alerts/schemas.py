from datetime import datetime
from typing import Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

from backend.alerts.models import Alert, AlertStep, Device
from backend.alerts.selectors import escalation_deadline, reach
from backend.core.personal import mask_name
from backend.core.text import Text
from mobile_api.schemas import FixIn, PointOut


class DeviceAlertIn(Schema):
    client_alert_id: UUID
    kind: Literal["emergency", "help"]
    location: FixIn | None = None
    battery: int | None = Field(None, ge=0, le=100)
    resident_id: int | None = Field(None, description="if sent, must be the device's resident")


class RaiseAlertIn(Schema):
    client_alert_id: UUID
    kind: Literal["emergency", "help"]
    location: FixIn | None = None


class AlertCreatedOut(Schema):
    alert_id: int
    state: str
    tier: int
    created_at: datetime
    presses: int = Field(1, description="> 1: this press joined the resident's open alert")


class HeartbeatIn(Schema):
    battery: int | None = Field(None, ge=0, le=100)


class HeartbeatOut(Schema):
    device_id: str
    last_heard_at: datetime
    battery: int | None


class StepOut(Schema):
    kind: str
    actor_id: int | None
    at: datetime
    location: PointOut | None
    note: str
    data: dict[str, object]

    @staticmethod
    def resolve_location(obj: AlertStep) -> dict[str, float] | None:
        return {"lat": obj.location.y, "lon": obj.location.x} if obj.location else None


class PersonRef(Schema):
    id: int
    name: str


class AlertOut(Schema):
    id: int
    kind: str
    source: str
    state: str
    tier: int
    resident_id: int
    resident_name: str
    household_id: int
    address: str
    grid_id: int
    community_id: int
    created_at: datetime
    next_escalation_at: datetime | None
    accepted_by: PersonRef | None
    disposition: str
    presses: int = Field(description="presses folded into this alert, the first included")

    @staticmethod
    def resolve_next_escalation_at(obj: Alert) -> datetime | None:
        # The escalation timer's due_at (the one stored deadline, issue 9), not the column.
        return escalation_deadline(obj)

    @staticmethod
    def resolve_resident_name(obj: Alert) -> str:
        return mask_name(obj.resident.name)

    @staticmethod
    def resolve_address(obj: Alert) -> str:
        return obj.household.address


class RungOut(Schema):
    channel: str = Field(description="push, sms or voice")
    rung: int
    status: str = Field(description="pending, sending, sent, dead, cancelled")
    outcome: str = Field(description="delivered, failed, answered, no_answer, acknowledged ...")
    attempts: int
    due_at: datetime
    tried_at: datetime | None


class ReachOut(Schema):
    user: PersonRef
    tier: int
    rungs: list[RungOut]
    unreachable: bool = Field(description="the ladder ran out and they never answered")


class AlertDetail(AlertOut):
    timeline: list[StepOut]
    reach: list[ReachOut]

    @staticmethod
    def resolve_reach(obj: Alert) -> list[dict[str, object]]:
        return reach(obj)


class AcceptIn(Schema):
    location: FixIn | None = None


class ArriveIn(Schema):
    location: FixIn


class ResolveIn(Schema):
    disposition: Literal[
        "false_press",
        "assisted_on_site",
        "ambulance_called",
        "taken_to_hospital",
        "no_answer_forced_entry",
        "other",
    ]
    note: Text = Field("", max_length=2000)
    location: FixIn | None = None


class DeviceIn(Schema):
    device_id: Text = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    kind: Literal["pendant", "fixed", "app"]
    resident_id: int
    heartbeat_interval_s: int = Field(3600, ge=60, le=7 * 86400)


class DeviceSecretOut(Schema):
    device_id: str
    secret: str


class DeviceOut(Schema):
    device_id: str
    kind: str
    resident_id: int
    last_heard_at: datetime | None
    battery: int | None
    revoked: bool

    @staticmethod
    def resolve_revoked(obj: Device) -> bool:
        return obj.revoked_at is not None
