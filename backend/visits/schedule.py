"""When is a household due? Its community's rules, its residents' care tags and its last visit.

Cycles are rolling windows ending now: a household is on schedule when its last visit (with the
resident present) is younger than its interval, and visited in the current cycle when that visit
is younger than the base interval (the rule that applies to every household, yearly by default).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from backend.people.models import ResidentTag
from backend.territory.models import Household

from .models import Visit, VisitRule


@dataclass(frozen=True)
class RuleSpec:
    name: str
    tags: tuple[str, ...]
    match: str
    interval_days: int

    def matches(self, residents: Iterable[frozenset[str]]) -> bool:
        if not self.tags:
            return True
        wanted = set(self.tags)
        if self.match == VisitRule.Match.ANY:
            return any(wanted & tags for tags in residents)
        return any(wanted <= tags for tags in residents)


DEFAULT_RULES: tuple[RuleSpec, ...] = (
    RuleSpec("独居高龄 living alone, 80+", ("living_alone", "aged_80"), "all", 7),
    RuleSpec("残疾或低保 disabled or low income", ("disabled", "low_income"), "any", 30),
    RuleSpec("全部住户 every household", (), "all", 365),
)


def rules_by_community(community_ids: Iterable[int]) -> dict[int, tuple[RuleSpec, ...]]:
    """The rules in force for each community (own rules, else district defaults, else built-in)."""
    wanted = set(community_ids)
    own: dict[int | None, list[RuleSpec]] = defaultdict(list)
    for rule in VisitRule.objects.filter(
        Q(community_id__in=wanted) | Q(community__isnull=True), active=True
    ):
        own[rule.community_id].append(
            RuleSpec(rule.name, tuple(rule.tags or ()), rule.match, rule.interval_days)
        )
    fallback = tuple(own.get(None, ())) or DEFAULT_RULES
    return {cid: tuple(own[cid]) if own.get(cid) else fallback for cid in wanted}


@dataclass(frozen=True)
class Schedule:
    household_id: int
    grid_id: int
    community_id: int
    rule: RuleSpec | None  # the rule with the shortest interval; None: no rule applies
    vulnerable: bool  # matched by a rule with care tags
    base_days: int
    last_visit_at: datetime | None

    def due_on(self, today: date) -> date | None:
        if self.rule is None:
            return None
        if self.last_visit_at is None:
            return today
        return timezone.localdate(self.last_visit_at) + timedelta(days=self.rule.interval_days)

    def on_schedule(self, now: datetime) -> bool:
        return (
            self.rule is not None
            and self.last_visit_at is not None
            and self.last_visit_at > now - timedelta(days=self.rule.interval_days)
        )

    def visited_in_cycle(self, now: datetime) -> bool:
        return self.last_visit_at is not None and self.last_visit_at > now - timedelta(
            days=self.base_days
        )


def counted_visits() -> QuerySet[Visit]:
    """Visits that count for schedules and coverage: recorded, with the resident at home."""
    return Visit.objects.filter(state=Visit.State.COMPLETED, present=True)


def schedules(households: QuerySet[Household]) -> list[Schedule]:
    rows = list(households.values_list("pk", "grid_id", "grid__community_id"))
    if not rows:
        return []
    ids = [r[0] for r in rows]
    tags: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for household_id, resident_id, tag in ResidentTag.objects.filter(
        resident__household_id__in=ids
    ).values_list("resident__household_id", "resident_id", "tag"):
        tags[household_id][resident_id].add(tag)
    last = dict(
        counted_visits()
        .filter(household_id__in=ids)
        .values("household_id")
        .annotate(last=Max("counted_at"))
        .values_list("household_id", "last")
    )
    rules = rules_by_community({r[2] for r in rows})
    out = []
    for household_id, grid_id, community_id in rows:
        residents = [frozenset(t) for t in tags[household_id].values()]
        community_rules = rules[community_id]
        matching = [r for r in community_rules if r.matches(residents)]
        rule = min(matching, key=lambda r: r.interval_days) if matching else None
        base = [r.interval_days for r in community_rules if not r.tags] or [
            r.interval_days for r in community_rules
        ]
        out.append(
            Schedule(
                household_id=household_id,
                grid_id=grid_id,
                community_id=community_id,
                rule=rule,
                vulnerable=any(r.tags for r in matching),
                base_days=max(base, default=365),
                last_visit_at=last.get(household_id),
            )
        )
    return out
