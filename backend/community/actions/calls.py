"""Voice calls for residents without smartphones (老年机, landline-like use): the grid worker
has a poll read out to the households of their grids (keypress N = option N; the one vote per
household or adult of `polls._cast` holds), or a hearing's invitation (keypress 1 = attend).

The calls go through the notify outbox (`voice.place_call`: durable, retried, one idempotency
key); what becomes of each — placed, answered, not answered, the key pressed — comes back
through the outbox listener registered for `community_call:` (CommunityConfig.ready), in the
transaction that records the provider's callback. No key pressed is stored: in a secret poll
the vote is a `PollVoter` without an option and a count on the option, as in the app.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from backend.accounts.models import User
from backend.accounts.selectors import scope_for
from backend.community import selectors
from backend.community.models import (
    CommunityCall,
    Hearing,
    HearingParticipant,
    NoticeAddressee,
    Poll,
    PollOption,
    PollRoll,
    PollVoter,
)
from backend.core.errors import ApiError, NotFound
from backend.core.personal import age_on
from backend.notify import voice
from backend.notify.models import OutboxMessage
from backend.notify.sms import MAINLAND_MOBILE
from backend.people.models import Resident
from backend.territory.scope import scope_filter

from .polls import ADULT_AGE, _cast

SUBJECT = "community_call"
MAX_IDS = 500
PARAM = voice.MAX_PARAM_LENGTH
# A call counts as placed unless it ended unanswered or failed: then it may be placed again.
LIVE = (
    CommunityCall.State.QUEUED,
    CommunityCall.State.CALLED,
    CommunityCall.State.ANSWERED,
    CommunityCall.State.DONE,
    CommunityCall.State.REFUSED,
)


def _unfit(field: str) -> ApiError:
    return ApiError("voice_text_too_long", status=422, fields={field: "field_too_long"})


def _place(row: Poll | Hearing) -> str:
    return (row.community.name if row.community_id else "区")[:PARAM]  # type: ignore[union-attr]


def _has_app() -> Exists:
    """Residents with an active app account (the calls are for the others)."""
    return Exists(User.objects.filter(resident_id=OuterRef("pk"), is_active=True))


def _callable(residents: QuerySet[Resident], adults_only: bool) -> dict[int, Resident]:
    """The first resident (adult, if asked) with a mobile number, per household."""
    chosen: dict[int, Resident] = {}
    today = timezone.localdate()
    for resident in residents.exclude(phone="").order_by("household_id", "pk"):
        if not MAINLAND_MOBILE.fullmatch(resident.phone):
            continue
        if adults_only and age_on(resident.birth_date, today) < ADULT_AGE:
            continue
        chosen.setdefault(resident.household_id, resident)
    return chosen


def _pick(candidates: QuerySet[Resident], ids: Iterable[int] | None, by: str) -> QuerySet[Resident]:
    """The residents (or households, `by`) asked for, all of them in the candidates: one
    outside is 404, like a missing id; none asked for: those without the app."""
    if ids is None:
        return candidates.exclude(_has_app())
    wanted = set(ids)
    if len(wanted) > MAX_IDS:
        raise ApiError("validation_error", status=422, fields={f"{by}_ids": "field_too_long"})
    picked = candidates.filter(**{f"{by}_id__in" if by == "household" else "pk__in": wanted})
    found = set(picked.values_list("household_id" if by == "household" else "pk", flat=True))
    if found != wanted:
        raise NotFound()
    return picked


def _call(
    *, kind: str, row: Poll | Hearing, resident: Resident, by: User, template: str, params: dict
) -> CommunityCall:
    call = CommunityCall.objects.create(
        kind=kind,
        poll=row if isinstance(row, Poll) else None,
        hearing=row if isinstance(row, Hearing) else None,
        resident=resident,
        household_id=resident.household_id,
        grid_id=resident.household.grid_id,
        requested_by=by,
    )
    call.message = voice.place_call(
        to=resident.phone, template=template, params=params, subject=f"{SUBJECT}:{call.pk}"
    )
    call.save(update_fields=["message"])
    return call


# -- polls --------------------------------------------------------------------------------------


def poll_call_params(poll: Poll, options: list[PollOption]) -> tuple[str, dict[str, str]]:
    """The template (by the number of options) and what it reads: the question (or, when
    that is too long for one TTS variable, the title) and 'label 按 N' for each option."""
    if len(options) > voice.MAX_POLL_KEYS:
        raise ApiError("voice_too_many_options", status=422, fields={"options": "field_too_long"})
    question = next((q for q in (poll.question, poll.title) if len(q) <= PARAM), None)
    if question is None:
        raise _unfit("question")
    menu = "，".join(f"{o.label}请按{i}" for i, o in enumerate(options, start=1))
    if len(menu) > PARAM:
        raise _unfit("options")
    params = {"place": _place(poll), "question": question, "options": menu}
    return f"poll_vote_{len(options)}", params


def do_call_poll(
    *, user: User, poll_id: int, resident_ids: Iterable[int] | None = None
) -> dict[str, int]:
    """Read an open poll out to the residents of the caller's grids on its roll: those asked
    for, or every household (adult, for a per-adult poll) without the app. Skips units that
    voted, residents without a mobile number and those already called."""
    poll = selectors.get_poll(user, poll_id)
    selectors.check_staff(user)
    with transaction.atomic():
        poll = (
            Poll.objects.select_for_update(of=("self",)).select_related("community").get(pk=poll.pk)
        )
        if poll.state != Poll.State.OPEN or timezone.now() >= poll.closes_at:
            raise ApiError("poll_closed", status=409)
        template, params = poll_call_params(poll, list(poll.options.order_by("position")))
        scope = scope_for(user)
        roll = PollRoll.objects.filter(
            scope_filter(
                scope, grid="grid_id", community="grid__community_id", district="poll__district_id"
            ),
            poll=poll,
        )
        candidates = Resident.objects.filter(household_id__in=roll.values("household_id"))
        picked = _pick(candidates, resident_ids, "resident")
        adult = poll.unit == Poll.Unit.ADULT
        counts = {"called": 0, "skipped_voted": 0, "skipped_no_phone": 0, "skipped_called": 0}
        if adult:
            targets = [
                r
                for r in picked.select_related("household").order_by("pk")
                if age_on(r.birth_date) >= ADULT_AGE
            ]
        else:
            targets = list(_callable(picked.select_related("household"), True).values())
            households = len(set(picked.values_list("household_id", flat=True)))
            counts["skipped_no_phone"] = households - len(targets)
        voted = set(PollVoter.objects.filter(poll=poll).values_list("unit_key", flat=True))
        called = set(
            CommunityCall.objects.filter(poll=poll, state__in=LIVE).values_list(
                "resident_id" if adult else "household_id", flat=True
            )
        )
        for resident in targets:
            key = f"r:{resident.pk}" if adult else f"h:{resident.household_id}"
            if key in voted:
                counts["skipped_voted"] += 1
            elif (resident.pk if adult else resident.household_id) in called:
                counts["skipped_called"] += 1
            elif not MAINLAND_MOBILE.fullmatch(resident.phone):
                counts["skipped_no_phone"] += 1
            else:
                _call(
                    kind=CommunityCall.Kind.POLL,
                    row=poll,
                    resident=resident,
                    by=user,
                    template=template,
                    params=params,
                )
                counts["called"] += 1
    return counts


def _poll_key(call: CommunityCall, digit: str) -> None:
    poll = call.poll
    option = PollOption.objects.filter(poll=poll, position=int(digit) - 1).first() if poll else None
    if poll is None or option is None:
        call.state, call.outcome = CommunityCall.State.REFUSED, "voice_key_invalid"
        return
    try:
        with transaction.atomic():
            _cast(
                poll=poll,
                option_id=option.pk,
                resident=call.resident,
                channel=PollVoter.Channel.VOICE,
                recorded_by=call.requested_by,
            )
    except ApiError as refused:
        call.state, call.outcome = CommunityCall.State.REFUSED, refused.code
        return
    call.state, call.outcome = CommunityCall.State.DONE, ""


# -- hearings -----------------------------------------------------------------------------------


def hearing_call_params(hearing: Hearing) -> dict[str, str]:
    at = timezone.localtime(hearing.meeting_at)
    params = {
        "place": _place(hearing),
        "kind": Hearing.Kind(hearing.kind).label.split()[0],
        "title": hearing.title,
        "at": f"{at.month}月{at.day}日{at.hour}点{at.minute:02d}分",
        "venue": hearing.place,
    }
    for name in ("title", "venue"):
        if len(params[name]) > PARAM:
            raise _unfit("title" if name == "title" else "place")
    return params


def do_call_hearing(
    *, user: User, hearing_id: int, household_ids: Iterable[int] | None = None
) -> dict[str, int]:
    """Read a hearing's invitation to the invited households of the caller's grids: those
    asked for, or every household without the app; keypress 1 registers the household."""
    hearing = selectors.get_hearing(user, hearing_id)
    selectors.check_staff(user)
    with transaction.atomic():
        hearing = (
            Hearing.objects.select_for_update(of=("self",))
            .select_related("community")
            .get(pk=hearing.pk)
        )
        if hearing.state != Hearing.State.INVITED or hearing.meeting_at <= timezone.now():
            raise ApiError("hearing_wrong_state", status=409)
        params = hearing_call_params(hearing)
        invited = NoticeAddressee.objects.filter(
            scope_filter(
                scope_for(user),
                grid="grid_id",
                community="grid__community_id",
                district="notice__district_id",
            ),
            notice_id=hearing.invitation_id,
        )
        candidates = Resident.objects.filter(household_id__in=invited.values("household_id"))
        picked = _pick(candidates, household_ids, "household")
        if household_ids is None:  # a household with the app registers there
            with_app = Resident.objects.filter(
                household_id__in=candidates.values("household_id")
            ).filter(_has_app())
            picked = picked.exclude(household_id__in=with_app.values("household_id"))
        registered = set(
            HearingParticipant.objects.filter(
                hearing=hearing, registered_at__isnull=False
            ).values_list("household_id", flat=True)
        )
        called = set(
            CommunityCall.objects.filter(hearing=hearing, state__in=LIVE).values_list(
                "household_id", flat=True
            )
        )
        targets = _callable(picked.select_related("household"), True)
        counts = {
            "called": 0,
            "skipped_registered": 0,
            "skipped_called": 0,
            "skipped_no_phone": len(set(picked.values_list("household_id", flat=True)))
            - len(targets),
        }
        for household_id, resident in targets.items():
            if household_id in registered:
                counts["skipped_registered"] += 1
            elif household_id in called:
                counts["skipped_called"] += 1
            else:
                _call(
                    kind=CommunityCall.Kind.HEARING,
                    row=hearing,
                    resident=resident,
                    by=user,
                    template="hearing_invite_call",
                    params=params,
                )
                counts["called"] += 1
    return counts


def _hearing_key(call: CommunityCall, digit: str) -> None:
    hearing = Hearing.objects.select_for_update().get(pk=call.hearing_id or 0)
    if digit != "1":
        call.state, call.outcome = CommunityCall.State.DONE, "not_attending"
        return
    if hearing.state != Hearing.State.INVITED:
        call.state, call.outcome = CommunityCall.State.REFUSED, "hearing_wrong_state"
        return
    participant, _ = HearingParticipant.objects.get_or_create(
        hearing=hearing, household_id=call.household_id, defaults={"grid_id": call.grid_id}
    )
    if participant.registered_at is None:
        participant.registered_at = timezone.now()
        participant.registered_by = call.requested_by
        participant.registered_via = "voice"
        participant.resident = call.resident
        participant.save(
            update_fields=["registered_at", "registered_by", "registered_via", "resident"]
        )
    call.state, call.outcome = CommunityCall.State.DONE, ""


# -- what the outbox hears ------------------------------------------------------------------


OUTCOMES = {
    "sent": CommunityCall.State.CALLED,
    "answered": CommunityCall.State.ANSWERED,
    "no_answer": CommunityCall.State.NO_ANSWER,
    "dead": CommunityCall.State.FAILED,
    "skipped": CommunityCall.State.FAILED,
    "failed": CommunityCall.State.FAILED,
}
SETTLED = (CommunityCall.State.DONE, CommunityCall.State.REFUSED)


def on_call_outcome(row: OutboxMessage, what: str, detail: dict[str, Any]) -> None:
    """The outbox listener for `community_call:<id>`: the call's state; a keypress votes or
    registers, once per call (a second keypress of the same call changes nothing)."""
    try:
        call_id = int(row.subject.split(":", 1)[1])
    except (IndexError, ValueError):
        return
    call = (
        CommunityCall.objects.select_for_update(of=("self",))
        .select_related("poll", "resident__household", "requested_by")
        .filter(pk=call_id)
        .first()
    )
    if call is None or call.state in SETTLED:
        return
    if what == "keypress":
        digit = str(detail.get("digit", ""))
        if not digit.isdigit() or digit == "0":
            return
        if call.kind == CommunityCall.Kind.POLL:
            _poll_key(call, digit)
        else:
            _hearing_key(call, digit)
    elif what in OUTCOMES:
        call.state = OUTCOMES[what]
    else:
        return
    call.updated_at = timezone.now()
    call.save(update_fields=["state", "outcome", "updated_at"])
