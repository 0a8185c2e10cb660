"""What the service-desk actions share: the case locked for a step, the caller's roles on it,
its timeline step and its routing to a queue."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from backend.accounts.models import GridAssignment, Role, User
from backend.core import observe
from backend.core.geo import Fix
from backend.servicedesk import selectors
from backend.servicedesk.models import Case, CaseStep, Department


def locked(user: User, case_id: int) -> Case:
    """The case in the user's scope, locked (SELECT ... FOR UPDATE). Call inside a transaction."""
    selectors.get_case(user, case_id)  # 404 when out of scope, before taking any lock
    observe.bind(case_id=case_id)
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("item", "resident", "household", "queue_department", "community")
        .get(pk=case_id)
    )


def roles(user: User, case: Case) -> set[str]:
    """The parts the user plays on the case: "resident", "queue", "field", "supervisor"."""
    found: set[str] = set()
    if user.role == Role.RESIDENT:
        if user.resident_id is not None and user.resident_id == case.resident_id:
            found.add("resident")
        return found
    if case.queue_key and case.queue_key in selectors.queue_keys(user):
        found.add("queue")
    if user.pk == case.filed_by_id or (
        case.grid_id is not None
        and GridAssignment.objects.filter(user=user, grid_id=case.grid_id).exists()
    ):
        found.add("field")
    if user.role in (Role.SUPERVISOR, Role.DISTRICT_ADMIN):
        found.add("supervisor")  # the scope check already kept them to their community
    return found


def record_step(
    case: Case,
    kind: str,
    *,
    actor: User | None,
    from_state: str = "",
    fix: Fix | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
    duty: str = "",
) -> CaseStep:
    """One entry on the case's timeline (a transition when `from_state` is given)."""
    return CaseStep.objects.create(
        duty=duty,
        case=case,
        kind=kind,
        from_state=from_state,
        to_state=case.state if from_state else "",
        actor=actor,
        at=timezone.now(),
        location=fix.point() if fix else None,
        accuracy_m=fix.accuracy_m if fix else None,
        note=note,
        data=data or {},
    )


def route(case: Case, *, line: str = "", department: Department | None = None) -> None:
    """Point the case at a department's queue, else at the business line's in its community."""
    if department is not None:
        case.queue_line, case.queue_department = "", department
        case.queue_key = selectors.department_queue_key(department.pk)
    elif line and case.community_id is not None:
        case.queue_line, case.queue_department = line, None
        case.queue_key = selectors.line_queue_key(case.community_id, line)
    else:
        case.queue_line, case.queue_department, case.queue_key = line, None, ""
