"""Hearings and consultations (听证会 / 论证会 / 协商议事会): the topic and its documents go
out as an invitation notice to the affected households; registration, check-in at the
meeting place, opinions (in the app, at the door, at the meeting), then minutes and an outcome
published as a notice, with follow-ups as visit tasks or service-desk cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.accounts.selectors import scope_for
from backend.community import selectors
from backend.community.area import AreaIn, check_author, resolve_area
from backend.community.models import (
    Hearing,
    HearingFollowUp,
    HearingOpinion,
    HearingParticipant,
    Notice,
    NoticeKind,
)
from backend.core.errors import ApiError
from backend.people.models import Resident
from backend.people.selectors import get_resident
from backend.servicedesk.actions import do_file_case
from backend.servicedesk.models import Channel, ServiceItem
from backend.territory.models import Household
from backend.visits.actions import do_raise_visit_task
from backend.visits.models import TaskKind

from .notices import objection_item, publish

MAX_FOLLOW_UPS = 100
OUTCOME_WINDOW_DAYS = 7
FOLLOW_UP_WITHIN = timedelta(days=7)


def _invalid(field: str, code: str = "field_invalid") -> ApiError:
    return ApiError("validation_error", status=422, fields={field: code})


@dataclass(frozen=True)
class HearingDraft:
    title: str
    topic: str
    place: str
    meeting_at: datetime
    area: AreaIn
    kind: str = Hearing.Kind.HEARING
    send_sms: bool = True  # the invitations also by SMS link


def _invitation_body(draft: HearingDraft) -> str:
    at = timezone.localtime(draft.meeting_at)
    return f"{draft.topic.strip()}\n\n时间：{at:%Y-%m-%d %H:%M}\n地点：{draft.place.strip()}"


def do_create_hearing(*, user: User, draft: HearingDraft) -> Hearing:
    """A planned hearing and its invitation (a draft notice to the same area: the topic's
    documents are attached to it)."""
    if not draft.title.strip() or len(draft.title) > 200:
        raise _invalid("title")
    if not draft.topic.strip() or len(draft.topic) > 10_000:
        raise _invalid("topic")
    if not draft.place.strip() or len(draft.place) > 200:
        raise _invalid("place")
    if draft.kind not in Hearing.Kind.values:
        raise _invalid("kind")
    if draft.meeting_at <= timezone.now():
        raise _invalid("meeting_at", "field_out_of_range")
    area = resolve_area(user=user, area=draft.area)
    days = (draft.meeting_at - timezone.now()).days + 1
    with transaction.atomic():
        invitation = Notice.objects.create(
            kind=NoticeKind.HEARING,
            title=f"{Hearing.Kind(draft.kind).label.split()[0]}通知：{draft.title.strip()}"[:200],
            body=_invitation_body(draft),
            window_days=max(1, min(days, 90)),
            send_sms=draft.send_sms,
            objection_item=objection_item(),
            created_by=user,
            **area,
        )
        return Hearing.objects.create(
            kind=draft.kind,
            title=draft.title.strip(),
            topic=draft.topic.strip(),
            place=draft.place.strip(),
            meeting_at=draft.meeting_at,
            invitation=invitation,
            created_by=user,
            **area,
        )


def _locked(user: User, hearing_id: int) -> Hearing:
    hearing = selectors.get_hearing(user, hearing_id)
    return Hearing.objects.select_for_update().select_related("invitation").get(pk=hearing.pk)


def do_invite(*, user: User, hearing_id: int) -> Hearing:
    """Send the invitations: publish the invitation notice (app, SMS link, door)."""
    with transaction.atomic():
        hearing = _locked(user, hearing_id)
        check_author(user)
        if hearing.state != Hearing.State.PLANNED:
            raise ApiError("hearing_wrong_state", status=409)
        invitation = Notice.objects.select_for_update().get(pk=hearing.invitation_id)
        publish(invitation, by=user)
        hearing.state = Hearing.State.INVITED
        hearing.save(update_fields=["state"])
    return hearing


def _open(hearing: Hearing) -> None:
    if hearing.state != Hearing.State.INVITED:
        raise ApiError("hearing_wrong_state", status=409)


def _invited_household(user: User, hearing: Hearing, household_id: int | None) -> Household:
    """The caller's own household (a resident) or one in the staff caller's scope, which must
    be among the invited."""
    if user.role == Role.RESIDENT:
        if user.resident is None or household_id not in (None, user.resident.household_id):
            raise ApiError("permission_denied", status=403)
        household = user.resident.household
    else:
        if household_id is None:
            raise _invalid("household_id", "field_required")
        household = selectors.household_in_scope(scope_for(user), household_id)
    selectors.addressee_of(hearing.invitation, household.pk)
    return household


def _participant(hearing: Hearing, household: Household) -> HearingParticipant:
    participant, _ = HearingParticipant.objects.get_or_create(
        hearing=hearing, household=household, defaults={"grid_id": household.grid_id}
    )
    return participant


def do_register(
    *, user: User, hearing_id: int, household_id: int | None = None
) -> HearingParticipant:
    """A household registers to attend (itself in the app, or through its worker)."""
    with transaction.atomic():
        hearing = _locked(user, hearing_id)
        _open(hearing)
        household = _invited_household(user, hearing, household_id)
        participant = _participant(hearing, household)
        if participant.registered_at is None:
            participant.registered_at = timezone.now()
            participant.registered_by = user
            participant.registered_via = "app" if user.role == Role.RESIDENT else "staff"
            if user.resident is not None:
                participant.resident = user.resident
            participant.save(
                update_fields=["registered_at", "registered_by", "registered_via", "resident"]
            )
    return participant


def do_check_in(*, user: User, hearing_id: int, household_id: int | None) -> HearingParticipant:
    """Staff check a household in at the meeting place (registered or not)."""
    if user.role == Role.RESIDENT:
        raise ApiError("permission_denied", status=403)
    with transaction.atomic():
        hearing = _locked(user, hearing_id)
        _open(hearing)
        household = _invited_household(user, hearing, household_id)
        participant = _participant(hearing, household)
        if participant.attended_at is None:
            participant.attended_at = timezone.now()
            participant.checked_in_by = user
            participant.save(update_fields=["attended_at", "checked_in_by"])
    return participant


def _speaker(user: User, resident_id: int | None, via: str) -> tuple[Resident, str]:
    if user.role == Role.RESIDENT:
        if user.resident is None or resident_id not in (None, user.resident.pk):
            raise ApiError("permission_denied", status=403)
        return user.resident, HearingOpinion.Via.WRITING
    if via not in (HearingOpinion.Via.DOOR, HearingOpinion.Via.MEETING):
        raise _invalid("via")
    if resident_id is None:
        raise _invalid("resident_id", "field_required")
    return get_resident(scope_for(user), resident_id), via


def do_record_opinion(
    *, user: User, hearing_id: int, text: str, via: str = "", resident_id: int | None = None
) -> HearingOpinion:
    """An opinion with who gave it and their household: written in the app by the resident,
    or recorded by staff at the door or at the meeting."""
    if not text.strip():
        raise _invalid("text", "field_required")
    if len(text) > 5000:
        raise _invalid("text", "field_too_long")
    with transaction.atomic():
        hearing = _locked(user, hearing_id)
        resident, how = _speaker(user, resident_id, via)
        _open(hearing)
        selectors.addressee_of(hearing.invitation, resident.household_id)
        return HearingOpinion.objects.create(
            hearing=hearing,
            household_id=resident.household_id,
            grid_id=resident.household.grid_id,
            resident=resident,
            text=text.strip(),
            via=how,
            recorded_by=user,
        )


@dataclass(frozen=True)
class FollowUpIn:
    kind: str  # task / case
    household_id: int
    note: str
    item_code: str = ""  # for a case


def _follow_up(hearing: Hearing, user: User, item: FollowUpIn) -> HearingFollowUp:
    household = selectors.household_in_scope(scope_for(user), item.household_id)
    row = HearingFollowUp(hearing=hearing, kind=item.kind, household=household, note=item.note)
    if item.kind == HearingFollowUp.Kind.TASK:
        row.task, _ = do_raise_visit_task(
            household=household,
            kind=TaskKind.HEARING_FOLLOW_UP,
            reason=f"{hearing.title}：{item.note}",
            due_at=timezone.now() + FOLLOW_UP_WITHIN,
            source_kind="hearing",
            source_ref=f"{hearing.pk}:{household.pk}:{hearing.follow_ups.count()}",
        )
    else:
        service = ServiceItem.objects.filter(code=item.item_code, active=True).first()
        if service is None:
            raise _invalid("follow_ups.item_code")
        row.case = do_file_case(
            item=service,
            channel=Channel.FRONT_DESK,
            filed_by=user,
            household=household,
            description=f"{hearing.title}：{item.note}",
        )
    row.save()
    return row


def do_conclude_hearing(
    *,
    user: User,
    hearing_id: int,
    minutes: str,
    outcome: str,
    follow_ups: tuple[FollowUpIn, ...] = (),
) -> Hearing:
    """Record the minutes and the outcome, publish the outcome as a notice to the invited
    area, and raise the follow-ups, in one transaction."""
    if not minutes.strip() or len(minutes) > 50_000:
        raise _invalid("minutes")
    if not outcome.strip() or len(outcome) > 10_000:
        raise _invalid("outcome")
    if len(follow_ups) > MAX_FOLLOW_UPS:
        raise _invalid("follow_ups", "field_too_long")
    for item in follow_ups:
        if item.kind not in HearingFollowUp.Kind.values or not 0 < len(item.note) <= 300:
            raise _invalid("follow_ups")
    with transaction.atomic():
        hearing = _locked(user, hearing_id)
        check_author(user)
        _open(hearing)
        hearing.minutes, hearing.outcome = minutes.strip(), outcome.strip()
        hearing.state = Hearing.State.CONCLUDED
        hearing.concluded_at = timezone.now()
        notice = Notice.objects.create(
            kind=NoticeKind.HEARING_OUTCOME,
            title=f"结果公示：{hearing.title}"[:200],
            body=f"{hearing.outcome}\n\n会议纪要：\n{hearing.minutes}",
            window_days=OUTCOME_WINDOW_DAYS,
            objection_item=objection_item(),
            created_by=user,
            district_id=hearing.district_id,
            community_id=hearing.community_id,
            area_kind=hearing.area_kind,
            area_ids=hearing.area_ids,
            area_polygon=hearing.area_polygon,
        )
        publish(notice, by=user)
        hearing.outcome_notice = notice
        hearing.save(
            update_fields=["minutes", "outcome", "state", "concluded_at", "outcome_notice"]
        )
        for item in follow_ups:
            _follow_up(hearing, user, item)
    return hearing
