"""The SLA clock of a case in working seconds: started at submit, paused while material is
missing, stopped at the decision; a warning timer at 75 % and an overdue timer at 100 % on the
durable clock (handlers in backend/servicedesk/timers.py)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from backend.core import clock
from backend.servicedesk import events, selectors, workdays
from backend.servicedesk.models import Case

from .common import record_step

SLA_WARNING = "case.sla_warning"
SLA_OVERDUE = "case.sla_overdue"
WARN_AT = 0.75


def _arm(case: Case, now: datetime, calendar: workdays.Calendar | None = None) -> None:
    """(Re)compute due_at from what is left and set the warning and overdue timers."""
    calendar = calendar or workdays.Calendar()
    left = max(0, case.sla_budget_s - case.sla_used_s)
    case.due_at = workdays.add_working_seconds(now, left, calendar)
    key = str(case.pk)
    if case.warned_at is None:
        warn_left = max(0, int(case.sla_budget_s * WARN_AT) - case.sla_used_s)
        clock.schedule(
            kind=SLA_WARNING,
            key=key,
            due_at=workdays.add_working_seconds(now, warn_left, calendar),
        )
    if case.overdue_at is None:
        clock.schedule(kind=SLA_OVERDUE, key=key, due_at=case.due_at)


def start_clock(case: Case, now: datetime) -> None:
    case.sla_budget_s = case.item.time_limit_days * workdays.DAY
    case.sla_used_s = 0
    case.sla_running_since = now
    _arm(case, now)


def pause_clock(case: Case, now: datetime) -> None:
    if case.sla_running_since is None:
        return
    case.sla_used_s += workdays.working_seconds(case.sla_running_since, now)
    case.sla_running_since = None
    case.due_at = None
    clock.cancel(kind=SLA_WARNING, key=str(case.pk))
    clock.cancel(kind=SLA_OVERDUE, key=str(case.pk))


def resume_clock(case: Case, now: datetime) -> None:
    case.sla_running_since = now
    _arm(case, now)


def stop_clock(case: Case, now: datetime) -> None:
    if case.sla_running_since is not None:
        case.sla_used_s += workdays.working_seconds(case.sla_running_since, now)
        case.sla_running_since = None
    clock.cancel(kind=SLA_WARNING, key=str(case.pk))
    clock.cancel(kind=SLA_OVERDUE, key=str(case.pk))


def used_seconds(case: Case, now: datetime) -> int:
    running = workdays.working_seconds(case.sla_running_since, now) if case.sla_running_since else 0
    return case.sla_used_s + running


def sla_check(*, case_id: int, kind: str) -> None:
    """The warning and overdue timers' handler: acts only if the clock really got there."""
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("item", "resident", "queue_department")
        .filter(pk=case_id)
        .first()
    )
    if case is None or case.sla_running_since is None:
        return
    now = timezone.now()
    threshold = int(case.sla_budget_s * WARN_AT) if kind == SLA_WARNING else case.sla_budget_s
    used = used_seconds(case, now)
    if used + 1 < threshold:  # the calendar changed under the timer: re-arm
        clock.schedule(
            kind=kind,
            key=str(case.pk),
            due_at=workdays.add_working_seconds(now, threshold - used),
        )
        return
    case.updated_at = now
    if kind == SLA_WARNING and case.warned_at is None:
        case.warned_at = now
        case.save(update_fields=["warned_at", "updated_at"])
        record_step(case, "sla_warning", actor=None, data={"used_s": used, "budget_s": threshold})
        queue = selectors.queue_members(case)
        events.tell(case, type="case.sla_warning", urgent_to=queue, audience=events.staff(case))
    elif kind == SLA_OVERDUE and case.overdue_at is None:
        case.overdue_at = now
        case.save(update_fields=["overdue_at", "updated_at"])
        record_step(
            case, "overdue", actor=None, data={"used_s": used, "budget_s": case.sla_budget_s}
        )
        events.tell(
            case,
            type="case.overdue",
            urgent_to=selectors.supervisors(case),
            audience=events.staff(case),
        )
