"""No self-approval (issue 11): whoever filed a case does not decide it, even when their A
post handles its category."""

from __future__ import annotations

import pytest

from backend.core.errors import ApiError
from backend.servicedesk import actions
from backend.servicedesk.models import Case, CaseState
from tests.servicedesk.conftest import Desk, file_case

pytestmark = pytest.mark.django_db


def _in_progress(desk: Desk, filer: object) -> Case:
    officer = desk.world.officer_elderly_1
    case = file_case(desk, by=filer)  # type: ignore[arg-type]
    assert case.state == CaseState.SUBMITTED  # filed at the front desk
    for action in ("accept", "start"):
        actions.do_transition(user=officer, case_id=case.pk, action=action)
    case.refresh_from_db()
    assert case.state == CaseState.IN_PROGRESS
    return case


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_an_officer_cannot_decide_a_case_they_filed(desk: Desk, decision: str) -> None:
    officer = desk.world.officer_elderly_1
    case = _in_progress(desk, officer)
    with pytest.raises(ApiError) as refused:
        actions.do_transition(user=officer, case_id=case.pk, action=decision, reason="x")
    assert (refused.value.code, refused.value.status) == ("case_own_decision", 403)
    case.refresh_from_db()
    assert case.state == CaseState.IN_PROGRESS
    assert not case.steps.filter(kind=decision).exists()


def test_the_same_officer_decides_a_case_someone_else_filed(desk: Desk) -> None:
    case = _in_progress(desk, desk.world.worker_a)
    actions.do_transition(user=desk.world.officer_elderly_1, case_id=case.pk, action="approve")
    case.refresh_from_db()
    assert case.state == CaseState.APPROVED
