"""Where visits meet the service desk (backend.servicedesk registers its opener at start-up,
see backend/servicedesk/referrals.py; visits do not import the service desk).

- A finding with action "service_case" calls the registered case opener inside the visit's
  transaction; until the service desk registers one (in its AppConfig.ready), the finding waits
  with case_state "awaiting_service_desk" and `pending_case_findings()` lists them for a backfill.
- When a case's result is ready for hand delivery, the service desk calls
  `backend.visits.actions.do_raise_visit_task(kind=TaskKind.DELIVERY, source_kind="case",
  source_ref=str(case.pk), ...)`; it lands on the grid worker's list and phone like any task.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import QuerySet

from .models import VisitFinding

CaseOpener = Callable[[VisitFinding], str]  # returns the case's reference
_opener: CaseOpener | None = None


def register_case_opener(opener: CaseOpener | None) -> None:
    global _opener
    _opener = opener


def open_case(finding: VisitFinding) -> None:
    """Open a case for the finding now if the service desk is there, else leave it waiting."""
    if _opener is None:
        finding.case_state = VisitFinding.CaseState.AWAITING
        return
    finding.case_ref = _opener(finding)
    finding.case_state = VisitFinding.CaseState.OPENED


def pending_case_findings() -> QuerySet[VisitFinding]:
    return VisitFinding.objects.filter(case_state=VisitFinding.CaseState.AWAITING).select_related(
        "visit__household"
    )
