"""Writes of the assessment: schemes and their versions, and a period's process — computed
draft → self-review → supervisor scoring → publication (公示) → appeals (申诉) → frozen and
signed off. Every step locks the period, refuses a frozen one (409, nothing changed) and is
recorded as a ProcessStep (who, when, what).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.core.errors import ApiError, NotFound
from backend.photos.actions import do_store_photo
from backend.territory.models import Household

from . import compute, selectors
from .indicators import SPECS
from .models import (
    Adjustment,
    Appeal,
    Indicator,
    IndicatorGroup,
    LeaderScore,
    Period,
    PeriodState,
    ProcessStep,
    Scheme,
    Scorecard,
)

P = PeriodState
PUBLISH_DAYS = 7
MAX_ADJUSTMENT = 20.0


# -- schemes ---------------------------------------------------------------------------------


def check_scheme(scheme: Scheme) -> None:
    """Every indicator known and fit for the scheme's subjects; weights positive; the leader's
    share 0-100 % and the visit sample rate 0-1."""
    if not 0 <= scheme.leader_weight <= 100:
        raise ApiError(
            "validation_error", status=422, fields={"leader_weight": "field_out_of_range"}
        )
    if not 0 <= scheme.visit_sample_rate <= 1:
        raise ApiError(
            "validation_error", status=422, fields={"visit_sample_rate": "field_out_of_range"}
        )
    for ind in Indicator.objects.filter(group__scheme=scheme):
        spec = SPECS.get(ind.code)
        if spec is None or scheme.applies_to not in spec.subjects:
            raise ApiError("indicator_unknown", status=422, fields={"code": "field_invalid"})
        if ind.weight <= 0:
            raise ApiError("validation_error", status=422, fields={"weight": "field_out_of_range"})


def do_new_version(*, scheme: Scheme) -> Scheme:
    """A copy of a (frozen) scheme as the next version, unfrozen, to edit."""
    with transaction.atomic():
        latest = (
            Scheme.objects.filter(
                district_id=scheme.district_id, name=scheme.name, applies_to=scheme.applies_to
            )
            .order_by("-version")
            .first()
        )
        copy = Scheme.objects.create(
            district_id=scheme.district_id,
            name=scheme.name,
            applies_to=scheme.applies_to,
            grade_bands=scheme.grade_bands,
            leader_weight=scheme.leader_weight,
            visit_sample_rate=scheme.visit_sample_rate,
            version=(latest.version if latest else scheme.version) + 1,
        )
        for group in scheme.groups.prefetch_related("indicators"):
            new_group = IndicatorGroup.objects.create(
                scheme=copy, name=group.name, weight=group.weight, order=group.order
            )
            Indicator.objects.bulk_create(
                [
                    Indicator(
                        group=new_group,
                        code=i.code,
                        weight=i.weight,
                        formula=i.formula,
                        target=i.target,
                        floor=i.floor,
                        year_only=i.year_only,
                    )
                    for i in group.indicators.all()
                ]
            )
    return copy


def period_bounds(year: int, quarter: int) -> tuple[datetime, datetime]:
    """The period in the district's local time: a quarter's three months, or the year."""
    tz = ZoneInfo(settings.TIME_ZONE)
    if quarter == 0:
        return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)
    start = datetime(year, 3 * quarter - 2, 1, tzinfo=tz)
    end = datetime(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1, tzinfo=tz)
    return start, end


def _require_admin(user: User, district_id: int) -> None:
    if user.role != Role.DISTRICT_ADMIN or user.district_id not in (None, district_id):
        raise ApiError("permission_denied", status=403)


def do_open_period(*, scheme: Scheme, year: int, quarter: int, by: User) -> Period:
    """Open (or return) the scheme's period and compute its draft; the scheme is frozen from
    now on."""
    _require_admin(by, scheme.district_id)
    if not 0 <= quarter <= 4:
        raise ApiError("validation_error", status=422, fields={"quarter": "field_out_of_range"})
    check_scheme(scheme)
    starts, ends = period_bounds(year, quarter)
    with transaction.atomic():
        Scheme.objects.filter(pk=scheme.pk).update(frozen=True)
        period, created = Period.objects.get_or_create(
            scheme=scheme, year=year, quarter=quarter,
            defaults={"starts_at": starts, "ends_at": ends},
        )  # fmt: skip
        if created:
            _step(period, "open", by)
            _compute(period, by)
    return period


# -- the process -----------------------------------------------------------------------------


def _step(period: Period, kind: str, actor: User | None, card: Scorecard | None = None,
          **data: object) -> None:  # fmt: skip
    ProcessStep.objects.create(period=period, scorecard=card, kind=kind, actor=actor, data=data)


def _locked(period_id: int) -> Period:
    period = Period.objects.select_for_update().select_related("scheme").get(pk=period_id)
    if period.state == P.FROZEN:
        raise ApiError("period_frozen", status=409)
    return period


def _in(period: Period, *states: str) -> None:
    if period.state not in states:
        raise ApiError("period_wrong_state", status=409)


def _compute(period: Period, by: User | None) -> int:
    cards = compute.do_compute(period)
    period.computed_at = timezone.now()
    period.save(update_fields=["computed_at"])
    _step(period, "compute", by, cards=cards)
    return cards


def do_compute_period(*, period_id: int, by: User) -> Period:
    """Recompute the draft from the records (adjustments kept): before publication only."""
    with transaction.atomic():
        period = _locked(period_id)
        _require_admin(by, period.scheme.district_id)
        _in(period, P.DRAFT, P.SELF_REVIEW, P.SCORING)
        _compute(period, by)
    return period


NEXT = {
    "self_review": ((P.DRAFT,), P.SELF_REVIEW),
    "scoring": ((P.SELF_REVIEW,), P.SCORING),
    "publish": ((P.SCORING,), P.PUBLISHED),
}


def do_advance(*, period_id: int, by: User, to: str, days: int = PUBLISH_DAYS) -> Period:
    """Move the period on: self_review, scoring, publish (for `days`, 公示)."""
    if to not in NEXT:
        raise ApiError("validation_error", status=422, fields={"to": "field_invalid"})
    with transaction.atomic():
        period = _locked(period_id)
        _require_admin(by, period.scheme.district_id)
        sources, target = NEXT[to]
        _in(period, *sources)
        period.state = target
        if target == P.PUBLISHED:
            period.publish_until = timezone.now() + timedelta(days=max(1, days))
        period.save(update_fields=["state", "publish_until"])
        _step(period, to, by, days=days if target == P.PUBLISHED else None)
    return period


def do_freeze(*, period_id: int, by: User, now: datetime | None = None) -> Period:
    """Freeze and sign off: after the publication window, with every appeal decided."""
    now = now or timezone.now()
    with transaction.atomic():
        period = _locked(period_id)
        _require_admin(by, period.scheme.district_id)
        _in(period, P.PUBLISHED)
        if period.publish_until and now < period.publish_until:
            raise ApiError("publication_running", status=409)
        if Appeal.objects.filter(scorecard__period=period, decision="").exists():
            raise ApiError("appeals_pending", status=409)
        period.state = P.FROZEN
        period.signed_off_by, period.signed_off_at = by, now
        period.save(update_fields=["state", "signed_off_by", "signed_off_at"])
        _step(period, "freeze", by)
    return period


def _card(user: User, card_id: int) -> tuple[Period, Scorecard]:
    """The card in the user's scope (404 otherwise) and its period, locked and not frozen."""
    card = selectors.get_scorecard(user, card_id)
    period = _locked(card.period_id)
    card = Scorecard.objects.select_for_update().get(pk=card.pk)
    card.period = period
    return period, card


def do_self_comment(*, user: User, card_id: int, comment: str) -> Scorecard:
    """The worker's self-review (自评) of their own card."""
    with transaction.atomic():
        period, card = _card(user, card_id)
        if card.user_id != user.pk:
            raise ApiError("permission_denied", status=403)
        _in(period, P.SELF_REVIEW)
        card.self_comment = comment[:2000]
        card.save(update_fields=["self_comment"])
        _step(period, "self_comment", user, card)
    return card


def _supervises(user: User, card: Scorecard) -> bool:
    if user.role == Role.DISTRICT_ADMIN:
        return True
    return user.role == Role.SUPERVISOR and user.community_id == card.community_id


def do_adjust(
    *,
    user: User,
    card_id: int,
    points: float,
    reason: str,
    photo: bytes | None = None,
    household_id: int | None = None,
) -> Adjustment:
    """Manual points (加分 / 减分) by a supervisor during scoring, with a reason and, when sent,
    an evidence photo stored through the photo pipeline (kept with the household it shows)."""
    if not reason.strip():
        raise ApiError("validation_error", status=422, fields={"reason": "field_required"})
    if not -MAX_ADJUSTMENT <= points <= MAX_ADJUSTMENT or points == 0:
        raise ApiError("validation_error", status=422, fields={"points": "field_out_of_range"})
    with transaction.atomic():
        period, card = _card(user, card_id)
        if not _supervises(user, card) or card.user_id == user.pk:
            raise ApiError("permission_denied", status=403)
        _in(period, P.SCORING)
        stored = None
        if photo is not None:
            if household_id is None:
                raise ApiError(
                    "validation_error", status=422, fields={"household_id": "field_required"}
                )
            household = Household.objects.filter(
                pk=household_id, grid__community_id=card.community_id
            ).first()
            if household is None:
                raise NotFound()
            stored, _ = do_store_photo(
                data=photo,
                household=household,
                subject_kind="assessment_adjustment",
                subject_uuid=uuid.uuid4(),
                uploaded_by=user,
                client_photo_id=uuid.uuid4(),
            )
        adjustment = Adjustment.objects.create(
            scorecard=card, points=points, reason=reason[:300], photo=stored, by=user
        )
        compute.refresh_total(card)
        _step(period, "adjust", user, card, points=points, reason=reason[:300])
    return adjustment


def _may_lead(user: User, card: Scorecard) -> bool:
    """Who gives the leader's score: a supervisor of the card's community or a district
    administrator for a worker's or an officer's card; a district administrator for a
    community's card; never the card's own subject."""
    if card.user_id is not None and card.user_id == user.pk:
        return False
    if card.user_id is None:
        return user.role == Role.DISTRICT_ADMIN
    return _supervises(user, card)


def do_leader_score(
    *, user: User, card_id: int, score: float, reason: str, replaces: int | None = None
) -> LeaderScore:
    """The leader's qualitative score (领导评价) of a card during scoring: 0-100 with a reason,
    combined into the total by the scheme's `leader_weight`. Recorded once per card: a change
    names the version it replaces (`replaces`) and becomes the next version; the earlier ones
    stay, and every version is a process step (who, when, the score, the reason)."""
    if not reason.strip():
        raise ApiError("validation_error", status=422, fields={"reason": "field_required"})
    if not 0 <= score <= 100:
        raise ApiError("validation_error", status=422, fields={"score": "field_out_of_range"})
    with transaction.atomic():
        period, card = _card(user, card_id)
        if not _may_lead(user, card):
            raise ApiError("permission_denied", status=403)
        if period.scheme.leader_weight <= 0:
            raise ApiError("leader_score_not_in_scheme", status=409)
        _in(period, P.SCORING)
        current = card.leader_scores.order_by("-version").first()
        if current is not None and replaces is None:
            raise ApiError("leader_score_exists", status=409)
        if replaces != (current.version if current else None):
            raise ApiError("leader_score_stale", status=409)
        made = LeaderScore.objects.create(
            scorecard=card, version=(current.version + 1) if current else 1, score=score,
            reason=reason.strip()[:300], by=user,
        )  # fmt: skip
        card.leader = score
        compute.refresh_total(card)
        _step(period, "leader_score", user, card, version=made.version, score=score,
              previous=current.score if current else None, reason=made.reason)  # fmt: skip
    return made


def do_appeal(*, user: User, card_id: int, text: str, now: datetime | None = None) -> Appeal:
    """The worker appeals (申诉) their own card while it is published."""
    now = now or timezone.now()
    if not text.strip():
        raise ApiError("validation_error", status=422, fields={"text": "field_required"})
    with transaction.atomic():
        period, card = _card(user, card_id)
        if card.user_id != user.pk:
            raise ApiError("permission_denied", status=403)
        _in(period, P.PUBLISHED)
        if period.publish_until and now >= period.publish_until:
            raise ApiError("appeal_window_closed", status=409)
        appeal = Appeal.objects.create(scorecard=card, by=user, text=text[:2000], at=now)
        _step(period, "appeal", user, card, appeal=appeal.pk)
    return appeal


def scorers(card: Scorecard) -> set[int]:
    """Who scored the card: everyone who adjusted it or gave it a leader's score."""
    adjusted = set(card.adjustments.values_list("by_id", flat=True))
    return adjusted | set(card.leader_scores.values_list("by_id", flat=True))


def do_decide_appeal(
    *, user: User, appeal_id: int, change: bool, points: float = 0, note: str = ""
) -> Appeal:
    """Decide an appeal: upheld, or changed by `points`. The reviewer must not be a scorer of
    the card (nor the appellant)."""
    appeal = Appeal.objects.filter(pk=appeal_id).first()
    if appeal is None:
        raise NotFound()
    with transaction.atomic():
        period, card = _card(user, appeal.scorecard_id)
        appeal = Appeal.objects.select_for_update().get(pk=appeal_id)
        if not _supervises(user, card) or user.pk == appeal.by_id:
            raise ApiError("permission_denied", status=403)
        if user.pk in scorers(card):
            raise ApiError("appeal_reviewer_is_scorer", status=403)
        _in(period, P.PUBLISHED)
        if appeal.decision:
            raise ApiError("appeal_decided", status=409)
        if change and (points == 0 or abs(points) > MAX_ADJUSTMENT):
            raise ApiError("validation_error", status=422, fields={"points": "field_out_of_range"})
        appeal.decision = Appeal.Decision.CHANGED if change else Appeal.Decision.UPHELD
        appeal.points = points if change else 0
        appeal.note, appeal.decided_by, appeal.decided_at = note[:2000], user, timezone.now()
        appeal.save()
        compute.refresh_total(card)
        _step(period, "decide_appeal", user, card, appeal=appeal.pk, decision=appeal.decision)
    return appeal
