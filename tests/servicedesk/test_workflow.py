"""The workflow's rules: every illegal transition is 409 and changes nothing; a reassignment
must name a queue someone works; who may do what."""

from __future__ import annotations

from typing import Any

import pytest
from django.forms.models import model_to_dict

from backend.alerts.actions import Fix
from backend.core.errors import ApiError
from backend.core.models import StreamEvent, Timer
from backend.servicedesk import actions
from backend.servicedesk.actions import TRANSITIONS
from backend.servicedesk.models import Case, CaseState, CaseStep, ServiceItem
from tests.conftest import CaptureEvents

from .conftest import Desk, file_case

pytestmark = pytest.mark.django_db

DOOR = Fix(30.925, 117.805, 5)

# How to bring a fresh case to each state: (action, who) steps after filing a proxy draft.
PATHS: dict[str, list[tuple[str, str]]] = {
    CaseState.DRAFT: [],
    CaseState.SUBMITTED: [("submit", "worker")],
    CaseState.ACCEPTED: [("submit", "worker"), ("accept", "officer")],
    CaseState.MATERIAL_NEEDED: [
        ("submit", "worker"),
        ("accept", "officer"),
        ("request_material", "officer"),
    ],
    CaseState.IN_PROGRESS: [("submit", "worker"), ("accept", "officer"), ("start", "officer")],
    CaseState.APPROVED: [
        ("submit", "worker"),
        ("accept", "officer"),
        ("start", "officer"),
        ("approve", "officer"),
    ],
    CaseState.REJECTED: [("submit", "worker"), ("reject", "officer")],
    CaseState.DELIVERED: [
        ("submit", "worker"),
        ("reject", "officer"),
        ("deliver", "worker"),
    ],
    CaseState.CLOSED: [
        ("submit", "worker"),
        ("reject", "officer"),
        ("deliver", "worker"),
        ("close", "worker"),
    ],
}
ARGS: dict[str, dict[str, Any]] = {
    "request_material": {"materials": ["户口簿"]},
    "reject": {"reason": "不符合条件"},
    "reassign": {"reason": "应由民政办理", "target_line": "civil_affairs"},
    "deliver": {"fix": DOOR},
}


def _bring(desk: Desk, state: str) -> Case:
    w = desk.world
    case = file_case(desk, proxy=True)
    Case.objects.filter(pk=case.pk).update(consent_kind="in_app")
    who = {"worker": w.worker_a, "officer": w.officer_elderly_1}
    for action, actor in PATHS[state]:
        actions.do_transition(
            user=who[actor], case_id=case.pk, action=action, **ARGS.get(action, {})
        )
    case.refresh_from_db()
    assert case.state == state
    return case


def _snapshot(case: Case) -> tuple[Any, ...]:
    case.refresh_from_db()
    return (
        model_to_dict(case),
        case.updated_at,
        CaseStep.objects.filter(case=case).count(),
        list(Timer.objects.filter(key=str(case.pk)).values().order_by("kind")),
        StreamEvent.objects.count(),
    )


def test_every_illegal_transition_is_refused_with_409_and_changes_nothing(desk: Desk) -> None:
    w = desk.world
    refused = 0
    for state in PATHS:
        case = _bring(desk, state)
        for action, transition in TRANSITIONS.items():
            if state in transition.sources:
                continue
            before = _snapshot(case)
            # The supervisor may see every case of the community; the state decides first.
            for user in (w.supervisor_1, w.worker_a):
                with pytest.raises(ApiError) as exc:
                    actions.do_transition(
                        user=user, case_id=case.pk, action=action, **ARGS.get(action, {})
                    )
                assert (exc.value.status, exc.value.code) == (409, "case_wrong_state"), (
                    state,
                    action,
                )
            assert _snapshot(case) == before, (state, action)
            refused += 1
    assert refused >= 60


def test_illegal_transition_over_the_api_is_409_with_a_message(desk: Desk, client_for: Any) -> None:
    case = _bring(desk, CaseState.SUBMITTED)
    before = _snapshot(case)
    response = client_for(desk.world.officer_elderly_1).post(
        f"/api/v1/cases/{case.pk}/approve", {}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "case_wrong_state"
    assert "nothing was changed" in response.json()["error"]["message"]
    assert _snapshot(case) == before


def test_a_reassignment_must_name_its_target(
    desk: Desk, client_for: Any, capture_events: CaptureEvents
) -> None:
    w = desk.world
    case = _bring(desk, CaseState.ACCEPTED)
    officer = client_for(w.officer_elderly_1)
    path = f"/api/v1/cases/{case.pk}/reassign"
    before = _snapshot(case)

    nowhere = officer.post(path, {"reason": "不归我们管"})
    assert nowhere.status_code == 422
    assert nowhere.json()["error"]["code"] == "reassign_target_required"
    both = officer.post(
        path,
        {"reason": "x", "target_line": "health", "target_department_id": desk.department.pk},
    )
    assert both.json()["error"]["code"] == "reassign_target_required"
    no_reason = officer.post(path, {"reason": "", "target_line": "civil_affairs"})
    assert no_reason.status_code == 422
    # Nobody works housing in community 1: that would be a bounce to nobody.
    empty = officer.post(path, {"reason": "住房问题", "target_line": "housing"})
    assert empty.status_code == 409 and empty.json()["error"]["code"] == "reassign_target_empty"
    same = officer.post(path, {"reason": "x", "target_line": "elderly_care"})
    assert same.status_code == 422
    assert _snapshot(case) == before

    with capture_events() as events:
        moved = officer.post(
            path, {"reason": "医保报销归区医保局", "target_department_id": desk.department.pk}
        )
    assert moved.status_code == 200, moved.content
    assert moved.json()["state"] == "submitted"
    assert moved.json()["queue"] == f"dept:{desk.department.pk}"
    (new_work,) = events.of(desk.dept_officer, "case.updated")
    assert new_work.urgent  # new work for the department
    (left,) = events.of(w.officer_elderly_1, "case.updated")
    assert left.data["queue"] == f"dept:{desk.department.pk}" and not left.urgent
    step = CaseStep.objects.filter(case=case, kind="reassign").get()
    assert step.note == "医保报销归区医保局" and step.actor == w.officer_elderly_1
    # The old queue no longer sees it; the department does and can accept it.
    assert officer.get(f"/api/v1/cases/{case.pk}").status_code == 404
    dept = client_for(desk.dept_officer)
    assert dept.post(f"/api/v1/cases/{case.pk}/accept", {}).status_code == 200


def test_only_the_queue_decides_and_only_the_field_submits(desk: Desk, client_for: Any) -> None:
    w = desk.world
    case = _bring(desk, CaseState.SUBMITTED)
    worker = client_for(w.worker_a)
    denied = worker.post(f"/api/v1/cases/{case.pk}/accept", {})
    assert denied.status_code == 403
    draft = _bring(desk, CaseState.DRAFT)
    assert (
        client_for(w.officer_elderly_1).post(f"/api/v1/cases/{draft.pk}/submit", {}).status_code
        == 403
    )


def test_department_items_go_to_the_department_queue(desk: Desk, client_for: Any) -> None:
    case = file_case(desk, item=desk.reimbursement)
    assert case.queue_key == f"dept:{desk.department.pk}"
    listed = client_for(desk.dept_officer).get("/api/v1/cases", {"view": "queue"}).json()
    assert [c["id"] for c in listed["items"]] == [case.pk]
    assert listed["items"][0]["queue_department"] == "t-medical"


def test_a_case_for_a_queue_nobody_works_alerts_the_supervisor(
    desk: Desk, capture_events: CaptureEvents
) -> None:
    housing = ServiceItem.objects.create(
        code="t-housing",
        name_zh="住房租赁补贴申请",
        name_en="Housing rental subsidy",
        category="housing",
        line="housing",
        time_limit_days=20,
    )
    with capture_events() as events:
        case = file_case(desk, item=housing)
    assert case.state == "submitted"  # the resident is at the door: taken in all the same
    assert CaseStep.objects.filter(case=case, kind="queue_empty").exists()
    (told,) = events.of(desk.world.supervisor_1, "case.updated")
    assert told.urgent and told.data["number"] == case.number
