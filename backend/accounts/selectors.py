"""What a user's posts entitle them to, as query filters other domains build on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from backend.people.models import CareTag

from .models import BusinessLine, DutyShift, Role, User

# What an A post needs to see of the residents of its community (the rest it meets through
# service-desk cases): the care tags its business line serves.
LINE_TAGS: dict[str, tuple[str, ...]] = {
    BusinessLine.CIVIL_AFFAIRS: (CareTag.LOW_INCOME, CareTag.VETERAN),
    BusinessLine.ELDERLY_CARE: (
        CareTag.AGED_60,
        CareTag.AGED_80,
        CareTag.LIVING_ALONE,
        CareTag.EMPTY_NEST,
    ),
    BusinessLine.HEALTH: (CareTag.CHRONIC_ILLNESS, CareTag.AGED_80),
    BusinessLine.DISABILITY: (CareTag.DISABLED,),
    BusinessLine.SOCIAL_SECURITY: (CareTag.AGED_60,),
    BusinessLine.HOUSING: (),
    BusinessLine.EMPLOYMENT: (),
}


@dataclass(frozen=True)
class Scope:
    """The territory and people a user may see. `everything` is the district administrator."""

    everything: bool = False
    district_id: int | None = None
    community_ids: frozenset[int] = frozenset()
    grid_ids: frozenset[int] = frozenset()
    # (community_id, care tags) pairs from A posts
    line_tags: tuple[tuple[int, tuple[str, ...]], ...] = ()
    resident_id: int | None = None
    household_id: int | None = None
    lines: tuple[str, ...] = field(default=())


def scope_for(user: User) -> Scope:
    if not user.is_active:
        return Scope()
    if user.role == Role.DISTRICT_ADMIN:
        return Scope(everything=user.district_id is None, district_id=user.district_id)
    if user.role == Role.SUPERVISOR:
        return Scope(community_ids=frozenset([user.community_id] if user.community_id else []))
    if user.role == Role.RESIDENT:
        if user.resident is None:
            return Scope()
        return Scope(resident_id=user.resident.pk, household_id=user.resident.household_id)
    grid_ids = frozenset(user.b_posts.values_list("grid_id", flat=True))
    a_posts = list(user.a_posts.values_list("community_id", "line"))
    line_tags = tuple((c, LINE_TAGS[line]) for c, line in a_posts if LINE_TAGS.get(line))
    return Scope(grid_ids=grid_ids, line_tags=line_tags, lines=tuple(line for _, line in a_posts))


def shifts_on_duty(user: User, at: datetime | None = None) -> QuerySet[DutyShift]:
    at = at or timezone.now()
    return user.shifts.filter(starts_at__lte=at, ends_at__gt=at).select_related("grid")


def shifts_today(user: User) -> QuerySet[DutyShift]:
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=1)
    return (
        user.shifts.filter(starts_at__lt=end, ends_at__gt=start)
        .select_related("grid", "community")
        .order_by("starts_at")
    )
