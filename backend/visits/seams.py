"""Where visits meet the service desk (backend.servicedesk registers its opener at start-up,
see backend/servicedesk/referrals.py; visits do not import the service desk).

- A finding with action "service_case" calls the case opener the service desk registers in
  its AppConfig.ready, inside the visit's transaction.
- When a case's result is ready for hand delivery, the service desk calls
  `backend.visits.actions.do_raise_visit_task(kind=TaskKind.DELIVERY, source_kind="case",
  source_ref=str(case.pk), ...)`; it lands on the grid worker's list and phone like any task.
"""

from __future__ import annotations

from collections.abc import Callable

from .models import VisitFinding

CaseOpener = Callable[[VisitFinding], str]  # returns the case's reference
_opener: CaseOpener | None = None


def register_case_opener(opener: CaseOpener) -> None:
    global _opener
    _opener = opener


def open_case(finding: VisitFinding) -> None:
    """Open a case for the finding now (the service desk is an installed app, so its opener
    is registered before any request or timer runs)."""
    if _opener is None:
        raise RuntimeError("no case opener registered: is backend.servicedesk installed?")
    finding.case_ref = _opener(finding)
    finding.case_state = VisitFinding.CaseState.OPENED
