from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import AwareDatetime, Field

from backend.community.area import AreaIn
from backend.community.models import Hearing, Notice, Poll
from backend.core.personal import mask_name
from backend.core.text import Text

BIGINT = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=BIGINT)]
NoticeKindIn = Literal["affairs", "finance", "services", "assessment"]


class AreaSchema(Schema):
    """district, community (community_id), grids or buildings (ids), polygon (GeoJSON Polygon
    or MultiPolygon in WGS-84 lon/lat: the households inside are selected)."""

    kind: Literal["district", "community", "grids", "buildings", "polygon"]
    community_id: Id | None = None
    ids: list[Id] = Field(default_factory=list, max_length=500)
    polygon: dict[str, Any] | None = None

    def parsed(self) -> AreaIn:
        return AreaIn(
            kind=self.kind,
            community_id=self.community_id,
            ids=tuple(self.ids),
            polygon=self.polygon,
        )


class NoticeIn(Schema):
    kind: NoticeKindIn
    title: Text = Field(min_length=1, max_length=200)
    body: Text = Field(min_length=1, max_length=20_000)
    area: AreaSchema
    window_days: int = Field(7, ge=1, le=90)
    door_after_hours: int = Field(48, ge=0, le=2160)
    send_sms: bool = True
    objection_item_code: Text | None = Field(None, max_length=40)


class AttachmentOut(Schema):
    id: int
    kind: str
    label: str
    size: int


class NoticeOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    state: str
    community_id: int | None
    area_kind: str
    window_days: int
    published_at: datetime | None
    ends_at: datetime | None
    in_window: bool
    attachments: list[AttachmentOut]

    @staticmethod
    def resolve_in_window(obj: Notice) -> bool:
        return obj.in_window()

    @staticmethod
    def resolve_attachments(obj: Notice) -> list[Any]:
        return list(obj.attachments.order_by("pk"))


class NoticeRowOut(Schema):
    id: int
    kind: str
    title: str
    state: str
    published_at: datetime | None
    ends_at: datetime | None


class PublishedOut(Schema):
    id: int
    state: str
    households: int
    ends_at: datetime | None


class ReceiptOut(Schema):
    recorded: bool = Field(description="false: the household had already been reached")


class ToldIn(Schema):
    household_id: Id
    visit_uuid: UUID | None = None


class ObjectionIn(Schema):
    text: Text = Field(min_length=1, max_length=2000)
    resident_id: Id | None = Field(None, description="staff at the door: whose objection")


class ObjectionOut(Schema):
    id: int
    case_id: int
    case_number: str

    @staticmethod
    def resolve_case_number(obj: Any) -> str:
        return str(obj.case.number)


class ReceiptsOut(Schema):
    total: int
    app: int
    sms: int
    in_person: int
    unreached: int
    sms_sent: int


class UnreachedOut(Schema):
    household_id: Id
    grid_id: int
    address: str

    @staticmethod
    def resolve_address(obj: Any) -> str:
        return str(obj.household.address)


# -- polls --------------------------------------------------------------------------------------


class PollIn(Schema):
    title: Text = Field(min_length=1, max_length=200)
    question: Text = Field(min_length=1, max_length=5000)
    options: list[Annotated[Text, Field(max_length=200)]] = Field(min_length=2, max_length=20)
    closes_at: AwareDatetime
    area: AreaSchema
    unit: Literal["household", "adult"] = "household"
    secret: bool = False


class OptionOut(Schema):
    id: int
    label: str


class PollOut(Schema):
    id: int
    title: str
    question: str
    unit: str
    secret: bool
    state: str
    closes_at: AwareDatetime
    options: list[OptionOut]
    result_notice_id: int | None

    @staticmethod
    def resolve_options(obj: Poll) -> list[Any]:
        return list(obj.options.all())


class VoteIn(Schema):
    option_id: Id


class VotedOut(Schema):
    poll_id: int
    channel: str
    voted_at: datetime


class DoorVoteForm(Schema):
    option_id: Id
    resident_id: Id
    client_photo_id: UUID


class VoterOut(Schema):
    household_id: Id
    address: str
    resident: str
    channel: str
    voted_at: datetime

    @staticmethod
    def resolve_address(obj: Any) -> str:
        return str(obj.household.address)

    @staticmethod
    def resolve_resident(obj: Any) -> str:
        return mask_name(obj.resident.name)


class TallyOut(Schema):
    label: str
    votes: int


class ResultsOut(Schema):
    state: str
    roll_households: int
    voters: int
    options: list[TallyOut] | None = Field(description="only once the poll is closed")


# -- hearings -----------------------------------------------------------------------------------


class HearingIn(Schema):
    kind: Literal["hearing", "argument", "consultation"] = "hearing"
    title: Text = Field(min_length=1, max_length=200)
    topic: Text = Field(min_length=1, max_length=10_000)
    place: Text = Field(min_length=1, max_length=200)
    meeting_at: AwareDatetime
    area: AreaSchema


class HearingOut(Schema):
    id: int
    kind: str
    title: str
    topic: str
    place: str
    meeting_at: AwareDatetime
    state: str
    invitation_notice_id: int
    outcome_notice_id: int | None
    outcome: str

    @staticmethod
    def resolve_invitation_notice_id(obj: Hearing) -> int:
        return obj.invitation_id

    @staticmethod
    def resolve_outcome_notice_id(obj: Hearing) -> int | None:
        return obj.outcome_notice_id


class HouseholdIn(Schema):
    household_id: Id | None = Field(None, description="staff: which household; a resident: own")


class ParticipantOut(Schema):
    household_id: Id
    registered_at: datetime | None
    registered_via: str = Field(description="app, staff or voice (keypress 1 on a call)")
    attended_at: datetime | None


class OpinionIn(Schema):
    text: Text = Field(min_length=1, max_length=5000)
    via: Literal["", "door", "meeting"] = Field("", description="staff: door or meeting")
    resident_id: Id | None = None


class OpinionOut(Schema):
    id: int
    household_id: Id
    resident: str
    via: str
    text: str
    at: datetime

    @staticmethod
    def resolve_resident(obj: Any) -> str:
        return mask_name(obj.resident.name)


class FollowUpSchema(Schema):
    kind: Literal["task", "case"]
    household_id: Id
    note: Text = Field(min_length=1, max_length=300)
    item_code: Text = Field("", max_length=40)


class ConcludeIn(Schema):
    minutes: Text = Field(min_length=1, max_length=50_000)
    outcome: Text = Field(min_length=1, max_length=10_000)
    follow_ups: list[FollowUpSchema] = Field(default_factory=list, max_length=100)


# -- volunteers ---------------------------------------------------------------------------------

SkillIn = Literal["accompany", "call", "errands", "repair", "company", "other"]


class VolunteerSchemaIn(Schema):
    skills: list[SkillIn] = Field(min_length=1, max_length=6)
    consent: bool = Field(description="agree to be offered tasks near home (false: withdraw)")
    availability: Text = Field("", max_length=200)
    max_distance_m: int = Field(1000, ge=100, le=5000)
    resident_id: Id | None = Field(None, description="staff: the resident who agreed")


class VolunteerOut(Schema):
    id: int
    resident: str
    grid_id: int
    skills: list[str]
    availability: str
    max_distance_m: int
    consent: bool

    @staticmethod
    def resolve_resident(obj: Any) -> str:
        return mask_name(obj.resident.name)

    @staticmethod
    def resolve_consent(obj: Any) -> bool:
        return obj.consent_at is not None


class OrganisationOut(Schema):
    id: int
    community_id: int
    name: str
    kind: str
    services: str
    contact_name: str
    contact_phone: str


class NeedSchemaIn(Schema):
    household_id: Id
    skill: SkillIn
    description: Text = Field(min_length=1, max_length=500)
    due_at: AwareDatetime
    radius_m: int = Field(1000, ge=100, le=5000)


class VolunteerTaskOut(Schema):
    """What a volunteer needs to help, and no more: the address, a masked name, the need."""

    id: int
    grid_id: int
    skill: str
    description: str
    due_at: datetime
    state: str
    address: str
    person: str
    hours: float | None
    confirmed: bool

    @staticmethod
    def resolve_address(obj: Any) -> str:
        return str(obj.household.address)

    @staticmethod
    def resolve_person(obj: Any) -> str:
        first = obj.household.residents.order_by("pk").first()
        return mask_name(first.name) if first else ""

    @staticmethod
    def resolve_hours(obj: Any) -> float | None:
        return float(obj.hours) if obj.hours is not None else None

    @staticmethod
    def resolve_confirmed(obj: Any) -> bool:
        return obj.confirmed_at is not None


class OfferOut(Schema):
    """A volunteer a task was offered to: masked name, skills, how far they live."""

    volunteer_id: int
    volunteer: str
    skills: list[str]
    distance_m: float
    offered_at: datetime
    accepted: bool

    @staticmethod
    def resolve_volunteer(obj: Any) -> str:
        return mask_name(obj.volunteer.resident.name)

    @staticmethod
    def resolve_skills(obj: Any) -> list[str]:
        return list(obj.volunteer.skills)

    @staticmethod
    def resolve_accepted(obj: Any) -> bool:
        return bool(obj.task.volunteer_id == obj.volunteer_id)


class HoursIn(Schema):
    hours: Decimal = Field(ge=Decimal("0.5"), le=Decimal("24"), decimal_places=1)


# -- self-governance groups ---------------------------------------------------------------------


class GroupIn(Schema):
    grid_id: Id
    name: Text = Field(min_length=1, max_length=100)


class MemberIn(Schema):
    resident_id: Id
    role: Literal["leader", "member", "building_head", "deputy"] = "member"


class MemberOut(Schema):
    id: int
    resident: str
    role: str

    @staticmethod
    def resolve_resident(obj: Any) -> str:
        return mask_name(obj.resident.name)


class GroupOut(Schema):
    id: int
    grid_id: Id
    name: str
    members: list[MemberOut]

    @staticmethod
    def resolve_members(obj: Any) -> list[Any]:
        return list(obj.members.select_related("resident").order_by("pk"))


class MeetingSchemaIn(Schema):
    held_at: AwareDatetime
    place: Text = Field(min_length=1, max_length=200)
    agenda: Text = Field(min_length=1, max_length=5000)
    minutes: Text = Field("", max_length=20_000)
    attendee_ids: list[Id] = Field(default_factory=list, max_length=500)


class MeetingOut(Schema):
    id: int
    held_at: datetime
    place: str
    agenda: str
    minutes: str
    attendees: int

    @staticmethod
    def resolve_attendees(obj: Any) -> int:
        return int(obj.attendees.count())


class ProposalIn(Schema):
    title: Text = Field(min_length=1, max_length=200)
    text: Text = Field(min_length=1, max_length=5000)


class ProposalOut(Schema):
    id: int
    title: str
    text: str
    state: str
    decision_note: str


class DecisionSchemaIn(Schema):
    take_up: bool
    note: Text = Field("", max_length=300)


class ActivityOut(Schema):
    kind: str
    text: str
    at: datetime


# -- topics (民主议事) ---------------------------------------------------------------------------


class TopicIn(Schema):
    title: Text = Field(min_length=1, max_length=200)
    text: Text = Field(min_length=1, max_length=5000)
    group_id: Id | None = Field(None, description="a group's topic (its leader, or its staff)")
    resident_id: Id | None = Field(None, description="staff: the resident proposing at the door")


class TopicOut(Schema):
    """A topic; who proposed it is shown as 'resident' or 'group' (and the group's id), never
    a name: supporters are counted, not listed."""

    id: int
    grid_id: int
    title: str
    text: str
    state: str
    proposed_by: str
    group_id: int | None
    supporters: int
    threshold: int
    agenda_at: datetime | None
    poll_id: int | None
    hearing_id: int | None
    reject_reason: str

    @staticmethod
    def resolve_proposed_by(obj: Any) -> str:
        return "group" if obj.group_id else "resident"


class SupportIn(Schema):
    resident_id: Id | None = Field(None, description="staff: the resident supporting at the door")


class RejectIn(Schema):
    reason: Text = Field(min_length=1, max_length=300)


class TopicPollSchemaIn(Schema):
    """The poll a topic on the agenda becomes: its title and question are the topic's."""

    options: list[Annotated[Text, Field(max_length=200)]] = Field(min_length=2, max_length=20)
    closes_at: AwareDatetime
    unit: Literal["household", "adult"] = "household"
    secret: bool = False
    area: AreaSchema | None = Field(None, description="default: the topic's grid")


class TopicHearingSchemaIn(Schema):
    """The hearing a topic on the agenda becomes: its title and topic are the topic's."""

    kind: Literal["hearing", "argument", "consultation"] = "consultation"
    place: Text = Field(min_length=1, max_length=200)
    meeting_at: AwareDatetime
    area: AreaSchema | None = Field(None, description="default: the topic's grid")


# -- voice calls ----------------------------------------------------------------------------


class PollCallsIn(Schema):
    resident_ids: list[Id] | None = Field(
        None, max_length=500, description="whom to call; default: every unit without the app"
    )


class HearingCallsIn(Schema):
    household_ids: list[Id] | None = Field(
        None, max_length=500, description="whom to call; default: every household without the app"
    )


class PollCallsOut(Schema):
    called: int
    skipped_voted: int
    skipped_no_phone: int
    skipped_called: int


class HearingCallsOut(Schema):
    called: int
    skipped_registered: int
    skipped_no_phone: int
    skipped_called: int
