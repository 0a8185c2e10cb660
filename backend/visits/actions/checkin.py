"""Check-in at the door: the geofence (the community's radius plus the fix's accuracy up to
a cap), who may visit which household, and the arrival record (flagged, never refused)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from backend.accounts.models import User
from backend.accounts.selectors import Scope, scope_for
from backend.alerts.actions import Fix
from backend.core.errors import ApiError, NotFound
from backend.people.selectors import household_filter
from backend.territory.models import Household
from backend.visits import geo
from backend.visits.models import Visit, VisitSettings, VisitTask


def fence_for(community_id: int) -> tuple[int, int]:
    """(radius, accuracy cap) in metres for the community (own, district default, 50/100)."""
    rows = list(
        VisitSettings.objects.filter(Q(community_id=community_id) | Q(community__isnull=True))
    )
    rows.sort(key=lambda s: s.community_id is None)
    if rows:
        return rows[0].checkin_radius_m, rows[0].max_accuracy_m
    return 50, 100


@dataclass
class Checked:
    distance_m: float | None
    fence_m: float | None
    flag: str


def _judge(fix: Fix | None, result: geo.FenceResult | None, fence_m: float, cap: int) -> Checked:
    if fix is None or result is None:
        return Checked(None, None, Visit.Flag.NO_FIX)
    if not result.within:
        return Checked(result.distance_m, fence_m, Visit.Flag.OUTSIDE)
    if fix.accuracy_m is None or fix.accuracy_m > cap:
        return Checked(result.distance_m, fence_m, Visit.Flag.INACCURATE)
    return Checked(result.distance_m, fence_m, Visit.Flag.NONE)


def check_fixes(items: Sequence[tuple[Household, Fix | None]]) -> list[Checked]:
    """The geofence for many fixes in one query: radius + min(accuracy, cap) around each home."""
    checks: list[geo.FenceCheck] = []
    fences: list[tuple[float, int]] = []
    settings: dict[int, tuple[int, int]] = {}
    for household, fix in items:
        community_id = household.grid.community_id
        if community_id not in settings:
            settings[community_id] = fence_for(community_id)
        radius, cap = settings[community_id]
        accuracy = fix.accuracy_m if fix and fix.accuracy_m is not None else cap
        fence_m = float(radius) + min(float(accuracy), float(cap))
        fences.append((fence_m, cap))
        if fix is not None:
            checks.append(geo.FenceCheck(household.pk, fix.lon, fix.lat, fence_m))
    results = iter(geo.fence(checks))
    return [
        _judge(fix, next(results) if fix is not None else None, fence_m, cap)
        for (_, fix), (fence_m, cap) in zip(items, fences, strict=True)
    ]


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
                fence_m=checked.fence_m,
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
