from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

from backend.core.personal import mask_name
from backend.core.text import Text
from backend.photos.actions import signed_url
from backend.servicedesk.models import Case, CaseDocument, CaseStep, ServiceItem
from mobile_api.schemas import FixIn, PointOut

Line = Literal[
    "civil_affairs",
    "social_security",
    "elderly_care",
    "health",
    "disability",
    "housing",
    "employment",
]


class ServiceItemOut(Schema):
    code: str
    name_zh: str
    name_en: str
    category: str
    line: str
    department: str | None
    materials_zh: list[str]
    materials_en: list[str]
    time_limit_days: int
    proxy_allowed: bool
    in_person_delivery: bool
    is_sample: bool

    @staticmethod
    def resolve_department(obj: ServiceItem) -> str | None:
        return obj.department.code if obj.department else None

    @staticmethod
    def resolve_materials_zh(obj: ServiceItem) -> list[str]:
        return obj.materials("zh")

    @staticmethod
    def resolve_materials_en(obj: ServiceItem) -> list[str]:
        return obj.materials("en")


class CaseIn(Schema):
    client_case_id: UUID = Field(description="the phone's id for this case (idempotency)")
    item_code: Text = Field(max_length=40)
    resident_id: int | None = Field(
        None, description="required for staff; a resident files for self"
    )
    channel: Literal["front_desk", "service_point", "doorstep", "phone", "resident_app"]
    proxy: bool = Field(False, description="a worker files for the resident: starts as a draft")
    description: Text = Field("", max_length=2000)
    location: FixIn | None = None


class StepIn(Schema):
    note: Text = Field("", max_length=2000)
    location: FixIn | None = None


class MaterialIn(StepIn):
    materials: list[Text] = Field(min_length=1, max_length=30)


class DecisionIn(StepIn):
    reason: Text = Field("", max_length=2000)


class RejectIn(StepIn):
    reason: Text = Field(min_length=1, max_length=2000)


class ReassignIn(StepIn):
    reason: Text = Field(min_length=1, max_length=2000)
    target_line: Line | None = None
    target_department_id: int | None = None


class DeliverIn(StepIn):
    method: Literal["in_person", "app", "sms", "pickup", "post"] | None = None


class RatingIn(Schema):
    score: int = Field(ge=1, le=5)
    comment: Text = Field("", max_length=2000)


class CommentIn(Schema):
    text: Text = Field(min_length=1, max_length=2000)
    location: FixIn | None = None


class DocumentForm(Schema):
    client_photo_id: UUID
    kind: Literal["consent", "material", "result", "delivery"]
    label: Text = Field("", max_length=100)


class CaseFields(Schema):
    """What every view of a case shows."""

    id: int
    number: str
    state: str
    item_code: str
    item_name_zh: str
    item_name_en: str
    channel: str
    proxy: bool
    resident_id: int | None
    resident_name: str | None
    household_id: int | None
    grid_id: int | None
    community_id: int | None
    address: str
    queue: str
    queue_line: str
    queue_department: str | None
    filed_by_id: int | None
    assignee_id: int | None
    created_at: datetime
    submitted_at: datetime | None
    due_at: datetime | None
    overdue: bool
    paused: bool


class CaseOut(CaseFields):
    @staticmethod
    def resolve_item_code(obj: Case) -> str:
        return obj.item.code

    @staticmethod
    def resolve_item_name_zh(obj: Case) -> str:
        return obj.item.name_zh

    @staticmethod
    def resolve_item_name_en(obj: Case) -> str:
        return obj.item.name_en

    @staticmethod
    def resolve_resident_name(obj: Case) -> str | None:
        return mask_name(obj.resident.name) if obj.resident else None

    @staticmethod
    def resolve_queue(obj: Case) -> str:
        return obj.queue_key

    @staticmethod
    def resolve_queue_department(obj: Case) -> str | None:
        return obj.queue_department.code if obj.queue_department else None

    @staticmethod
    def resolve_overdue(obj: Case) -> bool:
        return obj.overdue_at is not None

    @staticmethod
    def resolve_paused(obj: Case) -> bool:
        return obj.state == "material_needed"


class CaseRowOut(CaseFields):
    """A case in a list: the same fields as CaseOut, from a plain row (no resolvers)."""


class CaseCreatedOut(Schema):
    id: int
    number: str
    state: str
    due_at: datetime | None


class StepOut(Schema):
    kind: str
    from_state: str
    to_state: str
    actor_id: int | None
    at: datetime
    location: PointOut | None
    accuracy_m: float | None
    duty: str
    note: str
    data: dict[str, object]

    @staticmethod
    def resolve_location(obj: CaseStep) -> dict[str, float] | None:
        return {"lat": obj.location.y, "lon": obj.location.x} if obj.location else None


class RatingOut(Schema):
    score: int
    comment: str
    via: str
    recorded_by_id: int
    at: datetime


class CaseDetail(CaseOut):
    description: str
    material_list: list[str]
    decision_reason: str
    consent_kind: str
    consent_at: datetime | None
    sla_working_days: int
    decided_at: datetime | None
    delivered_at: datetime | None
    closed_at: datetime | None
    on_time: bool | None
    in_person_delivery: bool
    timeline: list[StepOut]
    rating: RatingOut | None

    @staticmethod
    def resolve_sla_working_days(obj: Case) -> int:
        return obj.item.time_limit_days

    @staticmethod
    def resolve_in_person_delivery(obj: Case) -> bool:
        return obj.item.in_person_delivery

    @staticmethod
    def resolve_timeline(obj: Case, context: dict[str, Any]) -> list[CaseStep]:
        steps = obj.steps.order_by("at", "id")
        request = context.get("request") if context else None
        session = getattr(request, "auth", None)
        if session is not None and session.user.role == "resident":
            steps = steps.exclude(kind="comment")  # staff notes stay with the staff
        return list(steps)

    @staticmethod
    def resolve_rating(obj: Case) -> object:
        return getattr(obj, "rating", None)


class DocumentOut(Schema):
    id: int
    kind: str
    label: str
    added_by_id: int
    added_at: datetime
    width: int
    height: int
    url: str
    thumbnail_url: str

    @staticmethod
    def resolve_width(obj: CaseDocument) -> int:
        return obj.photo.width

    @staticmethod
    def resolve_height(obj: CaseDocument) -> int:
        return obj.photo.height

    @staticmethod
    def resolve_url(obj: CaseDocument) -> str:
        return signed_url(obj.photo, "display")

    @staticmethod
    def resolve_thumbnail_url(obj: CaseDocument) -> str:
        return signed_url(obj.photo, "thumbnail")


class CommentOut(Schema):
    id: int
    actor_id: int | None
    at: datetime
    text: str
    location: PointOut | None

    @staticmethod
    def resolve_text(obj: CaseStep) -> str:
        return obj.note

    @staticmethod
    def resolve_location(obj: CaseStep) -> dict[str, float] | None:
        return {"lat": obj.location.y, "lon": obj.location.x} if obj.location else None
