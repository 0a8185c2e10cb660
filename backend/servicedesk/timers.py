"""Clock handlers of the service desk: the SLA warning (75 %) and the overdue escalation."""

from __future__ import annotations

from backend.core import clock
from backend.core.models import Timer

from . import actions


@clock.handles(actions.SLA_WARNING)
def sla_warning(timer: Timer) -> None:
    actions.sla_check(case_id=int(timer.key), kind=actions.SLA_WARNING)


@clock.handles(actions.SLA_OVERDUE)
def sla_overdue(timer: Timer) -> None:
    actions.sla_check(case_id=int(timer.key), kind=actions.SLA_OVERDUE)
