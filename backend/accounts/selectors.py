"""What a user's posts entitle them to, as query filters other domains build on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models
from django.db.models import QuerySet
from django.utils import timezone

from backend.people.models import CareTag

from .models import BusinessLine, DutyShift, GridAssignment, Role, User

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
    return Scope(grid_ids=grid_ids, line_tags=line_tags)


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


@dataclass(frozen=True)
class OnDuty:
    user_id: int
    name: str
    role: str
    until: datetime


def duty_now(
    *,
    community_ids: frozenset[int],
    grid_ids: frozenset[int],
    district_id: int | None,
    now: datetime,
) -> tuple[dict[int, list[OnDuty]], list[OnDuty]]:
    """Who is on duty now: per grid (a grid shift, or a community shift of a grid's B-post
    holder), and community- or district-wide (supervisors, district officers, and workers
    on duty without a B post in these grids)."""
    shifts = list(
        DutyShift.objects.filter(starts_at__lte=now, ends_at__gt=now, user__is_active=True)
        .filter(
            models.Q(community_id__in=community_ids)
            | models.Q(community__isnull=True, user__district_id=district_id)
            if district_id is not None
            else models.Q(community_id__in=community_ids)
        )
        .select_related("user")
        .order_by("ends_at", "pk")
    )
    posts: dict[int, set[int]] = {}
    for user_id, grid_id in GridAssignment.objects.filter(
        user_id__in={s.user_id for s in shifts}, grid_id__in=grid_ids
    ).values_list("user_id", "grid_id"):
        posts.setdefault(user_id, set()).add(grid_id)
    by_grid: dict[int, list[OnDuty]] = {}
    wide: list[OnDuty] = []
    seen: set[tuple[int, int]] = set()
    wide_ids: set[int] = set()
    for shift in shifts:
        who = OnDuty(shift.user_id, shift.user.name, shift.user.role, shift.ends_at)
        grids: set[int] = (
            {shift.grid_id} & grid_ids
            if shift.grid_id is not None
            else posts.get(shift.user_id, set())
        )
        if not grids and shift.user_id not in wide_ids:
            wide_ids.add(shift.user_id)
            wide.append(who)
        for grid_id in sorted(grids):
            if (shift.user_id, grid_id) not in seen:
                seen.add((shift.user_id, grid_id))
                by_grid.setdefault(grid_id, []).append(who)
    return by_grid, wide


def b_posts_of(user_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for user_id, grid_id in GridAssignment.objects.filter(user_id__in=user_ids).values_list(
        "user_id", "grid_id"
    ):
        out.setdefault(user_id, []).append(grid_id)
    return out


def field_staff(community_ids: Iterable[int]) -> QuerySet[User]:
    """The active workers and supervisors of these communities: whom a supervisor sees on the
    board and may hand an alert to."""
    return User.objects.filter(
        community_id__in=list(community_ids),
        is_active=True,
        role__in=(Role.WORKER, Role.SUPERVISOR),
    )
