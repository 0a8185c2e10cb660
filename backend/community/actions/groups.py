"""Grid self-governance groups (网格自治小组): formed per grid by its worker or the
supervisor, with a leader and members, meetings (agenda, attendance, minutes), an activity log,
and topics proposed for consultation that the supervisor takes up or declines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.accounts.selectors import scope_for
from backend.community import selectors
from backend.community.models import (
    GroupActivity,
    GroupMeeting,
    GroupMember,
    GroupProposal,
    SelfGovernanceGroup,
)
from backend.core.errors import ApiError, NotFound
from backend.people.selectors import get_resident
from backend.territory.selectors import get_grid


def _invalid(field: str, code: str = "field_invalid") -> ApiError:
    return ApiError("validation_error", status=422, fields={field: code})


def _staff(user: User) -> None:
    if user.role == Role.RESIDENT:
        raise ApiError("permission_denied", status=403)


def _log(group: SelfGovernanceGroup, kind: str, text: str, by: User) -> None:
    GroupActivity.objects.create(group=group, kind=kind, text=text[:500], by=by)


def do_create_group(*, user: User, grid_id: int, name: str) -> SelfGovernanceGroup:
    """A group of a grid the caller covers wholly (its B post, the community, the district)."""
    _staff(user)
    grid = get_grid(scope_for(user), grid_id)
    if not name.strip() or len(name) > 100:
        raise _invalid("name")
    with transaction.atomic():
        group = SelfGovernanceGroup.objects.create(
            grid=grid, community_id=grid.community_id, name=name.strip(), created_by=user
        )
        _log(group, "formed", f"成立：{group.name}", user)
    return group


def do_add_member(*, user: User, group_id: int, resident_id: int, role: str) -> GroupMember:
    """A resident of the caller's scope joins (one leader per group; 409 for a second)."""
    group = selectors.get_group(user, group_id)
    resident = get_resident(scope_for(user), resident_id)
    if role not in GroupMember.Role.values:
        raise _invalid("role")
    try:
        with transaction.atomic():
            member = GroupMember.objects.create(group=group, resident=resident, role=role)
            _log(group, "member", f"{GroupMember.Role(role).label.split()[0]}加入", user)
    except IntegrityError as exc:
        raise ApiError("group_member_conflict", status=409) from exc
    return member


@dataclass(frozen=True)
class MeetingIn:
    held_at: datetime
    place: str
    agenda: str
    minutes: str = ""
    attendee_ids: tuple[int, ...] = ()  # member ids


def do_record_meeting(*, user: User, group_id: int, meeting: MeetingIn) -> GroupMeeting:
    """A meeting: agenda, the members who attended (members of this group only), minutes."""
    group = selectors.get_group(user, group_id)
    if not meeting.place.strip() or not meeting.agenda.strip():
        raise _invalid("agenda" if meeting.place.strip() else "place", "field_required")
    if len(meeting.agenda) > 5000 or len(meeting.minutes) > 20_000 or len(meeting.place) > 200:
        raise _invalid("agenda", "field_too_long")
    ids = set(meeting.attendee_ids)
    members = list(GroupMember.objects.filter(group=group, pk__in=ids))
    if len(members) != len(ids):
        raise _invalid("attendee_ids")
    with transaction.atomic():
        row = GroupMeeting.objects.create(
            group=group,
            held_at=meeting.held_at,
            place=meeting.place.strip(),
            agenda=meeting.agenda.strip(),
            minutes=meeting.minutes.strip(),
            recorded_by=user,
        )
        row.attendees.set(members)
        _log(group, "meeting", f"召开会议：{row.agenda[:100]}（到会 {len(members)} 人）", user)
    return row


def do_propose_topic(*, user: User, group_id: int, title: str, text: str) -> GroupProposal:
    """The group proposes a topic for consultation (recorded by its worker)."""
    group = selectors.get_group(user, group_id)
    if not title.strip() or len(title) > 200:
        raise _invalid("title")
    if not text.strip() or len(text) > 5000:
        raise _invalid("text")
    with transaction.atomic():
        proposal = GroupProposal.objects.create(
            group=group, title=title.strip(), text=text.strip(), proposed_by=user
        )
        _log(group, "proposal", f"提议议题：{proposal.title}", user)
    return proposal


def do_decide_proposal(
    *, user: User, group_id: int, proposal_id: int, take_up: bool, note: str = ""
) -> GroupProposal:
    """The community supervisor (or district administrator) takes a proposal up for a poll or
    a hearing, or declines it with a note; once."""
    group = selectors.get_group(user, group_id)
    if user.role not in (Role.SUPERVISOR, Role.DISTRICT_ADMIN):
        raise ApiError("permission_denied", status=403)
    with transaction.atomic():
        proposal = (
            GroupProposal.objects.select_for_update().filter(group=group, pk=proposal_id).first()
        )
        if proposal is None:
            raise NotFound()
        if proposal.state != GroupProposal.State.PROPOSED:
            raise ApiError("proposal_decided", status=409)
        proposal.state = GroupProposal.State.TAKEN_UP if take_up else GroupProposal.State.DECLINED
        proposal.decided_by, proposal.decided_at = user, timezone.now()
        proposal.decision_note = note[:300]
        proposal.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
        _log(group, "decision", f"议题《{proposal.title}》{proposal.get_state_display()}", user)
    return proposal
