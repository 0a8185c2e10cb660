"""Check-in at the door: the community's fence (its radius and accuracy cap, judged by the one
rule in backend.core.geo), who may visit which household, and the arrival record (flagged,
never refused)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from backend.accounts.models import User
from backend.accounts.selectors import scope_for
from backend.core.errors import ApiError, NotFound
from backend.core.geo import Fence, Fix, Verdict, judge
from backend.people.selectors import household_filter
from backend.territory.models import Household
from backend.territory.scope import Scope
from backend.visits.models import Visit, VisitSettings, VisitTask


def fence_for(community_id: int) -> Fence:
    """The community's check-in fence (its own, else the district default, else 50 m / 100 m);
    a hand delivery of the service desk is held to the same one."""
    rows = list(
        VisitSettings.objects.filter(Q(community_id=community_id) | Q(community__isnull=True))
    )
    rows.sort(key=lambda s: s.community_id is None)
    if rows:
        return Fence(radius_m=rows[0].checkin_radius_m, accuracy_cap_m=rows[0].max_accuracy_m)
    return Fence()


def check_fixes(items: Sequence[tuple[Household, Fix | None]]) -> list[Verdict]:
    """The fence's verdict on each fix at its household, the distances in one query."""
    fences: dict[int, Fence] = {}
    places: list[tuple[Point, Fix | None, Fence]] = []
    for household, fix in items:
        community_id = household.grid.community_id
        if community_id not in fences:
            fences[community_id] = fence_for(community_id)
        places.append((household.location, fix, fences[community_id]))
    return judge(places)


def post_of(scope: Scope, household: Household) -> str:
    return Visit.Post.B if household.grid_id in scope.grid_ids else Visit.Post.A


def check_may_visit(user: User) -> Scope:
    if user.role == "resident":
        raise ApiError("permission_denied", status=403)
    return scope_for(user)


def get_visitable_household(scope: Scope, household_id: int) -> Household:
    household = (
        Household.objects.filter(household_filter(scope), pk=household_id)
        .select_related("grid")
        .first()
    )
    if household is None:
        raise NotFound()
    return household


def do_check_in(
    *,
    worker: User,
    household: Household,
    client_uuid: uuid.UUID,
    fix: Fix,
    visited_at: datetime,
    task_id: int | None = None,
) -> tuple[Visit, bool]:
    """Record arrival at the door. Outside the fence or too inaccurate is accepted but flagged,
    with the distance. Once per client_uuid: a retry gets the same visit (created False)."""
    scope = check_may_visit(worker)
    existing = Visit.objects.filter(client_uuid=client_uuid).first()
    if existing is not None:
        if existing.worker_id != worker.pk or existing.household_id != household.pk:
            raise ApiError(
                "client_uuid_conflict", status=409, fields={"client_uuid": "field_invalid"}
            )
        return existing, False
    task = _task_of(task_id, household)
    now = timezone.now()
    (checked,) = check_fixes([(household, fix)])
    try:
        with transaction.atomic():
            visit = Visit.objects.create(
                client_uuid=client_uuid,
                worker=worker,
                household=household,
                grid_id=household.grid_id,
                community_id=household.grid.community_id,
                task=task,
                post=post_of(scope, household),
                visited_at=visited_at,
                received_at=now,
                counted_at=min(visited_at, now),
                location=fix.point(),
                accuracy_m=fix.accuracy_m,
                distance_m=checked.distance_m,
                fence_m=checked.reach_m,
                flag=checked.flag,
            )
    except IntegrityError:
        # A retry of the same check-in committed first: answer as the retry would.
        raced = Visit.objects.filter(client_uuid=client_uuid).first()
        if raced is None or raced.worker_id != worker.pk or raced.household_id != household.pk:
            raise ApiError(
                "client_uuid_conflict", status=409, fields={"client_uuid": "field_invalid"}
            ) from None
        return raced, False
    return visit, True


def _task_of(task_id: int | None, household: Household) -> VisitTask | None:
    if task_id is None:
        return None
    task = VisitTask.objects.filter(pk=task_id, household=household).first()
    if task is None:
        raise ApiError("not_found", status=404, fields={"task_id": "not_found"})
    return task
