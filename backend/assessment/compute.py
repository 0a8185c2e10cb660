"""Computing a period's scorecards: each indicator is one grouped SQL aggregate over its
evidence rows (backend.assessment.indicators), whatever the number of workers; the points,
grades and ranks are arithmetic on those few hundred numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import QuerySet, Sum

from backend.accounts.models import BusinessLineAssignment, GridAssignment, Role
from backend.territory.models import Community

from .indicators import SPECS, Spec, Window
from .models import Adjustment, Appeal, AppliesTo, Formula, Indicator, Period, Scorecard

GRADES = ("优秀", "良好", "合格")
FAIL = "不合格"


@dataclass
class Figure:
    """One indicator of one subject: its value over the counted rows, and what was excluded."""

    value: float | None = None
    counted: int = 0
    hits: float = 0.0
    excluded: dict[str, int] = field(default_factory=dict)


def _sql(qs: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    sql, params = qs.query.sql_with_params()
    return sql, tuple(params)


def aggregate(spec: Spec, window: Window) -> dict[int, Figure]:
    """subject -> Figure: one grouped statement over the indicator's rows (by subject and
    exclusion reason), and for a percentile one more over the counted rows."""
    rows, params = _sql(spec.rows(window))
    figures: dict[int, Figure] = {}
    # `rows` is SQL Django compiled from the indicator's queryset; every value is in `params`.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT subject, excluded, COUNT(*), COALESCE(SUM(value), 0)"  # noqa: S608
            f" FROM ({rows}) t GROUP BY subject, excluded",
            params,
        )
        for subject, reason, count, total in cursor.fetchall():
            figure = figures.setdefault(int(subject), Figure())
            if reason:
                figure.excluded[reason] = int(count)
            else:
                figure.counted, figure.hits = int(count), float(total)
        percentile = spec.aggregate in ("p50", "p90")
        if percentile and connection.vendor == "postgresql":
            q = 0.5 if spec.aggregate == "p50" else 0.9
            cursor.execute(
                f"SELECT subject, percentile_cont({q}) WITHIN GROUP (ORDER BY value)"  # noqa: S608
                f" FROM ({rows}) t WHERE excluded = '' GROUP BY subject",
                params,
            )
            for subject, value in cursor.fetchall():
                figures[int(subject)].value = float(value)
    if percentile and connection.vendor != "postgresql":
        _percentiles_in_python(spec, window, figures)
    for figure in figures.values():
        if not percentile:
            figure.value = _value(spec, figure.counted, figure.hits)
        if spec.miss_reason and figure.counted:
            figure.excluded[spec.miss_reason] = int(figure.counted - figure.hits)
    return figures


def _value(spec: Spec, counted: int, hits: float) -> float | None:
    """A count is the sum of the counted rows; a rate or a mean their average."""
    if spec.aggregate == "count":
        return hits
    return hits / counted if counted else None


def _percentiles_in_python(spec: Spec, window: Window, figures: dict[int, Figure]) -> None:
    """SQLite (the embedded default) has no percentile_cont: sort each subject's values."""
    values: dict[int, list[float]] = defaultdict(list)
    for row in spec.rows(window).filter(excluded=""):
        values[int(row["subject"])].append(float(row["value"]))
    q = 0.5 if spec.aggregate == "p50" else 0.9
    for subject, xs in values.items():
        xs.sort()
        pos = (len(xs) - 1) * q
        low, high = int(pos), min(int(pos) + 1, len(xs) - 1)
        figures[subject].value = xs[low] + (xs[high] - xs[low]) * (pos - low)


def points(indicator: Indicator, value: float | None) -> float | None:
    """0-100 for a value: linear between the floor (0) and the target (100), or all-or-nothing
    at the target. A target below the floor means lower is better."""
    if value is None:
        return None
    target, floor = indicator.target, indicator.floor
    if target == floor:
        return 100.0 if value >= target else 0.0
    share = (value - floor) / (target - floor)
    if indicator.formula == Formula.THRESHOLD:
        return 100.0 if share >= 1 else 0.0
    return round(max(0.0, min(1.0, share)) * 100, 2)


def grade(bands: dict[str, float], total: float) -> str:
    for name in GRADES:
        if name in bands and total >= float(bands[name]):
            return name
    return FAIL


def subjects(period: Period) -> dict[int, int]:
    """The subjects of the period's scheme -> their community: workers with a B post, officers
    with an A post, or the communities of the district."""
    scheme = period.scheme
    if scheme.applies_to == AppliesTo.COMMUNITY:
        ids = Community.objects.filter(district_id=scheme.district_id).values_list("pk", flat=True)
        return {cid: cid for cid in ids}
    staff = {"user__is_active": True, "user__role__in": [r for r in Role if r != Role.RESIDENT]}
    pairs: QuerySet[Any, tuple[int, int]]
    if scheme.applies_to == AppliesTo.WORKER:
        pairs = GridAssignment.objects.filter(
            grid__community__district_id=scheme.district_id, **staff
        ).values_list("user_id", "grid__community_id")
    else:
        pairs = BusinessLineAssignment.objects.filter(
            community__district_id=scheme.district_id, **staff
        ).values_list("user_id", "community_id")
    # a worker with posts in two communities is assessed in the one of their first post
    return {user: community for user, community in pairs.order_by("-pk")}


def indicators_of(period: Period) -> list[Indicator]:
    qs = Indicator.objects.filter(group__scheme=period.scheme).select_related("group")
    return [i for i in qs if period.quarter == 0 or not i.year_only]


def figures_of(period: Period) -> dict[str, dict[int, Figure]]:
    window = Window(
        district_id=period.scheme.district_id,
        starts_at=period.starts_at,
        ends_at=period.ends_at,
        subject=period.scheme.applies_to,
    )
    return {i.code: aggregate(SPECS[i.code], window) for i in indicators_of(period)}


def card_body(
    indicators: list[Indicator], figures: dict[str, dict[int, Figure]], subject: int
) -> tuple[dict[str, Any], dict[str, int], float]:
    """The card's indicators, exclusions and base score (weighted over indicators with data)."""
    body: dict[str, Any] = {}
    exclusions: dict[str, int] = defaultdict(int)
    groups: dict[int, list[tuple[float, float]]] = defaultdict(list)
    weights: dict[int, float] = {}
    for ind in indicators:
        fig = figures[ind.code].get(subject, Figure())
        counts = SPECS[ind.code].aggregate == "count"  # none done is a count too: 0
        score = points(ind, fig.hits if counts else fig.value)
        body[ind.code] = {
            "group": ind.group.name,
            "value": fig.value,
            "counted": fig.counted,
            "hits": fig.hits,
            "points": score,
            "excluded": fig.excluded,
        }
        for reason, n in fig.excluded.items():
            exclusions[reason] += n
        weights[ind.group_id] = ind.group.weight
        if score is not None:
            groups[ind.group_id].append((ind.weight, score))
    scored = {g: sum(w * s for w, s in xs) / sum(w for w, _ in xs) for g, xs in groups.items()}
    total_weight = sum(weights[g] for g in scored)
    base = sum(weights[g] * s for g, s in scored.items()) / total_weight if total_weight else 0.0
    return body, dict(exclusions), round(base, 2)


def do_compute(period: Period) -> int:
    """Write every subject's card for the period (adjustments and appeals kept); returns how
    many cards. The caller has checked that the period may still change."""
    indicators = indicators_of(period)
    figures = figures_of(period)
    user_cards = period.scheme.applies_to != AppliesTo.COMMUNITY
    existing = {(c.user_id if user_cards else c.community_id): c for c in period.scorecards.all()}
    manual = _manual_points(period)
    create: list[Scorecard] = []
    update: list[Scorecard] = []
    for subject, community in subjects(period).items():
        body, exclusions, base = card_body(indicators, figures, subject)
        card = existing.get(subject) or Scorecard(
            period=period, user_id=subject if user_cards else None, community_id=community
        )
        card.indicators, card.exclusions, card.base = body, exclusions, base
        card.community_id = community
        card.adjustment = manual.get(card.pk, 0.0) if card.pk else 0.0
        card.total = total_of(card, period.scheme.leader_weight)
        card.grade = grade(period.scheme.grade_bands, card.total)
        (update if card.pk else create).append(card)
    _rank([*create, *update])
    Scorecard.objects.bulk_create(create, batch_size=500)
    fields = ["indicators", "exclusions", "base", "adjustment", "total", "grade", "rank"]
    Scorecard.objects.bulk_update([*update], [*fields, "community"], batch_size=500)
    return len(create) + len(update)


def total_of(card: Scorecard, leader_weight: float) -> float:
    """The card's total: the indicators' base and, where the scheme has a qualitative part
    (`leader_weight` % of the total) and the leader has scored the card, the leader's score in
    that share; then the manual points. A card the leader has not scored yet is the base alone
    (a part without data is left out, as a group without data is)."""
    score = card.base
    if leader_weight > 0 and card.leader is not None:
        share = leader_weight / 100
        score = card.base * (1 - share) + card.leader * share
    return round(score + card.adjustment, 2)


def _manual_points(period: Period) -> dict[int, float]:
    totals: dict[int, float] = defaultdict(float)
    adjustments = Adjustment.objects.filter(scorecard__period=period).values("scorecard_id")
    for row in adjustments.annotate(s=Sum("points")):
        totals[row["scorecard_id"]] += row["s"]
    appeals = Appeal.objects.filter(scorecard__period=period, decision=Appeal.Decision.CHANGED)
    for row in appeals.values("scorecard_id").annotate(s=Sum("points")):
        totals[row["scorecard_id"]] += row["s"]
    return totals


def _rank(cards: list[Scorecard]) -> None:
    by_community: dict[int, list[Scorecard]] = defaultdict(list)
    for card in cards:
        by_community[card.community_id if card.user_id else 0].append(card)
    for group in by_community.values():
        group.sort(key=lambda c: -c.total)
        for position, card in enumerate(group, start=1):
            card.rank = position


def refresh_total(card: Scorecard) -> None:
    """After an adjustment, a leader's score or an appeal: the card's total and grade, and its
    community's ranks."""
    card.adjustment = _manual_points(card.period).get(card.pk, 0.0)
    card.total = total_of(card, card.period.scheme.leader_weight)
    card.grade = grade(card.period.scheme.grade_bands, card.total)
    card.save(update_fields=["leader", "adjustment", "total", "grade"])
    peers = list(card.period.scorecards.filter(community_id=card.community_id))
    if card.user_id is None:
        peers = list(card.period.scorecards.all())
    _rank(peers)
    Scorecard.objects.bulk_update(peers, ["rank"])


def _window(period: Period) -> Window:
    return Window(
        district_id=period.scheme.district_id,
        starts_at=period.starts_at,
        ends_at=period.ends_at,
        subject=period.scheme.applies_to,
    )


def evidence_rows(period: Period, code: str, subject: int | None = None) -> list[dict[str, Any]]:
    """The rows an indicator counted (or excluded) for one subject, or everyone."""
    qs = SPECS[code].rows(_window(period))
    if subject is not None:
        qs = qs.filter(subject=subject)
    return list(qs.order_by("subject", "ref"))


def evidence_values(period: Period, code: str) -> Iterator[tuple[Any, ...]]:
    """Everyone's rows of an indicator as (subject, ref, value, excluded) tuples, streamed from
    a server-side cursor (the XLSX: a district quarter is a few hundred thousand rows)."""
    qs = SPECS[code].rows(_window(period)).order_by("subject", "ref")
    return qs.values_list("subject", "ref", "value", "excluded").iterator(chunk_size=5000)
