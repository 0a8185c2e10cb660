from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import AfterValidator, AwareDatetime, Field, PrivateAttr, model_validator

from backend.core.geo import Datum, Fix
from backend.core.text import Text
from backend.visits.actions import FindingRecord, VisitRecord
from mobile_api.schemas import DATUM_FIELD, FixIn, PointOut

BIGINT = 2**63 - 1


def _plausible(value: datetime) -> datetime:
    if not 2000 <= value.year <= 2100:
        raise ValueError("field_out_of_range")
    return value


PhoneTime = Annotated[AwareDatetime, AfterValidator(_plausible)]
Status = Literal["ok", "concern", "not_checked"]


class ChecklistItemIn(Schema):
    status: Status = "not_checked"
    note: Text = Field("", max_length=500)


class ChecklistIn(Schema):
    """The structured checklist: health, safety, living conditions, needs."""

    health: ChecklistItemIn = Field(
        default_factory=lambda: ChecklistItemIn(status="not_checked", note="")
    )
    safety: ChecklistItemIn = Field(
        default_factory=lambda: ChecklistItemIn(status="not_checked", note="")
    )
    living: ChecklistItemIn = Field(
        default_factory=lambda: ChecklistItemIn(status="not_checked", note="")
    )
    needs: ChecklistItemIn = Field(
        default_factory=lambda: ChecklistItemIn(status="not_checked", note="")
    )


class FindingIn(Schema):
    category: Literal["health", "safety", "living", "needs", "other"]
    description: Text = Field(min_length=1, max_length=2000)
    action: Literal["none", "follow_up", "service_case"] = Field(
        "none", description="follow_up opens a follow-up visit; service_case a service-desk case"
    )
    follow_up_days: int = Field(7, ge=1, le=90)


class VisitRecordIn(Schema):
    """One visit as the phone recorded it. Photos are uploaded separately, keyed by
    client_uuid; `photo_ids` lists the client photo ids the phone will send."""

    client_uuid: UUID
    household_id: int = Field(ge=1, le=BIGINT)
    task_id: int | None = Field(None, ge=1, le=BIGINT)
    visited_at: PhoneTime = Field(description="the phone's time at the door (with offset)")
    location: FixIn | None = Field(None, description="ignored when the visit checked in online")
    present: bool = Field(description="was the resident at home")
    checklist: ChecklistIn = Field(default_factory=ChecklistIn)
    note: Text = Field("", max_length=4000)
    findings: list[FindingIn] = Field(default_factory=list, max_length=20)
    photo_ids: list[UUID] = Field(default_factory=list, max_length=20)

    def record(self) -> VisitRecord:
        return VisitRecord(
            client_uuid=self.client_uuid,
            household_id=self.household_id,
            task_id=self.task_id,
            visited_at=self.visited_at,
            fix=self.location.fix() if self.location else None,
            present=self.present,
            checklist=self.checklist.model_dump(),
            note=self.note,
            findings=tuple(
                FindingRecord(f.category, f.description, f.action, f.follow_up_days)
                for f in self.findings
            ),
            photo_ids=tuple(self.photo_ids),
        )


class SyncIn(Schema):
    # Documented as VisitRecordIn; an item that does not validate is kept as sent, so that it
    # gets its own "rejected" result instead of failing the whole batch.
    records: list[Annotated[VisitRecordIn | Any, Field(union_mode="left_to_right")]] = Field(
        max_length=200
    )


class ErrorReason(Schema):
    code: str
    message: str
    fields: dict[str, str]


class SyncItemOut(Schema):
    index: int
    client_uuid: str | None
    status: Literal["created", "duplicate", "rejected"]
    reason: ErrorReason | None = None
    visit_id: int | None = None
    flag: str | None = None
    distance_m: float | None = None


class SyncOut(Schema):
    received_at: datetime
    created: int
    duplicate: int
    rejected: int
    results: list[SyncItemOut]


class CheckInIn(Schema):
    client_uuid: UUID
    household_id: int = Field(ge=1, le=BIGINT)
    task_id: int | None = Field(None, ge=1, le=BIGINT)
    location: FixIn
    at: PhoneTime | None = Field(None, description="the phone's time; default: now")


class CheckInOut(Schema):
    visit_id: int = Field(alias="id")
    client_uuid: UUID
    household_id: int
    state: str
    visited_at: datetime
    received_at: datetime
    distance_m: float | None
    fence_m: float | None
    accuracy_m: float | None
    flag: str | None
    flagged: bool

    @staticmethod
    def resolve_flag(obj: Any) -> str | None:
        return obj.flag or None


class PersonRef(Schema):
    id: int
    name: str


class VisitOut(Schema):
    id: int
    client_uuid: UUID
    household_id: int
    address: str
    grid_id: int
    worker: PersonRef
    post: str
    state: str
    visited_at: datetime
    received_at: datetime
    recorded_at: datetime | None
    present: bool | None
    flag: str | None
    distance_m: float | None
    fence_m: float | None
    accuracy_m: float | None
    task_id: int | None

    @staticmethod
    def resolve_address(obj: Any) -> str:
        return str(obj.household.address)

    @staticmethod
    def resolve_flag(obj: Any) -> str | None:
        return obj.flag or None


class FindingOut(Schema):
    id: int
    category: str
    description: str
    action: str
    follow_up_task_id: int | None
    case_state: str | None

    @staticmethod
    def resolve_case_state(obj: Any) -> str | None:
        return obj.case_state or None


class PhotoOut(Schema):
    photo_id: UUID
    client_photo_id: UUID
    visit_uuid: UUID
    width: int
    height: int
    source_format: str
    captured_at: datetime | None = Field(description="from EXIF (evidence), never served")
    gps: PointOut | None = Field(description="from EXIF (evidence), never served")
    url: str = Field(description="valid for 5 minutes")
    thumbnail_url: str


class VisitDetail(VisitOut):
    checklist: dict[str, Any]
    note: str
    findings: list[FindingOut]
    photos: list[PhotoOut]
    photos_expected: list[str]
    photos_missing: list[str]

    @staticmethod
    def resolve_findings(obj: Any) -> list[Any]:
        return list(obj.findings.all().order_by("pk"))

    @staticmethod
    def resolve_photos(obj: Any) -> list[dict[str, Any]]:
        return list(obj.photo_rows)

    @staticmethod
    def resolve_photos_expected(obj: Any) -> list[str]:
        return list(obj.expected_photos)

    @staticmethod
    def resolve_photos_missing(obj: Any) -> list[str]:
        received = {str(p["client_photo_id"]) for p in obj.photo_rows}
        return [p for p in obj.expected_photos if p not in received]


class VisitFilters(Schema):
    flagged: bool | None = Field(None, description="only check-ins outside the fence or inaccurate")
    grid: int | None = Field(None, description="grid id (must be in scope)")
    household: int | None = Field(None, description="household id (must be in scope)")
    worker: int | None = Field(None, description="user id of the visiting worker")
    since: datetime | None = None
    until: datetime | None = None


class TodayQuery(Schema):
    lat: float | None = Field(None, ge=-90, le=90, description="where the worker is now")
    lon: float | None = Field(None, ge=-180, le=180)
    datum: Datum = DATUM_FIELD
    _origin: Fix | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _convert(self) -> TodayQuery:
        if self.lat is not None and self.lon is not None:
            try:
                self._origin = Fix.reported(lat=self.lat, lon=self.lon, datum=self.datum)
            except ValueError:
                raise ValueError("field_out_of_range") from None
        return self

    def origin(self) -> Fix | None:
        """Where the route starts, in WGS-84 (None without lat/lon)."""
        return self._origin


class ResidentBrief(Schema):
    id: int
    name: str
    age: int
    care_tags: list[str]


class TaskReason(Schema):
    task_id: int
    kind: str
    reason: str
    due_at: datetime
    overdue: bool
    attempts: int


class LastVisit(Schema):
    client_uuid: UUID
    visited_at: datetime
    worker: PersonRef
    present: bool | None
    flag: str | None
    note: str


class HouseholdBrief(Schema):
    id: int
    address: str
    grid_id: int
    location: PointOut


class StopOut(Schema):
    step: int
    leg_m: float = Field(description="straight-line metres from the previous stop")
    household: HouseholdBrief
    residents: list[ResidentBrief]
    reasons: list[TaskReason]
    last_visit: LastVisit | None


class TodayOut(Schema):
    date: date
    origin: Literal["query", "last_position", "first_stop"]
    total_m: float
    stops: list[StopOut]


class CoverageNumbers(Schema):
    households: int
    visited_in_cycle: int
    share_visited: float | None
    vulnerable: int
    vulnerable_on_schedule: int
    share_vulnerable_on_schedule: float | None
    overdue: int
    visits: int = Field(description="recorded visits in the last 365 days")
    share_geofence_passed: float | None


class GridCoverage(CoverageNumbers):
    grid_id: int
    code: str
    name: str


class WorkerCoverage(CoverageNumbers):
    user_id: int
    name: str
    grid_ids: list[int]


class CoverageOut(Schema):
    at: datetime
    grids: list[GridCoverage]
    workers: list[WorkerCoverage]


class CoverageQuery(Schema):
    grid: int | None = Field(None, description="grid id (must be in scope)")
