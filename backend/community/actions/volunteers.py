"""Volunteers (志愿服务): residents register with their skills, availability, distance and
consent; a grid worker turns a household's need into a task, offered to the consenting
volunteers who live near enough (PostGIS distance); the hours one records are confirmed once,
by the person helped or the worker. The task stays the grid's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.measure import D
from django.db import transaction
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.accounts.selectors import scope_for
from backend.community import selectors
from backend.community.models import Skill, Volunteer, VolunteerOffer, VolunteerTask
from backend.core.errors import ApiError
from backend.core.stream import record_events
from backend.people.selectors import get_resident

MAX_RADIUS_M = 5000
MIN_HOURS, MAX_HOURS = Decimal("0.5"), Decimal("24")


def _invalid(field: str, code: str = "field_invalid") -> ApiError:
    return ApiError("validation_error", status=422, fields={field: code})


@dataclass(frozen=True)
class VolunteerIn:
    skills: tuple[str, ...]
    consent: bool
    availability: str = ""
    max_distance_m: int = 1000
    resident_id: int | None = None  # staff register a resident of their scope


def do_register_volunteer(*, user: User, data: VolunteerIn) -> Volunteer:
    """Register (or update) a volunteer: a resident for themselves, or a worker for a resident
    of their grid who agreed at the door. Without consent they stay registered, unmatched."""
    if not data.skills or any(s not in Skill.values for s in data.skills):
        raise _invalid("skills")
    if not 100 <= data.max_distance_m <= MAX_RADIUS_M:
        raise _invalid("max_distance_m", "field_out_of_range")
    if user.role == Role.RESIDENT:
        if user.resident is None or data.resident_id not in (None, user.resident.pk):
            raise ApiError("permission_denied", status=403)
        resident = user.resident
    else:
        if data.resident_id is None:
            raise _invalid("resident_id", "field_required")
        resident = get_resident(scope_for(user), data.resident_id)
    values = {
        "household_id": resident.household_id,
        "grid_id": resident.household.grid_id,
        "skills": sorted(set(data.skills)),
        "availability": data.availability[:200],
        "max_distance_m": data.max_distance_m,
        "consent_at": timezone.now() if data.consent else None,
        "registered_by": user,
    }
    with transaction.atomic():
        volunteer, _ = Volunteer.objects.update_or_create(resident=resident, defaults=values)
    return volunteer


@dataclass(frozen=True)
class NeedIn:
    household_id: int
    skill: str
    description: str
    due_at: datetime
    radius_m: int = 1000


def do_create_volunteer_task(*, user: User, need: NeedIn) -> VolunteerTask:
    """A need of a household of the worker's grid, offered at once to every consenting
    volunteer with the skill who lives within both the task's radius and their own distance
    (not the household's own members)."""
    if user.role == Role.RESIDENT:
        raise ApiError("permission_denied", status=403)
    household = selectors.household_in_scope(scope_for(user), need.household_id)
    if need.skill not in Skill.values:
        raise _invalid("skill")
    if not need.description.strip() or len(need.description) > 500:
        raise _invalid("description")
    if not 100 <= need.radius_m <= MAX_RADIUS_M:
        raise _invalid("radius_m", "field_out_of_range")
    with transaction.atomic():
        task = VolunteerTask.objects.create(
            household=household,
            grid_id=household.grid_id,
            community_id=household.grid.community_id,
            skill=need.skill,
            description=need.description.strip(),
            due_at=need.due_at,
            radius_m=need.radius_m,
            created_by=user,
        )
        _offer(task)
    return task


def _offer(task: VolunteerTask) -> int:
    point = task.household.location
    near = (
        Volunteer.objects.filter(consent_at__isnull=False)
        .exclude(household_id=task.household_id)
        .filter(household__location__distance_lte=(point, D(m=task.radius_m)))
        .annotate(distance=Distance("household__location", point))
        .order_by("distance", "pk")
    )
    matched = [v for v in near if task.skill in v.skills and v.distance.m <= v.max_distance_m]
    VolunteerOffer.objects.bulk_create(
        [VolunteerOffer(task=task, volunteer=v, distance_m=round(v.distance.m, 1)) for v in matched]
    )
    accounts = User.objects.filter(
        resident_id__in=[v.resident_id for v in matched], is_active=True
    ).values_list("pk", flat=True)
    record_events(
        user_ids=list(accounts),
        type="community.volunteer_task",
        data={"task_id": task.pk, "skill": task.skill},
    )
    return len(matched)


def _mine(user: User) -> Volunteer:
    resident = user.resident
    volunteer = Volunteer.objects.filter(resident=resident).first() if resident else None
    if volunteer is None:
        raise ApiError("permission_denied", status=403)
    return volunteer


def do_accept_task(*, user: User, task_id: int) -> VolunteerTask:
    """A volunteer the task was offered to takes it; the first one does (409 after)."""
    selectors.get_volunteer_task(user, task_id)
    volunteer = _mine(user)
    with transaction.atomic():
        task = VolunteerTask.objects.select_for_update().get(pk=task_id)
        if not VolunteerOffer.objects.filter(task=task, volunteer=volunteer).exists():
            raise ApiError("permission_denied", status=403)
        if volunteer.consent_at is None:
            raise ApiError("permission_denied", status=403)
        if task.state != VolunteerTask.State.OPEN:
            raise ApiError("volunteer_task_wrong_state", status=409)
        task.state = VolunteerTask.State.ACCEPTED
        task.volunteer = volunteer
        task.accepted_at = timezone.now()
        task.save(update_fields=["state", "volunteer", "accepted_at"])
    return task


def do_record_hours(*, user: User, task_id: int, hours: Decimal) -> VolunteerTask:
    """The volunteer who took the task records the hours it took."""
    selectors.get_volunteer_task(user, task_id)
    volunteer = _mine(user)
    if not MIN_HOURS <= hours <= MAX_HOURS or hours % Decimal("0.5"):
        raise _invalid("hours", "field_out_of_range")
    with transaction.atomic():
        task = VolunteerTask.objects.select_for_update().get(pk=task_id)
        if task.volunteer_id != volunteer.pk:
            raise ApiError("permission_denied", status=403)
        if task.state != VolunteerTask.State.ACCEPTED:
            raise ApiError("volunteer_task_wrong_state", status=409)
        task.state = VolunteerTask.State.DONE
        task.hours = hours
        task.hours_recorded_at = timezone.now()
        task.save(update_fields=["state", "hours", "hours_recorded_at"])
    return task


def do_confirm_hours(*, user: User, task_id: int) -> VolunteerTask:
    """The person helped (their household's account) or the grid's staff confirm the hours,
    once: the volunteer-time record (志愿服务时长) counts only confirmed hours."""
    selectors.get_volunteer_task(user, task_id)
    with transaction.atomic():
        task = VolunteerTask.objects.select_for_update().get(pk=task_id)
        if user.role == Role.RESIDENT and (
            user.resident is None or user.resident.household_id != task.household_id
        ):
            raise ApiError("permission_denied", status=403)
        if task.state != VolunteerTask.State.DONE:
            raise ApiError("volunteer_task_wrong_state", status=409)
        if task.confirmed_at is not None:
            raise ApiError("volunteer_hours_confirmed", status=409)
        task.confirmed_at = timezone.now()
        task.confirmed_by = user
        task.save(update_fields=["confirmed_at", "confirmed_by"])
    return task
