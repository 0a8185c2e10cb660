"""Consultative polls (协商议事表决; elections keep their paper procedures): a roll fixed when
the poll opens, one vote per household or adult resident, cast in the app or at the door with
the resident's confirmation photo, closed on the durable clock with the result as a notice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.accounts.selectors import scope_for
from backend.community import selectors
from backend.community.area import AreaIn, check_author, households_in, resolve_area
from backend.community.models import Notice, NoticeKind, Poll, PollOption, PollRoll, PollVoter
from backend.core import clock
from backend.core.errors import ApiError
from backend.core.personal import age_on
from backend.people.models import Resident
from backend.people.selectors import get_resident
from backend.photos.actions import do_store_photo

from .notices import objection_item, publish

POLL_CLOSE = "community.poll_close"
ADULT_AGE = 18
RESULT_WINDOW_DAYS = 7
ROLL_BATCH = 2000


def _invalid(field: str, code: str = "field_invalid") -> ApiError:
    return ApiError("validation_error", status=422, fields={field: code})


@dataclass(frozen=True)
class PollDraft:
    title: str
    question: str
    options: tuple[str, ...]
    closes_at: datetime
    area: AreaIn
    unit: str = Poll.Unit.HOUSEHOLD
    secret: bool = False


def do_create_poll(*, user: User, draft: PollDraft) -> Poll:
    """A draft poll for an area its author may address, with 2 to 20 options."""
    if not draft.title.strip() or len(draft.title) > 200:
        raise _invalid("title")
    if not draft.question.strip() or len(draft.question) > 5000:
        raise _invalid("question")
    labels = [o.strip() for o in draft.options]
    if not 2 <= len(labels) <= 20 or any(not o or len(o) > 200 for o in labels):
        raise _invalid("options")
    if len(set(labels)) != len(labels):
        raise _invalid("options")
    if draft.unit not in Poll.Unit.values:
        raise _invalid("unit")
    if draft.closes_at <= timezone.now():
        raise _invalid("closes_at", "field_out_of_range")
    area = resolve_area(user=user, area=draft.area)
    with transaction.atomic():
        poll = Poll.objects.create(
            title=draft.title.strip(),
            question=draft.question.strip(),
            unit=draft.unit,
            secret=draft.secret,
            closes_at=draft.closes_at,
            created_by=user,
            **area,
        )
        PollOption.objects.bulk_create(
            [PollOption(poll=poll, position=i, label=label) for i, label in enumerate(labels)]
        )
    return poll


def do_open_poll(*, user: User, poll_id: int) -> Poll:
    """Open a draft: fix the roll (the households of the area) and set the closing timer."""
    with transaction.atomic():
        poll = selectors.get_poll(user, poll_id, for_update=True)
        check_author(user)
        if poll.state != Poll.State.DRAFT:
            raise ApiError("poll_wrong_state", status=409)
        if poll.closes_at <= timezone.now():
            raise _invalid("closes_at", "field_out_of_range")
        households = list(households_in(poll).values_list("pk", "grid_id"))
        if not households:
            raise ApiError("area_empty", status=422)
        PollRoll.objects.bulk_create(
            [PollRoll(poll=poll, household_id=h, grid_id=g) for h, g in households],
            batch_size=ROLL_BATCH,
        )
        poll.state = Poll.State.OPEN
        poll.opened_at = timezone.now()
        poll.save(update_fields=["state", "opened_at"])
        clock.schedule(kind=POLL_CLOSE, key=str(poll.pk), due_at=poll.closes_at)
    return poll


def _cast(
    *,
    poll: Poll,
    option_id: int,
    resident: Resident,
    channel: str,
    recorded_by: User,
    photo_id: uuid.UUID | None = None,
) -> PollVoter:
    """One vote, with the poll row locked. A secret poll's voter row names no option; the
    option's count goes up in the same transaction, so the tally always equals the voters."""
    poll = Poll.objects.select_for_update().get(pk=poll.pk)
    if poll.state != Poll.State.OPEN or timezone.now() >= poll.closes_at:
        raise ApiError("poll_closed", status=409)
    if not PollRoll.objects.filter(poll=poll, household_id=resident.household_id).exists():
        raise ApiError("poll_not_eligible", status=403)
    if poll.unit == Poll.Unit.ADULT and age_on(resident.birth_date) < ADULT_AGE:
        raise ApiError("poll_not_eligible", status=403)
    option = PollOption.objects.filter(poll=poll, pk=option_id).first()
    if option is None:
        raise _invalid("option_id")
    key = f"r:{resident.pk}" if poll.unit == Poll.Unit.ADULT else f"h:{resident.household_id}"
    try:
        with transaction.atomic():
            voter = PollVoter.objects.create(
                poll=poll,
                unit_key=key,
                household_id=resident.household_id,
                grid_id=resident.household.grid_id,
                resident=resident,
                channel=channel,
                recorded_by=recorded_by,
                confirmation_photo_id=photo_id,
                option=None if poll.secret else option,
            )
    except IntegrityError as exc:
        raise ApiError("poll_already_voted", status=409) from exc
    PollOption.objects.filter(pk=option.pk).update(votes=F("votes") + 1)
    return voter


def do_vote(*, user: User, poll_id: int, option_id: int) -> PollVoter:
    """A resident votes in the app, for their household or themselves (by the poll's unit)."""
    poll = selectors.get_poll(user, poll_id)
    if user.role != Role.RESIDENT or user.resident is None:
        raise ApiError("permission_denied", status=403)
    with transaction.atomic():
        return _cast(
            poll=poll,
            option_id=option_id,
            resident=user.resident,
            channel=PollVoter.Channel.APP,
            recorded_by=user,
        )


def do_vote_at_door(
    *,
    user: User,
    poll_id: int,
    option_id: int,
    resident_id: int,
    photo: bytes,
    client_photo_id: uuid.UUID,
) -> PollVoter:
    """The worker records a resident's vote at the door with a photo of the resident's signed
    confirmation (as for proxy consent), stored through the photo pipeline."""
    poll = selectors.get_poll(user, poll_id)
    if user.role == Role.RESIDENT:
        raise ApiError("permission_denied", status=403)
    resident = get_resident(scope_for(user), resident_id)
    with transaction.atomic():
        stored, _ = do_store_photo(
            data=photo,
            household=resident.household,
            subject_kind="poll_vote",
            subject_uuid=uuid.uuid5(uuid.NAMESPACE_URL, f"gridline:poll:{poll.pk}"),
            uploaded_by=user,
            client_photo_id=client_photo_id,
        )
        return _cast(
            poll=poll,
            option_id=option_id,
            resident=resident,
            channel=PollVoter.Channel.DOOR,
            recorded_by=user,
            photo_id=stored.pk,
        )


def result_text(poll: Poll) -> str:
    options = list(poll.options.order_by("position"))
    total = sum(o.votes for o in options)
    roll = poll.roll.count()
    lines = [f"议题：{poll.question}", ""]
    lines += [f"{o.label}：{o.votes} 票" for o in options]
    unit = "户" if poll.unit == Poll.Unit.HOUSEHOLD else "人"
    lines += ["", f"共 {total} 票；名册 {roll} 户。"]
    if poll.unit == Poll.Unit.HOUSEHOLD and roll:
        lines.append(f"参与率 {100 * total / roll:.1f}%（每{unit}一票）。")
    if poll.secret:
        lines.append("本次为无记名表决，计票与投票人分开保存。")
    return "\n".join(lines)


def close_poll(poll_id: int) -> bool:
    """Close an open poll (its timer fired) and publish its result as a notice to the same
    area; a poll already closed is left alone. Call inside a transaction."""
    poll = Poll.objects.select_for_update().filter(pk=poll_id).first()
    if poll is None or poll.state != Poll.State.OPEN:
        return False
    poll.state = Poll.State.CLOSED
    poll.closed_at = timezone.now()
    notice = Notice.objects.create(
        kind=NoticeKind.POLL_RESULT,
        title=f"表决结果：{poll.title}"[:200],
        body=result_text(poll),
        window_days=RESULT_WINDOW_DAYS,
        send_sms=False,
        objection_item=objection_item(),
        created_by=poll.created_by,
        district_id=poll.district_id,
        community_id=poll.community_id,
        area_kind=poll.area_kind,
        area_ids=poll.area_ids,
        area_polygon=poll.area_polygon,
    )
    publish(notice, by=poll.created_by)
    poll.result_notice = notice
    poll.save(update_fields=["state", "closed_at", "result_notice"])
    return True


def turnout(poll: Poll) -> dict[str, int]:
    return {
        "roll_households": poll.roll.count(),
        "voters": poll.voters.count(),
        "votes": poll.options.aggregate(n=Sum("votes"))["n"] or 0,
    }
