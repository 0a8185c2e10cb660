"""Reads of reassurance calls: the rule a community follows, who it calls, a resident's
reassurance timeline (in the caller's scope), and the counts the assessment takes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from backend.audit.actions import do_record_read
from backend.audit.models import AuditEvent
from backend.people.models import CareTag, Resident, ResidentTag
from backend.people.selectors import get_resident
from backend.territory.scope import Scope

from .models import ReassuranceCall, ReassuranceEntry, ReassuranceRule


@dataclass(frozen=True)
class Rule:
    min_age: int | None
    tags: tuple[str, ...]
    weekday: int
    call_at: time
    active: bool = True


# Without a rule of the community's own or a district default: 80+ and living alone, Monday 10:00.
BUILT_IN = Rule(min_age=80, tags=(str(CareTag.LIVING_ALONE),), weekday=0, call_at=time(10, 0))


def _rule(row: ReassuranceRule) -> Rule:
    return Rule(
        min_age=row.min_age,
        tags=tuple(str(t) for t in row.tags or []),
        weekday=int(row.weekday),
        call_at=row.call_at,
        active=row.active,
    )


def rule_for(community_id: int) -> Rule:
    """The community's own rule, else the district default, else BUILT_IN (one query)."""
    rows = list(
        ReassuranceRule.objects.filter(
            Q(community_id=community_id) | Q(community__isnull=True)
        ).order_by(F("community_id").asc(nulls_last=True), "pk")  # the community's first
    )
    return _rule(rows[0]) if rows else BUILT_IN


def born_on_or_before(today: date, years: int) -> date:
    """The latest birth date of someone at least `years` old on `today` (29 February: the
    28th in a year without one, as `backend.core.personal.age_on` counts)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def phone_of(resident: Resident) -> str:
    """Where the call goes: the resident's own phone, else the household's fixed line."""
    return resident.phone or resident.household.fixed_phone


def eligible(community_id: int, rule: Rule, today: date) -> QuerySet[Resident]:
    """The residents of the community the rule calls (one query; phone or fixed line needed)."""
    if not rule.active:
        return Resident.objects.none()
    qs = Resident.objects.filter(household__grid__community_id=community_id).filter(
        ~Q(phone="") | ~Q(household__fixed_phone="")
    )
    if rule.min_age is not None:
        qs = qs.filter(birth_date__lte=born_on_or_before(today, rule.min_age))
    for tag in rule.tags:
        qs = qs.filter(Exists(ResidentTag.objects.filter(resident=OuterRef("pk"), tag=tag)))
    return qs


def not_called_in(qs: QuerySet[Resident], week: date) -> QuerySet[Resident]:
    return qs.exclude(Exists(ReassuranceCall.objects.filter(resident=OuterRef("pk"), week=week)))


TIMELINE_LIMIT = 200  # about a year and a half of weekly calls


def timeline_for(scope: Scope, resident_id: int) -> list[ReassuranceEntry]:
    """A resident's reassurance timeline (the latest TIMELINE_LIMIT entries), oldest first;
    out of scope is NotFound like a missing id."""
    resident = get_resident(scope, resident_id)
    latest = (
        ReassuranceEntry.objects.filter(resident=resident)
        .select_related("call")
        .order_by("-at", "-pk")[:TIMELINE_LIMIT]
    )
    return list(reversed(latest))


def read_timeline(
    scope: Scope,
    resident_id: int,
    *,
    reader: AbstractBaseUser,
    client: str = "",
    ip: str | None = None,
) -> list[ReassuranceEntry]:
    """The timeline to show to `reader`, the read written to the audit trail (in scope only:
    an out-of-scope id is 404 and reads nothing), as a read of the resident's record."""
    entries = timeline_for(scope, resident_id)
    do_record_read(
        actor=reader,
        action=AuditEvent.Action.VIEW_RESIDENT,
        target_type="reassurance",
        target_id=resident_id,
        client=client,
        ip=ip,
    )
    return entries


def calls_for(resident_id: int) -> QuerySet[ReassuranceCall]:
    return ReassuranceCall.objects.filter(resident_id=resident_id).order_by("week")


def tally(
    *, since: datetime, until: datetime, community_ids: Iterable[int] | None = None
) -> dict[str, int]:
    """For the assessment: the calls planned in [since, until) of these communities (all when
    None), as one aggregate: calls, fine, missed, still pending, visits raised."""
    qs = ReassuranceCall.objects.filter(planned_at__gte=since, planned_at__lt=until)
    if community_ids is not None:
        qs = qs.filter(community_id__in=list(community_ids))
    State = ReassuranceCall.State
    counts = qs.aggregate(
        calls=Count("pk"),
        fine=Count("pk", filter=Q(state=State.FINE)),
        missed=Count("pk", filter=Q(state=State.MISSED)),
        pending=Count("pk", filter=Q(state=State.PENDING)),
        visits_raised=Count("pk", filter=Q(visit_task__isnull=False)),
    )
    return {name: int(value or 0) for name, value in counts.items()}


def week_of(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())
