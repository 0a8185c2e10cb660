"""Community life: notices (居务公开 / 公示) with read receipts and objections, consultative
polls, hearings. Every operation on an id answers 404 out of the caller's scope."""

from typing import Any, Literal

from django.http import FileResponse, HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from backend.audit.actions import client_of
from backend.audit.models import AuditEvent
from backend.community import actions, selectors
from backend.community.actions.polls import turnout
from backend.community.models import (
    GroupMeeting,
    GroupMember,
    GroupProposal,
    Hearing,
    HearingOpinion,
    HearingParticipant,
    Notice,
    NoticeAttachment,
    Poll,
    PollVoter,
    SelfGovernanceGroup,
    Topic,
    Volunteer,
    VolunteerOffer,
    VolunteerTask,
)
from backend.community.pdf import notice_pdf
from backend.core.api_errors import responses
from backend.core.errors import ApiError
from mobile_api.pagination import AuditedPage, BoundedLimitOffset
from mobile_api.security import caller

from .schemas import (
    ActivityOut,
    AttachmentOut,
    ConcludeIn,
    DecisionSchemaIn,
    DoorVoteForm,
    GroupIn,
    GroupOut,
    HearingCallsIn,
    HearingCallsOut,
    HearingIn,
    HearingOut,
    HoursIn,
    HouseholdIn,
    MeetingOut,
    MeetingSchemaIn,
    MemberIn,
    MemberOut,
    NeedSchemaIn,
    NoticeIn,
    NoticeOut,
    NoticeRowOut,
    ObjectionIn,
    ObjectionOut,
    OfferOut,
    OpinionIn,
    OpinionOut,
    OrganisationOut,
    ParticipantOut,
    PollCallsIn,
    PollCallsOut,
    PollIn,
    PollOut,
    ProposalIn,
    ProposalOut,
    PublishedOut,
    ReceiptOut,
    ReceiptsOut,
    RejectIn,
    ResultsOut,
    SupportIn,
    ToldIn,
    TopicHearingSchemaIn,
    TopicIn,
    TopicOut,
    TopicPollSchemaIn,
    UnreachedOut,
    VolunteerOut,
    VolunteerSchemaIn,
    VolunteerTaskOut,
    VotedOut,
    VoteIn,
    VoterOut,
)

router = Router(tags=["community"])
MAX_UPLOAD = 15 * 1024 * 1024


def _upload(request: HttpRequest) -> tuple[bytes, str]:
    upload = request.FILES.get("file")
    if upload is None:
        raise ApiError("validation_error", status=422, fields={"file": "field_required"})
    if upload.size and upload.size > MAX_UPLOAD:
        raise ApiError("attachment_too_large", status=413, fields={"file": "too_large"})
    return upload.read(), upload.name or ""


def _form(schema: type[Schema], request: HttpRequest) -> Any:
    try:
        return schema.model_validate(request.POST.dict())
    except PydanticValidationError as exc:
        fields = {
            ".".join(str(p) for p in e["loc"]) or "body": "field_invalid" for e in exc.errors()
        }
        raise ApiError("validation_error", status=422, fields=fields) from exc


def _binary(what: str, *content_types: str) -> dict[str, Any]:
    """A 200 that is a file, not JSON."""
    body = {"schema": {"type": "string", "format": "binary"}}
    content = dict.fromkeys(content_types, body)
    return {"responses": {"200": {"description": what, "content": content}}}


def _multipart(required: list[str], props: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "required": ["file", *required], "properties": props}
    props["file"] = {"type": "string", "format": "binary"}
    return {
        "requestBody": {"content": {"multipart/form-data": {"schema": schema}}, "required": True}
    }


# -- notices ------------------------------------------------------------------------------------


@router.post("/community/notices", response=responses({201: NoticeOut}, 400, 401, 403, 422))
def create_notice(request: HttpRequest, payload: NoticeIn) -> Status[Notice]:
    """A draft notice (supervisor: their community; district administrator: the district)."""
    draft = actions.NoticeDraft(
        kind=payload.kind,
        title=payload.title,
        body=payload.body,
        area=payload.area.parsed(),
        window_days=payload.window_days,
        door_after_hours=payload.door_after_hours,
        send_sms=payload.send_sms,
        objection_item_code=payload.objection_item_code,
    )
    return Status(201, actions.do_create_notice(user=caller(request), draft=draft))


class NoticeFilters(Schema):
    archive: bool = Field(False, description="notices whose publication window has ended")


@router.get("/community/notices", response=responses({200: list[NoticeRowOut]}, 401, 422))
@paginate(BoundedLimitOffset)
def notices(request: HttpRequest, filters: Query[NoticeFilters]) -> Any:
    """Notices addressed to the caller (a resident: their household; staff: their scope)."""
    return selectors.notices_for(caller(request), archive=filters.archive)


@router.get("/community/notices/{notice_id}", response=responses({200: NoticeOut}, 401, 404, 422))
def notice(request: HttpRequest, notice_id: int) -> Notice:
    return selectors.get_notice(caller(request), notice_id)


@router.post(
    "/community/notices/{notice_id}/attachments",
    response=responses({201: AttachmentOut}, 400, 401, 403, 404, 409, 413, 415, 422),
    openapi_extra=_multipart([], {"label": {"type": "string", "maxLength": 100}}),
)
def add_attachment(request: HttpRequest, notice_id: int) -> Status[NoticeAttachment]:
    """A photo or PDF for a draft notice (multipart: file, label)."""
    user = caller(request)
    selectors.get_notice(user, notice_id)  # scope first: 404 before anything about the body
    data, name = _upload(request)
    label = request.POST.get("label", "")[:100]
    attachment = actions.do_add_attachment(
        user=user, notice_id=notice_id, data=data, filename=name, label=label
    )
    return Status(201, attachment)


@router.get(
    "/community/notices/{notice_id}/attachments/{attachment_id}",
    response=responses({}, 401, 404, 422),
    openapi_extra=_binary("the PDF or the (re-encoded) JPEG", "application/pdf", "image/jpeg"),
)
def attachment(request: HttpRequest, notice_id: int, attachment_id: int) -> FileResponse:
    row = selectors.get_attachment(caller(request), notice_id, attachment_id)
    kind = "application/pdf" if row.kind == NoticeAttachment.Kind.PDF else "image/jpeg"
    return FileResponse(row.file.open("rb"), content_type=kind)


@router.post(
    "/community/notices/{notice_id}/publish",
    response=responses({200: PublishedOut}, 400, 401, 403, 404, 409, 422),
)
def publish_notice(request: HttpRequest, notice_id: int) -> dict[str, Any]:
    """Fix the households, open the window, queue the SMS links, arm the door-to-door timer."""
    notice = actions.do_publish_notice(user=caller(request), notice_id=notice_id)
    return {
        "id": notice.pk,
        "state": notice.state,
        "households": notice.addressees.count(),
        "ends_at": notice.ends_at,
    }


@router.post(
    "/community/notices/{notice_id}/read",
    response=responses({200: ReceiptOut}, 400, 401, 403, 404, 422),
)
def read_notice(request: HttpRequest, notice_id: int) -> dict[str, bool]:
    """A resident read the notice in the app: the receipt for their household."""
    return {"recorded": actions.do_read_in_app(user=caller(request), notice_id=notice_id)}


@router.post(
    "/community/notices/{notice_id}/told",
    response=responses({200: ReceiptOut}, 400, 401, 403, 404, 422),
)
def told_in_person(request: HttpRequest, notice_id: int, payload: ToldIn) -> dict[str, bool]:
    """The worker told the household in person (on a visit)."""
    recorded = actions.do_tell_in_person(
        user=caller(request),
        notice_id=notice_id,
        household_id=payload.household_id,
        visit_uuid=payload.visit_uuid,
    )
    return {"recorded": recorded}


@router.post(
    "/community/notices/{notice_id}/objections",
    response=responses({201: ObjectionOut}, 400, 401, 403, 404, 409, 422),
)
def object_to_notice(request: HttpRequest, notice_id: int, payload: ObjectionIn) -> Status[Any]:
    """An objection during the window: filed as a routed service-desk case (409 after it)."""
    objection = actions.do_object(
        user=caller(request),
        notice_id=notice_id,
        text=payload.text,
        resident_id=payload.resident_id,
    )
    return Status(201, objection)


@router.get(
    "/community/notices/{notice_id}/receipts",
    response=responses({200: ReceiptsOut}, 401, 403, 404, 422),
)
def receipts(request: HttpRequest, notice_id: int) -> dict[str, int]:
    """Households reached by each channel (staff)."""
    return selectors.receipts(caller(request), notice_id)


@router.get(
    "/community/notices/{notice_id}/unreached",
    response=responses({200: list[UnreachedOut]}, 401, 403, 404, 422),
)
@paginate(BoundedLimitOffset)
def unreached(request: HttpRequest, notice_id: int) -> Any:
    """The households of the caller's grids the notice has not reached yet."""
    return selectors.unreached(caller(request), notice_id)


@router.get(
    "/community/notices/{notice_id}/pdf",
    response=responses({}, 401, 404, 422),
    openapi_extra=_binary("the printable A4 page", "application/pdf"),
)
def notice_page(request: HttpRequest, notice_id: int) -> HttpResponse:
    """The printable A4 page for the building's notice board (Chinese font embedded)."""
    notice = selectors.get_notice(caller(request), notice_id)
    response = HttpResponse(notice_pdf(notice), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="notice-{notice.pk}.pdf"'
    return response


# -- polls --------------------------------------------------------------------------------------


@router.post("/community/polls", response=responses({201: PollOut}, 400, 401, 403, 422))
def create_poll(request: HttpRequest, payload: PollIn) -> Status[Poll]:
    draft = actions.PollDraft(
        title=payload.title,
        question=payload.question,
        options=tuple(payload.options),
        closes_at=payload.closes_at,
        area=payload.area.parsed(),
        unit=payload.unit,
        secret=payload.secret,
    )
    return Status(201, actions.do_create_poll(user=caller(request), draft=draft))


@router.get("/community/polls", response=responses({200: list[PollOut]}, 401, 422))
@paginate(BoundedLimitOffset)
def polls(request: HttpRequest) -> Any:
    """Polls in scope; a resident sees only the polls they may vote in."""
    return selectors.polls_for(caller(request))


@router.get("/community/polls/{poll_id}", response=responses({200: PollOut}, 401, 404, 422))
def poll(request: HttpRequest, poll_id: int) -> Poll:
    return selectors.get_poll(caller(request), poll_id)


@router.post(
    "/community/polls/{poll_id}/open",
    response=responses({200: PollOut}, 400, 401, 403, 404, 409, 422),
)
def open_poll(request: HttpRequest, poll_id: int) -> Poll:
    """Fix the roll and set the closing timer."""
    return actions.do_open_poll(user=caller(request), poll_id=poll_id)


@router.post(
    "/community/polls/{poll_id}/votes",
    response=responses({201: VotedOut}, 400, 401, 403, 404, 409, 422),
)
def vote(request: HttpRequest, poll_id: int, payload: VoteIn) -> Status[PollVoter]:
    """A resident's vote in the app (once per household or adult, by the poll's unit)."""
    voter = actions.do_vote(user=caller(request), poll_id=poll_id, option_id=payload.option_id)
    return Status(201, voter)


@router.post(
    "/community/polls/{poll_id}/door-votes",
    response=responses({201: VotedOut}, 400, 401, 403, 404, 409, 413, 415, 422),
    openapi_extra=_multipart(
        ["option_id", "resident_id", "client_photo_id"],
        {
            "option_id": {"type": "integer"},
            "resident_id": {"type": "integer"},
            "client_photo_id": {"type": "string", "format": "uuid"},
        },
    ),
)
def door_vote(request: HttpRequest, poll_id: int) -> Status[PollVoter]:
    """A vote recorded at the door by the worker, with a photo of the resident's signed
    confirmation (multipart: file, option_id, resident_id, client_photo_id)."""
    user = caller(request)
    selectors.get_poll(user, poll_id)  # scope first
    form = _form(DoorVoteForm, request)
    data, _ = _upload(request)
    voter = actions.do_vote_at_door(
        user=user,
        poll_id=poll_id,
        option_id=form.option_id,
        resident_id=form.resident_id,
        photo=data,
        client_photo_id=form.client_photo_id,
    )
    return Status(201, voter)


@router.post(
    "/community/polls/{poll_id}/voice-calls",
    response=responses({200: PollCallsOut}, 400, 401, 403, 404, 409, 422),
)
def poll_voice_calls(request: HttpRequest, poll_id: int, payload: PollCallsIn) -> dict[str, int]:
    """Read the poll out by voice call (keypress N = option N) to the residents of the
    caller's grids on its roll: those named, or every unit without the app that has not
    voted. One vote per household or adult still holds."""
    return actions.do_call_poll(
        user=caller(request), poll_id=poll_id, resident_ids=payload.resident_ids
    )


@router.get(
    "/community/polls/{poll_id}/voters",
    response=responses({200: list[VoterOut]}, 401, 403, 404, 422),
)
@paginate(BoundedLimitOffset)
def voters(request: HttpRequest, poll_id: int) -> Any:
    """Who voted (never how), in the caller's grids; the read is audited."""
    return selectors.voters(caller(request), poll_id, client=client_of(request))


@router.get(
    "/community/polls/{poll_id}/results", response=responses({200: ResultsOut}, 401, 404, 422)
)
def results(request: HttpRequest, poll_id: int) -> dict[str, Any]:
    """Turnout at any time; the counts once the poll is closed."""
    poll = selectors.get_poll(caller(request), poll_id)
    counts = turnout(poll)
    closed = poll.state == Poll.State.CLOSED
    options = [{"label": o.label, "votes": o.votes} for o in poll.options.all()] if closed else None
    return {"state": poll.state, **counts, "options": options}


# -- hearings -----------------------------------------------------------------------------------


@router.post("/community/hearings", response=responses({201: HearingOut}, 400, 401, 403, 422))
def create_hearing(request: HttpRequest, payload: HearingIn) -> Status[Hearing]:
    draft = actions.HearingDraft(
        kind=payload.kind,
        title=payload.title,
        topic=payload.topic,
        place=payload.place,
        meeting_at=payload.meeting_at,
        area=payload.area.parsed(),
    )
    return Status(201, actions.do_create_hearing(user=caller(request), draft=draft))


@router.get("/community/hearings", response=responses({200: list[HearingOut]}, 401, 422))
@paginate(BoundedLimitOffset)
def hearings(request: HttpRequest) -> Any:
    return selectors.hearings_for(caller(request))


@router.get(
    "/community/hearings/{hearing_id}", response=responses({200: HearingOut}, 401, 404, 422)
)
def hearing(request: HttpRequest, hearing_id: int) -> Hearing:
    return selectors.get_hearing(caller(request), hearing_id)


@router.post(
    "/community/hearings/{hearing_id}/invite",
    response=responses({200: HearingOut}, 400, 401, 403, 404, 409, 422),
)
def invite(request: HttpRequest, hearing_id: int) -> Hearing:
    """Publish the invitation notice to the affected households (app, SMS link, door)."""
    return actions.do_invite(user=caller(request), hearing_id=hearing_id)


@router.post(
    "/community/hearings/{hearing_id}/registrations",
    response=responses({200: ParticipantOut}, 400, 401, 403, 404, 409, 422),
)
def register(request: HttpRequest, hearing_id: int, payload: HouseholdIn) -> HearingParticipant:
    return actions.do_register(
        user=caller(request), hearing_id=hearing_id, household_id=payload.household_id
    )


@router.post(
    "/community/hearings/{hearing_id}/voice-calls",
    response=responses({200: HearingCallsOut}, 400, 401, 403, 404, 409, 422),
)
def hearing_voice_calls(
    request: HttpRequest, hearing_id: int, payload: HearingCallsIn
) -> dict[str, int]:
    """Read the invitation by voice call to invited households of the caller's grids (those
    named, or every one without the app); keypress 1 registers the household."""
    return actions.do_call_hearing(
        user=caller(request), hearing_id=hearing_id, household_ids=payload.household_ids
    )


@router.post(
    "/community/hearings/{hearing_id}/check-ins",
    response=responses({200: ParticipantOut}, 400, 401, 403, 404, 409, 422),
)
def check_in(request: HttpRequest, hearing_id: int, payload: HouseholdIn) -> HearingParticipant:
    """Attendance, checked in at the meeting place by staff."""
    return actions.do_check_in(
        user=caller(request), hearing_id=hearing_id, household_id=payload.household_id
    )


@router.post(
    "/community/hearings/{hearing_id}/opinions",
    response=responses({201: OpinionOut}, 400, 401, 403, 404, 409, 422),
)
def record_opinion(
    request: HttpRequest, hearing_id: int, payload: OpinionIn
) -> Status[HearingOpinion]:
    """An opinion: written by a resident in the app, or recorded by staff at the door or
    at the meeting (resident_id)."""
    opinion = actions.do_record_opinion(
        user=caller(request),
        hearing_id=hearing_id,
        text=payload.text,
        via=payload.via,
        resident_id=payload.resident_id,
    )
    return Status(201, opinion)


@router.get(
    "/community/hearings/{hearing_id}/opinions",
    response=responses({200: list[OpinionOut]}, 401, 403, 404, 422),
)
@paginate(BoundedLimitOffset)
def opinions(request: HttpRequest, hearing_id: int) -> Any:
    return selectors.opinions(caller(request), hearing_id)


@router.post(
    "/community/hearings/{hearing_id}/conclude",
    response=responses({200: HearingOut}, 400, 401, 403, 404, 409, 422),
)
def conclude(request: HttpRequest, hearing_id: int, payload: ConcludeIn) -> Hearing:
    """Minutes and outcome; the outcome is published as a notice; follow-ups raised."""
    follow_ups = tuple(
        actions.FollowUpIn(
            kind=f.kind, household_id=f.household_id, note=f.note, item_code=f.item_code
        )
        for f in payload.follow_ups
    )
    return actions.do_conclude_hearing(
        user=caller(request),
        hearing_id=hearing_id,
        minutes=payload.minutes,
        outcome=payload.outcome,
        follow_ups=follow_ups,
    )


# -- volunteers ---------------------------------------------------------------------------------


@router.post(
    "/community/volunteers", response=responses({200: VolunteerOut}, 400, 401, 403, 404, 422)
)
def register_volunteer(request: HttpRequest, payload: VolunteerSchemaIn) -> Volunteer:
    """Register as a volunteer (a resident), or register a resident who agreed (staff)."""
    data = actions.VolunteerIn(
        skills=tuple(payload.skills),
        consent=payload.consent,
        availability=payload.availability,
        max_distance_m=payload.max_distance_m,
        resident_id=payload.resident_id,
    )
    return actions.do_register_volunteer(user=caller(request), data=data)


@router.get("/community/volunteers", response=responses({200: list[VolunteerOut]}, 401, 422))
@paginate(AuditedPage, action=AuditEvent.Action.LIST_VOLUNTEERS, target_type="volunteer")
def volunteers_list(request: HttpRequest) -> Any:
    """The volunteer registry of the caller's grids (a resident: their own registration); each
    page read is audited, naming the volunteers on it."""
    return selectors.volunteers_for(caller(request))


@router.get("/community/organisations", response=responses({200: list[OrganisationOut]}, 401, 422))
@paginate(BoundedLimitOffset)
def organisations(request: HttpRequest) -> Any:
    """Social organisations of the caller's communities."""
    return selectors.organisations_for(caller(request))


@router.post(
    "/community/volunteer-tasks",
    response=responses({201: VolunteerTaskOut}, 400, 401, 403, 404, 422),
)
def create_volunteer_task(request: HttpRequest, payload: NeedSchemaIn) -> Status[VolunteerTask]:
    """A household's need, offered to consenting volunteers within the distance."""
    need = actions.NeedIn(
        household_id=payload.household_id,
        skill=payload.skill,
        description=payload.description,
        due_at=payload.due_at,
        radius_m=payload.radius_m,
    )
    return Status(201, actions.do_create_volunteer_task(user=caller(request), need=need))


@router.get(
    "/community/volunteer-tasks", response=responses({200: list[VolunteerTaskOut]}, 401, 422)
)
@paginate(AuditedPage, action=AuditEvent.Action.LIST_VOLUNTEER_TASKS, target_type="volunteer_task")
def volunteer_tasks(request: HttpRequest) -> Any:
    """Staff: their grids' tasks; a volunteer: the tasks offered to them. Each page read is
    audited (it shows the persons helped, masked, and their addresses)."""
    return selectors.volunteer_tasks_for(caller(request))


@router.get(
    "/community/volunteer-tasks/{task_id}",
    response=responses({200: VolunteerTaskOut}, 401, 404, 422),
)
def volunteer_task(request: HttpRequest, task_id: int) -> VolunteerTask:
    return selectors.get_volunteer_task(caller(request), task_id, client=client_of(request))


@router.get(
    "/community/volunteer-tasks/{task_id}/offers",
    response=responses({200: list[OfferOut]}, 401, 403, 404, 422),
)
def volunteer_offers(request: HttpRequest, task_id: int) -> list[VolunteerOffer]:
    """The match (staff of the task's grid): the volunteers it was offered to, nearest
    first; the read is audited, naming them."""
    return selectors.offers_of(caller(request), task_id, client=client_of(request))


@router.post(
    "/community/volunteer-tasks/{task_id}/accept",
    response=responses({200: VolunteerTaskOut}, 400, 401, 403, 404, 409, 422),
)
def accept_volunteer_task(request: HttpRequest, task_id: int) -> VolunteerTask:
    return actions.do_accept_task(user=caller(request), task_id=task_id)


@router.post(
    "/community/volunteer-tasks/{task_id}/hours",
    response=responses({200: VolunteerTaskOut}, 400, 401, 403, 404, 409, 422),
)
def record_hours(request: HttpRequest, task_id: int, payload: HoursIn) -> VolunteerTask:
    return actions.do_record_hours(user=caller(request), task_id=task_id, hours=payload.hours)


@router.post(
    "/community/volunteer-tasks/{task_id}/confirm",
    response=responses({200: VolunteerTaskOut}, 400, 401, 403, 404, 409, 422),
)
def confirm_hours(request: HttpRequest, task_id: int) -> VolunteerTask:
    """The person helped, or the grid's staff, confirm the hours once."""
    return actions.do_confirm_hours(user=caller(request), task_id=task_id)


# -- grid self-governance groups ----------------------------------------------------------------


@router.post("/community/groups", response=responses({201: GroupOut}, 400, 401, 403, 404, 422))
def create_group(request: HttpRequest, payload: GroupIn) -> Status[SelfGovernanceGroup]:
    """A self-governance group of one of the caller's grids."""
    group = actions.do_create_group(
        user=caller(request), grid_id=payload.grid_id, name=payload.name
    )
    return Status(201, group)


@router.get("/community/groups", response=responses({200: list[GroupOut]}, 401, 422))
@paginate(BoundedLimitOffset)
def groups(request: HttpRequest) -> Any:
    """The groups of the caller's grids (staff)."""
    return selectors.groups_for(caller(request))


@router.get("/community/groups/{group_id}", response=responses({200: GroupOut}, 401, 404, 422))
def group(request: HttpRequest, group_id: int) -> SelfGovernanceGroup:
    return selectors.get_group(caller(request), group_id)


@router.post(
    "/community/groups/{group_id}/members",
    response=responses({201: MemberOut}, 400, 401, 403, 404, 409, 422),
)
def add_member(request: HttpRequest, group_id: int, payload: MemberIn) -> Status[GroupMember]:
    member = actions.do_add_member(
        user=caller(request), group_id=group_id, resident_id=payload.resident_id, role=payload.role
    )
    return Status(201, member)


@router.post(
    "/community/groups/{group_id}/meetings",
    response=responses({201: MeetingOut}, 400, 401, 403, 404, 422),
)
def record_meeting(
    request: HttpRequest, group_id: int, payload: MeetingSchemaIn
) -> Status[GroupMeeting]:
    """A meeting: agenda, attendance (member ids), minutes."""
    meeting = actions.MeetingIn(
        held_at=payload.held_at,
        place=payload.place,
        agenda=payload.agenda,
        minutes=payload.minutes,
        attendee_ids=tuple(payload.attendee_ids),
    )
    row = actions.do_record_meeting(user=caller(request), group_id=group_id, meeting=meeting)
    return Status(201, row)


@router.get(
    "/community/groups/{group_id}/activity",
    response=responses({200: list[ActivityOut]}, 401, 404, 422),
)
@paginate(BoundedLimitOffset)
def group_activity(request: HttpRequest, group_id: int) -> Any:
    """The group's activity log, oldest first."""
    return selectors.get_group(caller(request), group_id).activity.all()


@router.get(
    "/community/groups/{group_id}/proposals",
    response=responses({200: list[ProposalOut]}, 401, 404, 422),
)
@paginate(BoundedLimitOffset)
def proposals(request: HttpRequest, group_id: int) -> Any:
    return selectors.proposals_of(caller(request), group_id)


@router.post(
    "/community/groups/{group_id}/proposals",
    response=responses({201: ProposalOut}, 400, 401, 403, 404, 422),
)
def propose(request: HttpRequest, group_id: int, payload: ProposalIn) -> Status[GroupProposal]:
    """A topic the group proposes for consultation."""
    proposal = actions.do_propose_topic(
        user=caller(request), group_id=group_id, title=payload.title, text=payload.text
    )
    return Status(201, proposal)


@router.post(
    "/community/groups/{group_id}/proposals/{proposal_id}/decision",
    response=responses({200: ProposalOut}, 400, 401, 403, 404, 409, 422),
)
def decide(
    request: HttpRequest, group_id: int, proposal_id: int, payload: DecisionSchemaIn
) -> GroupProposal:
    """The supervisor takes the topic up (for a poll or hearing) or declines it."""
    return actions.do_decide_proposal(
        user=caller(request),
        group_id=group_id,
        proposal_id=proposal_id,
        take_up=payload.take_up,
        note=payload.note,
    )


# -- topics (民主议事) ---------------------------------------------------------------------------


@router.post("/community/topics", response=responses({201: TopicOut}, 400, 401, 403, 404, 422))
def propose_topic(request: HttpRequest, payload: TopicIn) -> Status[Topic]:
    """A topic for the proposer's grid: a resident's own (they are its first supporter), a
    group's (its leader, or the grid's staff), or a resident's recorded at the door (staff)."""
    topic = actions.do_propose(
        user=caller(request),
        title=payload.title,
        text=payload.text,
        group_id=payload.group_id,
        resident_id=payload.resident_id,
    )
    return Status(201, topic)


class TopicFilters(Schema):
    state: Literal["open", "agenda", "taken_up", "rejected"] | None = Field(
        None, description="agenda: the grid's agenda (topics that reached the threshold)"
    )


@router.get("/community/topics", response=responses({200: list[TopicOut]}, 401, 422))
@paginate(BoundedLimitOffset)
def topics(request: HttpRequest, filters: Query[TopicFilters]) -> Any:
    """Topics of the caller's grids (a resident: their own grid's, not the rejected ones)."""
    return selectors.topics_for(caller(request), state=filters.state)


@router.get("/community/topics/{topic_id}", response=responses({200: TopicOut}, 401, 404, 422))
def topic(request: HttpRequest, topic_id: int) -> Topic:
    return selectors.get_topic(caller(request), topic_id)


@router.post(
    "/community/topics/{topic_id}/supports",
    response=responses({200: TopicOut}, 400, 401, 403, 404, 409, 422),
)
def support_topic(request: HttpRequest, topic_id: int, payload: SupportIn) -> Topic:
    """Support a topic of one's own grid, once (staff: a resident's, at the door)."""
    return actions.do_support(
        user=caller(request), topic_id=topic_id, resident_id=payload.resident_id
    )


@router.post(
    "/community/topics/{topic_id}/reject",
    response=responses({200: TopicOut}, 400, 401, 403, 404, 409, 422),
)
def reject_topic(request: HttpRequest, topic_id: int, payload: RejectIn) -> Topic:
    """Moderation by the grid's worker: rejected with a reason, once."""
    return actions.do_reject_topic(user=caller(request), topic_id=topic_id, reason=payload.reason)


@router.post(
    "/community/topics/{topic_id}/poll",
    response=responses({201: PollOut}, 400, 401, 403, 404, 409, 422),
)
def topic_poll(request: HttpRequest, topic_id: int, payload: TopicPollSchemaIn) -> Status[Poll]:
    """A topic on the agenda becomes a draft poll (then POST /community/polls/{id}/open)."""
    data = actions.TopicPollIn(
        options=tuple(payload.options),
        closes_at=payload.closes_at,
        unit=payload.unit,
        secret=payload.secret,
        area=payload.area.parsed() if payload.area else None,
    )
    return Status(201, actions.do_topic_poll(user=caller(request), topic_id=topic_id, poll=data))


@router.post(
    "/community/topics/{topic_id}/hearing",
    response=responses({201: HearingOut}, 400, 401, 403, 404, 409, 422),
)
def topic_hearing(
    request: HttpRequest, topic_id: int, payload: TopicHearingSchemaIn
) -> Status[Hearing]:
    """A topic on the agenda becomes a planned hearing or consultation (then .../invite)."""
    data = actions.TopicHearingIn(
        place=payload.place,
        meeting_at=payload.meeting_at,
        kind=payload.kind,
        area=payload.area.parsed() if payload.area else None,
    )
    made = actions.do_topic_hearing(user=caller(request), topic_id=topic_id, hearing=data)
    return Status(201, made)
