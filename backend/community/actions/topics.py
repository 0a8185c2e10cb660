"""Topics proposed by residents and grid groups (民主议事): a resident of a grid (in the app,
or through the worker at the door) or a grid's self-governance group proposes a topic; other
residents of the grid support it (联名); at the community's threshold (`TopicSettings`) it goes
on the grid's agenda (the grid's workers are told, the groups' activity logs record it), and
from there a supervisor turns it into a poll or a hearing through their own actions. The
grid's worker moderates: a topic may be rejected with a reason, once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from backend.accounts.models import GridAssignment, Role, User
from backend.accounts.selectors import scope_for
from backend.community import selectors
from backend.community.area import AreaIn, check_author
from backend.community.models import (
    GroupActivity,
    GroupMember,
    Hearing,
    Poll,
    SelfGovernanceGroup,
    Topic,
    TopicSettings,
    TopicSupport,
)
from backend.core.errors import ApiError, NotFound
from backend.core.stream import record_events
from backend.people.models import Resident
from backend.people.selectors import get_resident

from .hearings import HearingDraft, do_create_hearing
from .polls import PollDraft, do_create_poll

DEFAULT_SUPPORT_THRESHOLD = 10


def _invalid(field: str, code: str = "field_invalid") -> ApiError:
    return ApiError("validation_error", status=422, fields={field: code})


def support_threshold(community_id: int) -> int:
    """The community's threshold, else the district default (no community), else 10."""
    rows = TopicSettings.objects.filter(community_id=community_id) | TopicSettings.objects.filter(
        community__isnull=True
    )
    row = rows.order_by(F("community_id").asc(nulls_last=True)).first()
    return max(1, row.support_threshold) if row else DEFAULT_SUPPORT_THRESHOLD


def _proposer(
    user: User, group_id: int | None, resident_id: int | None
) -> tuple[Resident | None, SelfGovernanceGroup | None]:
    """Who proposes: a resident for themselves (or, with group_id, for the group they lead);
    staff for a resident of their scope at the door, or for a group of their grids."""
    if user.role == Role.RESIDENT:
        if user.resident is None or resident_id not in (None, user.resident.pk):
            raise ApiError("permission_denied", status=403)
        resident = user.resident
        if group_id is None:
            return resident, None
        group = SelfGovernanceGroup.objects.filter(
            pk=group_id,
            grid_id=resident.household.grid_id,
            members__resident=resident,
            members__role=GroupMember.Role.LEADER,
        ).first()
        if group is None:  # a resident sees no group but the one they lead
            raise NotFound()
        return None, group
    if (group_id is None) == (resident_id is None):
        raise _invalid("group_id" if group_id is None else "resident_id", "field_required")
    if group_id is not None:
        return None, selectors.get_group(user, group_id)
    return get_resident(scope_for(user), resident_id), None  # type: ignore[arg-type]


def _log(group: SelfGovernanceGroup, kind: str, text: str, by: User) -> None:
    GroupActivity.objects.create(group=group, kind=kind, text=text[:500], by=by)


def _to_agenda(topic: Topic, by: User) -> None:
    """At the threshold: on the grid's agenda, once; its workers are told (an id, no names)
    and every group of the grid logs it for its next meeting."""
    if topic.state != Topic.State.OPEN or topic.supporters < topic.threshold:
        return
    topic.state, topic.agenda_at = Topic.State.AGENDA, timezone.now()
    topic.save(update_fields=["state", "agenda_at"])
    workers = GridAssignment.objects.filter(grid_id=topic.grid_id, user__is_active=True)
    record_events(
        user_ids=sorted(set(workers.values_list("user_id", flat=True))),
        type="community.topic_agenda",
        data={"topic_id": topic.pk, "grid_id": topic.grid_id},
    )
    for group in SelfGovernanceGroup.objects.filter(grid_id=topic.grid_id).order_by("pk"):
        _log(group, "agenda", f"议题《{topic.title}》联名达到 {topic.threshold} 人，列入议程", by)


def do_propose(
    *,
    user: User,
    title: str,
    text: str,
    group_id: int | None = None,
    resident_id: int | None = None,
) -> Topic:
    """A topic for the proposer's grid; a resident proposer is its first supporter."""
    if not title.strip() or len(title) > 200:
        raise _invalid("title")
    if not text.strip() or len(text) > 5000:
        raise _invalid("text")
    resident, group = _proposer(user, group_id, resident_id)
    grid = resident.household.grid if resident is not None else group.grid  # type: ignore[union-attr]
    with transaction.atomic():
        topic = Topic.objects.create(
            grid=grid,
            community_id=grid.community_id,
            title=title.strip(),
            text=text.strip(),
            resident=resident,
            group=group,
            proposed_by=user,
            supporters=1 if resident is not None else 0,
            threshold=support_threshold(grid.community_id),
        )
        if resident is not None:
            via = TopicSupport.Via.PROPOSER
            TopicSupport.objects.create(topic=topic, resident=resident, via=via, recorded_by=user)
        if group is not None:
            _log(group, "topic", f"提出议题：{topic.title}", user)
        _to_agenda(topic, user)
    return topic


def _locked(user: User, topic_id: int) -> Topic:
    topic = selectors.get_topic(user, topic_id)
    return Topic.objects.select_for_update().get(pk=topic.pk)


def do_support(*, user: User, topic_id: int, resident_id: int | None = None) -> Topic:
    """A resident of the topic's grid supports it, once (in the app, or recorded by their
    worker at the door); crossing the threshold puts it on the agenda."""
    with transaction.atomic():
        topic = _locked(user, topic_id)
        if user.role == Role.RESIDENT:
            if user.resident is None or resident_id not in (None, user.resident.pk):
                raise ApiError("permission_denied", status=403)
            resident, via = user.resident, TopicSupport.Via.APP
        else:
            if resident_id is None:
                raise _invalid("resident_id", "field_required")
            resident, via = get_resident(scope_for(user), resident_id), TopicSupport.Via.DOOR
        if resident.household.grid_id != topic.grid_id:
            raise ApiError("topic_not_eligible", status=403)
        if topic.state not in (Topic.State.OPEN, Topic.State.AGENDA):
            raise ApiError("topic_wrong_state", status=409)
        try:
            with transaction.atomic():
                TopicSupport.objects.create(
                    topic=topic, resident=resident, via=via, recorded_by=user
                )
        except IntegrityError as exc:
            raise ApiError("topic_already_supported", status=409) from exc
        topic.supporters += 1
        topic.save(update_fields=["supporters"])
        _to_agenda(topic, user)
    return topic


def _moderator(user: User) -> None:
    if user.role not in (Role.WORKER, Role.SUPERVISOR, Role.DISTRICT_ADMIN):
        raise ApiError("permission_denied", status=403)


def do_reject_topic(*, user: User, topic_id: int, reason: str) -> Topic:
    """The grid's worker (or the supervisor) rejects a topic with a reason, once: it leaves
    the grid's list; its proposer still sees it, with the reason, and is told."""
    with transaction.atomic():
        topic = _locked(user, topic_id)
        _moderator(user)
        if not reason.strip():
            raise _invalid("reason", "field_required")
        if len(reason) > 300:
            raise _invalid("reason", "field_too_long")
        if topic.state not in (Topic.State.OPEN, Topic.State.AGENDA):
            raise ApiError("topic_wrong_state", status=409)
        topic.state = Topic.State.REJECTED
        topic.decided_by, topic.decided_at = user, timezone.now()
        topic.reject_reason = reason.strip()
        topic.save(update_fields=["state", "decided_by", "decided_at", "reject_reason"])
        proposers = User.objects.filter(is_active=True)
        if topic.resident_id is not None:
            proposers = proposers.filter(resident_id=topic.resident_id)
        else:
            proposers = proposers.filter(pk=topic.proposed_by_id)
        record_events(
            user_ids=list(proposers.values_list("pk", flat=True)),
            type="community.topic_rejected",
            data={"topic_id": topic.pk},
        )
        if topic.group_id is not None:
            _log(topic.group, "topic_rejected", f"议题《{topic.title}》未通过审核", user)  # type: ignore[arg-type]
    return topic


def _taken_up(user: User, topic_id: int) -> Topic:
    topic = _locked(user, topic_id)
    check_author(user)
    if topic.state != Topic.State.AGENDA:
        raise ApiError("topic_wrong_state", status=409)
    return topic


def _area(topic: Topic, area: AreaIn | None) -> AreaIn:
    return area or AreaIn(kind="grids", ids=(topic.grid_id,))


def _mark(topic: Topic, user: User, **link: Poll | Hearing) -> None:
    for name, row in link.items():
        setattr(topic, name, row)
    topic.state = Topic.State.TAKEN_UP
    topic.decided_by, topic.decided_at = user, timezone.now()
    topic.save(update_fields=["state", "decided_by", "decided_at", *link])
    if topic.group_id is not None:
        _log(topic.group, "topic_taken_up", f"议题《{topic.title}》已转议事", user)  # type: ignore[arg-type]


@dataclass(frozen=True)
class TopicPollIn:
    options: tuple[str, ...]
    closes_at: datetime
    unit: str = Poll.Unit.HOUSEHOLD
    secret: bool = False
    area: AreaIn | None = None  # default: the topic's grid


def do_topic_poll(*, user: User, topic_id: int, poll: TopicPollIn) -> Poll:
    """A topic on the agenda becomes a draft poll (do_create_poll: the author opens it)."""
    with transaction.atomic():
        topic = _taken_up(user, topic_id)
        draft = PollDraft(
            title=topic.title,
            question=topic.text,
            options=poll.options,
            closes_at=poll.closes_at,
            area=_area(topic, poll.area),
            unit=poll.unit,
            secret=poll.secret,
        )
        made = do_create_poll(user=user, draft=draft)
        _mark(topic, user, poll=made)
    return made


@dataclass(frozen=True)
class TopicHearingIn:
    place: str
    meeting_at: datetime
    kind: str = Hearing.Kind.CONSULTATION
    area: AreaIn | None = None  # default: the topic's grid


def do_topic_hearing(*, user: User, topic_id: int, hearing: TopicHearingIn) -> Hearing:
    """A topic on the agenda becomes a planned hearing or consultation (do_create_hearing:
    the author sends the invitations)."""
    with transaction.atomic():
        topic = _taken_up(user, topic_id)
        draft = HearingDraft(
            title=topic.title,
            topic=topic.text,
            place=hearing.place,
            meeting_at=hearing.meeting_at,
            area=_area(topic, hearing.area),
            kind=hearing.kind,
        )
        made = do_create_hearing(user=user, draft=draft)
        _mark(topic, user, hearing=made)
    return made
