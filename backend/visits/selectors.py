"""Reads for visits, narrowed to the caller: today's route, visits, coverage.

Visits are seen by whoever may see the household (a B post its grids, a supervisor the
community, an A post the households its line serves); residents' own accounts see none.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone

from backend.accounts.models import GridAssignment, Role, User, WorkerPosition
from backend.accounts.selectors import scope_for
from backend.audit.actions import do_record_read, seen
from backend.audit.models import AuditEvent
from backend.core.errors import NotFound
from backend.people.models import Resident
from backend.people.selectors import household_filter
from backend.photos.models import Photo
from backend.territory.models import Grid, Household
from backend.territory.scope import Scope
from backend.territory.selectors import get_grid, grids_for

from . import geo
from .actions import PHOTO_SUBJECT, start_of
from .models import TaskKind, Visit, VisitTask
from .schedule import Schedule, counted_visits, schedules


def visit_filter(user: User) -> Q:
    """Visits of households in the caller's territory (B posts, community, district). An A
    post sees a household for one resident its line serves; a visit note speaks of the whole
    household, so an A post reads only the visits it made itself (as an A post) there."""
    if user.role == Role.RESIDENT or not user.is_active:
        return Q(pk__in=[])
    scope = scope_for(user)
    territory = replace(scope, line_tags=())
    visible = Household.objects.filter(household_filter(territory)).values("pk")
    q = Q(household_id__in=visible)
    if scope.line_tags:
        line = Household.objects.filter(household_filter(scope)).values("pk")
        q |= Q(household_id__in=line, worker=user, post=Visit.Post.A)
    return q


def visits_for(
    user: User,
    *,
    flagged: bool | None = None,
    grid_id: int | None = None,
    household_id: int | None = None,
    worker_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Visit]:
    qs = Visit.objects.filter(visit_filter(user))
    scope = scope_for(user)
    if grid_id is not None:
        get_grid(scope, grid_id)
        qs = qs.filter(grid_id=grid_id)
    if household_id is not None:
        if not Household.objects.filter(household_filter(scope), pk=household_id).exists():
            raise NotFound()
        qs = qs.filter(household_id=household_id)
    if flagged is not None:
        qs = qs.exclude(flag="") if flagged else qs.filter(flag="")
    if worker_id is not None:
        qs = qs.filter(worker_id=worker_id)
    if since is not None:
        qs = qs.filter(visited_at__gte=since)
    if until is not None:
        qs = qs.filter(visited_at__lt=until)
    return qs.select_related("household", "worker").order_by("-visited_at", "-pk")


def get_visit(user: User, visit_uuid: uuid.UUID) -> Visit:
    visit = (
        Visit.objects.filter(visit_filter(user), client_uuid=visit_uuid)
        .select_related("household", "worker")
        .prefetch_related("findings")
        .first()
    )
    if visit is None:
        raise NotFound()
    return visit


def read_visit(user: User, visit_uuid: uuid.UUID, *, request: HttpRequest) -> Visit:
    """A visit (its note and checklist are health data) to show to `user`, audited."""
    visit = get_visit(user, visit_uuid)
    do_record_read(
        actor=user,
        action=AuditEvent.Action.VIEW_VISIT,
        target_type="visit",
        target_id=visit.pk,
        target_ids=[],
        request=request,
    )
    return visit


def photos_of(visit: Visit) -> list[Photo]:
    return list(
        Photo.objects.filter(
            subject_kind=PHOTO_SUBJECT,
            subject_uuid=visit.client_uuid,
            household_id=visit.household_id,
            uploaded_by_id=visit.worker_id,
        ).order_by("uploaded_at", "pk")
    )


# -- today's list --------------------------------------------------------------------------


@dataclass
class RouteStop:
    step: int
    household: Household
    residents: list[Resident]
    tasks: list[VisitTask]
    leg_m: float
    last_visit: Visit | None


@dataclass
class Today:
    origin: str  # "query", "last_position" or "first_stop"
    stops: list[RouteStop]
    total_m: float


def today_for(user: User, *, origin: tuple[float, float] | None = None) -> Today:
    """The worker's open tasks in their B-post grids that are due by the end of today (routine)
    or open at all (one-off), one stop per household, as a nearest-neighbour walk."""
    grid_ids = list(GridAssignment.objects.filter(user=user).values_list("grid_id", flat=True))
    end_of_today = start_of(timezone.localdate() + timedelta(days=1))
    tasks = list(
        VisitTask.objects.filter(grid_id__in=grid_ids, state=VisitTask.State.OPEN)
        .filter(~Q(kind=TaskKind.ROUTINE) | Q(due_at__lt=end_of_today))
        .order_by("due_at", "pk")
    )
    by_household: dict[int, list[VisitTask]] = {}
    for task in tasks:
        by_household.setdefault(task.household_id, []).append(task)
    last_visit = counted_visits().filter(household_id=OuterRef("pk")).order_by("-counted_at")
    households = {
        h.pk: h
        for h in Household.objects.filter(pk__in=list(by_household))
        .annotate(last_visit_id=Subquery(last_visit.values("pk")[:1]))
        .prefetch_related(
            Prefetch(
                "residents",
                queryset=Resident.objects.prefetch_related("tags").order_by("pk"),
            )
        )
    }
    last_ids = [h.last_visit_id for h in households.values() if h.last_visit_id]
    last_visits = {v.pk: v for v in Visit.objects.filter(pk__in=last_ids).select_related("worker")}
    how = "query"
    if origin is None:
        position = WorkerPosition.objects.filter(user=user).first()
        if position is not None:
            origin, how = (position.location.x, position.location.y), "last_position"
        else:
            how = "first_stop"
    # Without a position, start at the most urgent household (tasks are ordered by due date).
    stops = [
        geo.Stop(hid, households[hid].location.x, households[hid].location.y)
        for hid in by_household
    ]
    route = geo.walking_order(stops, origin)
    out = []
    for step, (hid, leg) in enumerate(route, start=1):
        household = households[hid]
        out.append(
            RouteStop(
                step=step,
                household=household,
                residents=list(household.residents.all()),
                tasks=by_household[hid],
                leg_m=leg,
                last_visit=last_visits.get(household.last_visit_id),
            )
        )
    return Today(how, out, round(sum(s.leg_m for s in out), 1))


def read_today(
    user: User, *, origin: tuple[float, float] | None = None, request: HttpRequest | None = None
) -> Today:
    """`today_for` to show to `user` (names, ages, care tags, the last visit's note), audited:
    one row naming every resident on the route."""
    today = today_for(user, origin=origin)
    do_record_read(
        actor=user,
        action=AuditEvent.Action.VISITS_TODAY,
        target_type="resident",
        target_ids=seen(r.pk for stop in today.stops for r in stop.residents),
        request=request,
    )
    return today


# -- coverage ------------------------------------------------------------------------------


def _shares(items: list[Schedule], now: datetime) -> dict[str, Any]:
    vulnerable = [s for s in items if s.vulnerable]
    visited = sum(1 for s in items if s.visited_in_cycle(now))
    on_schedule = sum(1 for s in vulnerable if s.on_schedule(now))
    return {
        "households": len(items),
        "visited_in_cycle": visited,
        "share_visited": round(visited / len(items), 4) if items else None,
        "vulnerable": len(vulnerable),
        "vulnerable_on_schedule": on_schedule,
        "share_vulnerable_on_schedule": (
            round(on_schedule / len(vulnerable), 4) if vulnerable else None
        ),
        "overdue": sum(1 for s in items if s.rule is not None and not s.on_schedule(now)),
    }


def _fence_pass(visits: QuerySet[Visit]) -> dict[str, Any]:
    total = visits.count()
    passed = visits.filter(flag="").count()
    return {"visits": total, "share_geofence_passed": round(passed / total, 4) if total else None}


def coverage_for(user: User, *, grid_id: int | None = None) -> dict[str, Any]:
    """Per grid in scope and per B-post worker of those grids: the share of households visited
    in the current cycle and of vulnerable households visited on schedule."""
    scope: Scope = scope_for(user)
    grids: QuerySet[Grid] = grids_for(scope)
    if grid_id is not None:
        grids = grids.filter(pk=get_grid(scope, grid_id).pk)
    grid_list = list(grids)
    now = timezone.now()
    by_grid: dict[int, list[Schedule]] = {g.pk: [] for g in grid_list}
    for s in schedules(Household.objects.filter(grid__in=grid_list)):
        by_grid[s.grid_id].append(s)
    since = now - timedelta(days=365)
    recent = Visit.objects.filter(state=Visit.State.COMPLETED, counted_at__gte=since)
    grid_rows = [
        {
            "grid_id": g.pk,
            "code": g.code,
            "name": g.name,
            **_shares(by_grid[g.pk], now),
            **_fence_pass(recent.filter(grid_id=g.pk)),
        }
        for g in grid_list
    ]
    workers: dict[int, tuple[User, list[int]]] = {}
    for a in GridAssignment.objects.filter(grid__in=grid_list, user__is_active=True).select_related(
        "user"
    ):
        workers.setdefault(a.user_id, (a.user, []))[1].append(a.grid_id)
    worker_rows = [
        {
            "user_id": w.pk,
            "name": w.name,
            "grid_ids": sorted(gids),
            **_shares([s for gid in gids for s in by_grid[gid]], now),
            **_fence_pass(recent.filter(worker_id=w.pk)),
        }
        for w, gids in sorted(workers.values(), key=lambda x: x[0].pk)
    ]
    return {"at": now, "grids": grid_rows, "workers": worker_rows}
