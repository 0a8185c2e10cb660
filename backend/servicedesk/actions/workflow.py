"""The workflow of a case: the transition table (from which states, to which, who may) and
one small function per step. `do_transition` locks the case, checks the table, runs the
step, and writes the new state, its timeline entry and its events in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone

from backend.accounts.models import BusinessLine, User
from backend.core.errors import ApiError
from backend.core.geo import Fence, Fix, judge
from backend.servicedesk import events, selectors
from backend.servicedesk.models import Case, CaseState, Department
from backend.territory.models import Household
from backend.visits.actions import do_raise_visit_task, fence_for
from backend.visits.models import TaskKind

from .common import locked, record_step, roles, route
from .sla import pause_clock, resume_clock, start_clock, stop_clock

S = CaseState
DELIVERY_WITHIN = timedelta(days=2)
DELIVERY_METHODS = ("in_person", "app", "sms", "pickup", "post")


@dataclass(frozen=True)
class StepRequest:
    """One call of do_transition: who acts, in which post, and what they sent."""

    user: User
    duty: str  # "A" for the queue, "B" for the field, "" otherwise
    now: datetime
    fix: Fix | None = None
    note: str = ""
    materials: list[str] | None = None
    reason: str = ""
    target_line: str = ""
    target_department_id: int | None = None
    delivery_method: str = ""


@dataclass
class Outcome:
    """What a step leaves for the timeline and the stream."""

    data: dict[str, Any] = field(default_factory=dict)
    urgent: list[int] = field(default_factory=list)  # pushed when their phone has no socket
    also: list[int] = field(default_factory=list)  # told besides the case's audience
    target: str = ""  # the new state, when the table leaves it to the step


def submit_case(
    case: Case, *, actor: User | None, now: datetime, fix: Fix | None = None, duty: str = ""
) -> None:
    """Send a case to its queue and start its clock; with nobody in the queue the supervisor
    hears at once, so that someone names one."""
    source = case.state
    case.state = S.SUBMITTED
    case.submitted_at = now
    case.updated_at = now
    start_clock(case, now)
    case.save()
    record_step(case, "submit", actor=actor, from_state=source, fix=fix, duty=duty)
    queue = selectors.queue_members(case)
    if not queue:
        record_step(case, "queue_empty", actor=None, data={"queue": case.queue_key})
        events.tell(case, urgent_to=selectors.supervisors(case))
    else:
        events.tell(case, urgent_to=queue)


def _filer_or_grid(case: Case) -> list[int]:
    return [uid for uid in (case.filed_by_id,) if uid] or selectors.grid_managers(case)


# -- one function per step -------------------------------------------------------------------


def _take(case: Case, r: StepRequest) -> Outcome:
    """accept, start: the officer takes the case."""
    case.assignee = r.user
    return Outcome()


def _request_material(case: Case, r: StepRequest) -> Outcome:
    if not r.materials:
        raise ApiError("validation_error", status=422, fields={"materials": "field_required"})
    case.material_list = r.materials
    case.paused_from = case.state
    pause_clock(case, r.now)
    return Outcome(data={"materials": r.materials}, urgent=_filer_or_grid(case))


def _supply_material(case: Case, r: StepRequest) -> Outcome:
    resume_clock(case, r.now)
    target = case.paused_from or S.ACCEPTED  # back where it was paused
    case.paused_from = ""
    return Outcome(
        data={"materials": case.material_list},
        urgent=selectors.queue_members(case),
        target=target,
    )


def _decide(case: Case, r: StepRequest) -> Outcome:
    case.decided_at = r.now
    stop_clock(case, r.now)
    return Outcome(urgent=_filer_or_grid(case))


def _approve(case: Case, r: StepRequest) -> Outcome:
    case.decision_reason = r.reason or r.note
    return _decide(case, r)


def _reject(case: Case, r: StepRequest) -> Outcome:
    if not r.reason.strip():
        raise ApiError("validation_error", status=422, fields={"reason": "field_required"})
    case.decision_reason = r.reason
    return _decide(case, r)


def _reassign(case: Case, r: StepRequest) -> Outcome:
    """Move a case to another queue. It must name the queue, and someone must work there."""
    also = selectors.queue_members(case)  # the queue it leaves hears where it went
    line, dept_id = r.target_line, r.target_department_id
    if not r.reason.strip():
        raise ApiError("validation_error", status=422, fields={"reason": "field_required"})
    if bool(line) == (dept_id is not None):
        raise ApiError(
            "reassign_target_required",
            status=422,
            fields={"target_line": "field_required", "target_department_id": "field_required"},
        )
    department = None
    if dept_id is not None:
        department = Department.objects.filter(pk=dept_id).first()
        if department is None or department.district_id not in (None, case.district_id):
            raise ApiError(
                "validation_error", status=422, fields={"target_department_id": "field_invalid"}
            )
    elif line not in BusinessLine.values or case.community_id is None:
        raise ApiError("validation_error", status=422, fields={"target_line": "field_invalid"})
    before = case.queue_key
    route(case, line=line, department=department)
    if case.queue_key == before:
        raise ApiError("reassign_same_queue", status=422, fields={"target_line": "field_invalid"})
    if not selectors.queue_members(case):
        raise ApiError("reassign_target_empty", status=409)
    case.assignee = None
    return Outcome(
        data={"from_queue": before, "to_queue": case.queue_key},
        urgent=selectors.queue_members(case),
        also=also,
    )


def within_geofence(*, household: Household | None, fix: Fix, fallback: Point | None) -> bool:
    """A hand delivery is checked like a visit's check-in: the community's fence
    (backend.visits.actions.fence_for) judged by the one rule (backend.core.geo) around the
    household, or around the case's own point (default fence) when it has no household."""
    if household is not None:
        place, fence = household.location, fence_for(household.grid.community_id)
    elif fallback is not None:
        place, fence = fallback, Fence()
    else:
        return False
    [verdict] = judge([(place, fix, fence)])
    return verdict.within


def _deliver(case: Case, r: StepRequest) -> Outcome:
    """The result reached the resident; in person (at the door) when the item requires it."""
    method = r.delivery_method or ("in_person" if case.item.in_person_delivery else "app")
    if method not in DELIVERY_METHODS:
        raise ApiError("validation_error", status=422, fields={"method": "field_invalid"})
    if case.item.in_person_delivery and method != "in_person":
        raise ApiError(
            "delivery_in_person_required", status=422, fields={"method": "field_invalid"}
        )
    data: dict[str, Any] = {"method": method}
    if method == "in_person":
        if r.fix is None:
            raise ApiError("validation_error", status=422, fields={"location": "field_required"})
        if not within_geofence(household=case.household, fix=r.fix, fallback=case.location):
            raise ApiError("checkin_too_far", status=422, fields={"location": "checkin_too_far"})
        data["checked_in"] = True
    case.delivered_at = r.now
    return Outcome(data=data)


def _close(case: Case, r: StepRequest) -> Outcome:
    case.closed_at = r.now
    return Outcome()


def _nothing(case: Case, r: StepRequest) -> Outcome:
    return Outcome()


@dataclass(frozen=True)
class Transition:
    sources: tuple[str, ...]
    target: str | None  # None: decided by the step (supply_material returns where it was)
    who: tuple[str, ...]  # "queue", "field", "resident", "supervisor"
    run: Callable[[Case, StepRequest], Outcome] = _nothing


TRANSITIONS: dict[str, Transition] = {
    # "submit" is written by submit_case (intake submits the same way); see do_transition.
    "submit": Transition((S.DRAFT,), S.SUBMITTED, ("field", "resident")),
    "accept": Transition((S.SUBMITTED,), S.ACCEPTED, ("queue",), _take),
    "request_material": Transition(
        (S.ACCEPTED, S.IN_PROGRESS), S.MATERIAL_NEEDED, ("queue",), _request_material
    ),
    "supply_material": Transition(
        (S.MATERIAL_NEEDED,), None, ("field", "resident"), _supply_material
    ),
    "start": Transition((S.ACCEPTED,), S.IN_PROGRESS, ("queue",), _take),
    "approve": Transition((S.IN_PROGRESS,), S.APPROVED, ("queue",), _approve),
    "reject": Transition((S.SUBMITTED, S.ACCEPTED, S.IN_PROGRESS), S.REJECTED, ("queue",), _reject),
    "reassign": Transition(
        (S.SUBMITTED, S.ACCEPTED, S.IN_PROGRESS), S.SUBMITTED, ("queue", "supervisor"), _reassign
    ),
    "deliver": Transition((S.APPROVED, S.REJECTED), S.DELIVERED, ("field", "queue"), _deliver),
    "close": Transition((S.DELIVERED,), S.CLOSED, ("field", "queue", "supervisor"), _close),
}


DECISIONS = ("approve", "reject")


def _own_case(user: User, case: Case) -> bool:
    return case.filed_by_id == user.pk or (
        user.resident_id is not None and case.resident_id == user.resident_id
    )


def _check(user: User, case: Case, action: str) -> tuple[Transition, str]:
    """The transition, and the post the user acts in ("A" for the queue, "B" for the field)."""
    transition = TRANSITIONS[action]
    if case.state not in transition.sources:
        raise ApiError("case_wrong_state", status=409)
    acting = roles(user, case) & set(transition.who)
    if not acting:
        raise ApiError("permission_denied", status=403)
    if action in DECISIONS and _own_case(user, case):
        # Separation of duties: whoever filed a case (or is its applicant) does not decide it,
        # even when they also hold the A post that handles its category.
        raise ApiError("case_own_decision", status=403)
    return transition, "A" if "queue" in acting else ("B" if "field" in acting else "")


def _hand_over(case: Case, now: datetime) -> None:
    """A decided case whose result goes back to the door: a delivery task on the grid
    worker's list."""
    if case.item.in_person_delivery and case.household:
        do_raise_visit_task(
            household=case.household,
            kind=TaskKind.DELIVERY,
            reason=f"送达{case.item.name_zh}结果（{case.number}）",
            due_at=now + DELIVERY_WITHIN,
            source_kind="case",
            source_ref=str(case.pk),
        )


def do_transition(
    *,
    user: User,
    case_id: int,
    action: str,
    fix: Fix | None = None,
    note: str = "",
    materials: list[str] | None = None,
    reason: str = "",
    target_line: str = "",
    target_department_id: int | None = None,
    delivery_method: str = "",
) -> Case:
    """One step of the workflow (see TRANSITIONS). 409 and nothing changed when the case is
    not in a state the action starts from."""
    with transaction.atomic():
        case = locked(user, case_id)
        transition, duty = _check(user, case, action)
        now = timezone.now()
        if action == "submit":
            if case.proxy and not case.consent_kind:
                raise ApiError("case_consent_missing", status=409)
            submit_case(case, actor=user, now=now, fix=fix, duty=duty)
            return case
        request = StepRequest(
            user=user,
            duty=duty,
            now=now,
            fix=fix,
            note=note,
            materials=materials,
            reason=reason,
            target_line=target_line,
            target_department_id=target_department_id,
            delivery_method=delivery_method,
        )
        source = case.state
        outcome = transition.run(case, request)
        case.state = transition.target or outcome.target
        case.updated_at = now
        case.save()
        if action in ("approve", "reject"):
            _hand_over(case, now)
        record_step(
            case,
            action,
            actor=user,
            from_state=source,
            fix=fix,
            note=reason if action in ("reject", "reassign") else note,
            data=outcome.data,
            duty=duty,
        )
        events.tell(case, urgent_to=outcome.urgent, also=outcome.also)
        events.tell_resident(case, action)
    return case


def do_confirm_consent(*, user: User, case_id: int) -> Case:
    """The resident confirms in the app that the worker may file for them."""
    with transaction.atomic():
        case = locked(user, case_id)
        if case.state != S.DRAFT:
            raise ApiError("case_wrong_state", status=409)
        if "resident" not in roles(user, case):
            raise ApiError("permission_denied", status=403)
        now = timezone.now()
        case.consent_kind, case.consent_at, case.updated_at = "in_app", now, now
        case.save(update_fields=["consent_kind", "consent_at", "updated_at"])
        record_step(case, "consent", actor=user, data={"kind": "in_app"})
        events.tell(case)
    return case
