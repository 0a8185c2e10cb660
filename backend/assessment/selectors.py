"""Reads of the assessment, narrowed to the caller: a worker sees their own cards, a community
supervisor the cards of their community, a district administrator the district's; any other
card is 404, identical to a missing one."""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count, Q, QuerySet

from backend.accounts.models import Role, User
from backend.core.errors import ApiError, NotFound

from . import compute
from .indicators import SPECS
from .models import AppliesTo, Period, Scorecard

NOTHING = Q(pk__in=[])


def card_filter(user: User) -> Q:
    if not user.is_active or user.role == Role.RESIDENT:
        return NOTHING
    if user.role == Role.DISTRICT_ADMIN:
        return Q() if user.district_id is None else Q(period__scheme__district_id=user.district_id)
    own = Q(user_id=user.pk)
    if user.role == Role.SUPERVISOR and user.community_id is not None:
        return own | Q(community_id=user.community_id)
    return own


def scorecards_for(user: User) -> QuerySet[Scorecard]:
    return (
        Scorecard.objects.filter(card_filter(user))
        .select_related("period__scheme", "user", "community")
        .order_by("-period__year", "-period__quarter", "community_id", "rank", "pk")
    )


def get_scorecard(user: User, card_id: int) -> Scorecard:
    card = scorecards_for(user).filter(pk=card_id).first()
    if card is None:
        raise NotFound()
    return card


def periods_for(user: User) -> QuerySet[Period]:
    """Periods the user has a card in (or, for an administrator, of the district)."""
    ids = scorecards_for(user).values("period_id")
    return Period.objects.filter(pk__in=ids).select_related("scheme").order_by("-year", "-quarter")


def ranking(user: User, period_id: int, community_id: int | None = None) -> QuerySet[Scorecard]:
    """The cards of a period the user may see, best first (one community when asked)."""
    period = periods_for(user).filter(pk=period_id).first()
    if period is None:
        raise NotFound()
    cards = scorecards_for(user).filter(period=period)
    if community_id is not None:
        cards = cards.filter(community_id=community_id)
        if not cards.exists():
            raise NotFound()
    return cards.order_by("community_id", "rank", "pk")


def evidence(user: User, card_id: int, code: str | None) -> list[dict[str, Any]]:
    """The records an indicator of a card counted or excluded (the same rows as its figures)."""
    card = get_scorecard(user, card_id)
    if not code:
        raise ApiError("validation_error", status=422, fields={"indicator": "field_required"})
    if code not in card.indicators or code not in SPECS:
        raise NotFound()
    subject = card.user_id if card.user_id is not None else card.community_id
    rows = compute.evidence_rows(card.period, code, subject)
    record = SPECS[code].record
    return [{"record": record, **row} for row in rows]


BINS = (20, 40, 60, 80, 101)


def charts(user: User, applies_to: str = AppliesTo.WORKER) -> dict[str, Any]:
    """What the board's assessment page draws, for the latest quarter or year the user sees of
    the schemes for `applies_to` (grid workers, A-post officers or communities): mean total
    per community (ranking; a community's own card for the community scheme), the mean per
    community and quarter (trend), and how the cards' points spread per indicator
    (distribution)."""
    if applies_to not in AppliesTo.values:
        raise ApiError("validation_error", status=422, fields={"scheme": "field_invalid"})
    visible = Scorecard.objects.filter(card_filter(user), period__scheme__applies_to=applies_to)
    latest = (
        Period.objects.filter(pk__in=visible.values("period_id"))
        .select_related("scheme")
        .order_by("-year", "-quarter", "-pk")
        .first()
    )
    if latest is None:
        return {
            "applies_to": applies_to, "period": None, "ranking": [], "trend": [],
            "distribution": [],
        }  # fmt: skip
    cards = visible.filter(period=latest)
    ranking = list(
        cards.values("community_id", "community__name")
        .annotate(mean=Avg("total"), cards=Count("pk"))
        .order_by("-mean", "community_id")
    )
    trend = list(
        visible.filter(period__scheme__name=latest.scheme.name, period__quarter__gt=0)
        .values("period__year", "period__quarter", "community_id", "community__name")
        .annotate(mean=Avg("total"))
        .order_by("period__year", "period__quarter", "community_id")
    )
    spread: dict[str, list[int]] = {}
    for body in cards.values_list("indicators", flat=True):
        for code, figure in body.items():
            bins = spread.setdefault(code, [0] * len(BINS))
            if figure.get("points") is not None:
                bins[next(i for i, top in enumerate(BINS) if figure["points"] < top)] += 1
    return {
        "applies_to": applies_to,
        "period": {
            "id": latest.pk,
            "label": latest.label,
            "state": latest.state,
            "scheme": latest.scheme.name,
        },
        "ranking": [
            {
                "community_id": r["community_id"],
                "community": r["community__name"],
                "mean": round(r["mean"], 2),
                "cards": r["cards"],
            }
            for r in ranking
        ],
        "trend": [
            {
                "period": f"{r['period__year']}Q{r['period__quarter']}",
                "community_id": r["community_id"],
                "community": r["community__name"],
                "mean": round(r["mean"], 2),
            }
            for r in trend
        ],
        "distribution": [
            {
                "indicator": code,
                "label": SPECS[code].label_zh if code in SPECS else code,
                "bins": bins,
            }
            for code, bins in spread.items()
        ],
    }
