"""Scope: each post sees what it is entitled to; out of scope is 404, identical to a missing id.

The BOLA matrix is built from the OpenAPI schemas of both NinjaAPIs (the mobile API and the
board's), so a new operation that takes an id fails the suite until it is covered here.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from backend.alerts.actions import do_raise_alert
from backend.alerts.devices import do_register_device
from backend.alerts.models import AlertStep
from backend.audit.models import AuditEvent
from backend.community.actions import (
    HearingDraft,
    NeedIn,
    NoticeDraft,
    PollDraft,
    VolunteerIn,
    do_add_attachment,
    do_create_group,
    do_create_hearing,
    do_create_notice,
    do_create_poll,
    do_create_volunteer_task,
    do_invite,
    do_open_poll,
    do_propose,
    do_propose_topic,
    do_publish_notice,
    do_register_volunteer,
)
from backend.community.area import AreaIn
from backend.community.models import SocialOrganisation
from backend.servicedesk.actions import do_file_case
from backend.servicedesk.models import ServiceItem
from backend.visits.actions import VisitRecord, derive_due_visits, do_sync_visits
from backend.visits.models import Visit
from board.api import api as board_api
from mobile_api.api import api
from tests.assessment.fixtures import bola
from tests.board.conftest import BoardClient, enrol
from tests.community.conftest import objection_item
from tests.conftest import ApiClient, World

pytestmark = pytest.mark.django_db

MISSING_ID = 987_654_321


@dataclass(frozen=True)
class Case:
    """Who calls, an object they may reach, and one of the same kind they may not."""

    caller: str
    own: Callable[[Any], Any]
    theirs: Callable[[Any], Any]
    missing: Any = MISSING_ID


# Path parameters that name an object of a grid or a community.
PATH_IDS: dict[str, Case] = {
    "grid_id": Case("worker_a", lambda w: w.grid_a.pk, lambda w: w.grid_b.pk),
    "household_id": Case("worker_a", lambda w: w.household_a.pk, lambda w: w.household_b.pk),
    "resident_id": Case("worker_a", lambda w: w.resident_a.pk, lambda w: w.resident_b.pk),
    "alert_id": Case("worker_a", lambda w: w.alert_a.pk, lambda w: w.alert_b.pk),
    # Devices are managed by supervisors: community 1's may not touch community 2's.
    "device_id": Case(
        "supervisor_1", lambda w: "PENDANT-A", lambda w: "PENDANT-C", missing="NO-SUCH-DEVICE"
    ),
    "visit_uuid": Case(
        "worker_a",
        lambda w: w.visit_a.client_uuid,
        lambda w: w.visit_b.client_uuid,
        missing=uuid.UUID(int=MISSING_ID),
    ),
    # Service-desk cases: worker A filed case A (grid A); worker B filed case B (grid B).
    "case_id": Case("worker_a", lambda w: w.case_a.pk, lambda w: w.case_b.pk),
    # Assessment: a worker reaches their own card, not a colleague's of the same community;
    # a supervisor the periods and community of their cards, not another district's or
    # community's; a resident answers their own follow-up only.
    "scorecard_id": Case("worker_a", lambda w: w.card_a.pk, lambda w: w.card_b.pk),
    "period_id": Case("supervisor_1", lambda w: w.period.pk, lambda w: w.far_period.pk),
    "community_id": Case("supervisor_1", lambda w: w.c1.pk, lambda w: w.c2.pk),
    "appeal_id": Case("supervisor_1", lambda w: w.appeal_a.pk, lambda w: w.appeal_c2.pk),
    "follow_up_id": Case("resident_user_a", lambda w: w.follow_up_a.pk, lambda w: w.follow_up_b.pk),
    # Community life: grid A's notice, poll and hearing; community 2's (the district's).
    "notice_id": Case("worker_a", lambda w: w.notice_a.pk, lambda w: w.notice_c.pk),
    "attachment_id": Case("worker_a", lambda w: w.attachment_a.pk, lambda w: w.attachment_c.pk),
    "poll_id": Case("worker_a", lambda w: w.poll_a.pk, lambda w: w.poll_c.pk),
    "hearing_id": Case("worker_a", lambda w: w.hearing_a.pk, lambda w: w.hearing_c.pk),
    "task_id": Case("worker_a", lambda w: w.task_a.pk, lambda w: w.task_c.pk),
    "group_id": Case("worker_a", lambda w: w.group_a.pk, lambda w: w.group_c.pk),
    "proposal_id": Case("worker_a", lambda w: w.proposal_a.pk, lambda w: w.proposal_c.pk),
    "topic_id": Case("worker_a", lambda w: w.topic_a.pk, lambda w: w.topic_c.pk),
}
# The board's operations, called by a supervisor logged in to the board (session + TOTP):
# community 1's supervisor may not reach community 2's alert.
BOARD = "/board/api/"
BOARD_PATH_IDS: dict[str, Case] = {
    "alert_id": Case("supervisor_1", lambda w: w.alert_a.pk, lambda w: w.alert_c.pk),
}


def path_ids(path: str) -> dict[str, Case]:
    return BOARD_PATH_IDS if path.startswith(BOARD) else PATH_IDS


# Query parameters that take such an id.
QUERY_IDS: dict[str, Case] = {
    "grid": PATH_IDS["grid_id"],
    "household": PATH_IDS["household_id"],
}
# List operations that return objects of grids: what grid B's objects look like in them.
LISTS: dict[str, Callable[[Any, Any], tuple[set[int], set[int]]]] = {
    "/api/v1/grids": lambda w, body: ({f["id"] for f in body["features"]}, {w.grid_b.pk}),
    "/api/v1/households": lambda w, body: ({i["id"] for i in body["items"]}, {w.household_b.pk}),
    "/api/v1/residents": lambda w, body: ({i["id"] for i in body["items"]}, {w.resident_b.pk}),
    "/api/v1/alerts": lambda w, body: ({i["id"] for i in body["items"]}, {w.alert_b.pk}),
    "/api/v1/visits": lambda w, body: ({i["id"] for i in body["items"]}, {w.visit_b.pk}),
    "/api/v1/visits/today": lambda w, body: (
        {s["household"]["id"] for s in body["stops"]},
        {w.household_b.pk, w.household_c.pk},
    ),
    "/api/v1/visits/coverage": lambda w, body: (
        {g["grid_id"] for g in body["grids"]} | {u["user_id"] for u in body["workers"]},
        {w.grid_b.pk, w.grid_c.pk, w.worker_b.pk},
    ),
    "/api/v1/cases": lambda w, body: ({i["id"] for i in body["items"]}, {w.case_b.pk}),
    "/api/v1/assessment/scorecards": lambda w, body: ({c["id"] for c in body}, {w.card_b.pk}),
    "/api/v1/assessment/periods": lambda w, body: ({p["id"] for p in body}, {w.far_period.pk}),
    "/api/v1/assessment/follow-ups": lambda w, body: (
        {f["id"] for f in body},
        {w.door_b.pk, w.follow_up_a.pk, w.follow_up_b.pk},
    ),
    "/api/v1/community/notices": lambda w, body: (
        {i["id"] for i in body["items"]},
        {w.notice_c.pk, w.hearing_c.invitation_id},
    ),
    "/api/v1/community/polls": lambda w, body: ({i["id"] for i in body["items"]}, {w.poll_c.pk}),
    "/api/v1/community/hearings": lambda w, body: (
        {i["id"] for i in body["items"]},
        {w.hearing_c.pk},
    ),
    "/api/v1/community/volunteers": lambda w, body: (
        {i["id"] for i in body["items"]},
        {w.volunteer_c.pk},
    ),
    "/api/v1/community/organisations": lambda w, body: (
        {i["id"] for i in body["items"]},
        {w.organisation_c.pk},
    ),
    "/api/v1/community/groups": lambda w, body: ({i["id"] for i in body["items"]}, {w.group_c.pk}),
    "/api/v1/community/topics": lambda w, body: ({i["id"] for i in body["items"]}, {w.topic_c.pk}),
    "/api/v1/community/volunteer-tasks": lambda w, body: (
        {i["id"] for i in body["items"]},
        {w.task_c.pk},
    ),
    # the board's, seen by community 1's supervisor: nothing of community 2
    "/board/api/state": lambda w, body: ({a["alert_id"] for a in body["alerts"]}, {w.alert_c.pk}),
    "/board/api/grids": lambda w, body: ({f["id"] for f in body["features"]}, {w.grid_c.pk}),
    "/board/api/households": lambda w, body: (
        {h["id"] for h in body["items"]},
        {w.household_c.pk},
    ),
    "/board/api/panels": lambda w, body: ({g["grid_id"] for g in body["coverage"]}, {w.grid_c.pk}),
    "/board/api/assessment": lambda w, body: (
        {r["community_id"] for r in body["ranking"]} | {t["community_id"] for t in body["trend"]},
        {w.c2.pk},
    ),
}
LIST_QUERIES: dict[str, dict[str, Any]] = {
    "/board/api/households": {"bbox": "117.79,30.91,117.84,30.94"},  # all three grids
    # the community scheme: the bola fixture has both communities' cards (community 2's hidden)
    "/board/api/assessment": {"scheme": "community"},
}
# A valid body for operations that need one, so that scope, not validation, answers.
BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "/api/v1/residents/{resident_id}/alerts": lambda w: {
        "client_alert_id": str(uuid.uuid4()),
        "kind": "help",
    },
    "/api/v1/alerts/{alert_id}/arrive": lambda w: {"location": {"lat": 30.92, "lon": 117.8}},
    "/api/v1/alerts/{alert_id}/resolve": lambda w: {"disposition": "other"},
    "/api/v1/cases/{case_id}/request-material": lambda w: {"materials": ["户口簿"]},
    "/api/v1/cases/{case_id}/reject": lambda w: {"reason": "不符合条件"},
    "/api/v1/cases/{case_id}/reassign": lambda w: {
        "reason": "应由民政办理",
        "target_line": "civil_affairs",
    },
    "/api/v1/cases/{case_id}/rating": lambda w: {"score": 5},
    "/api/v1/cases/{case_id}/comments": lambda w: {"text": "已电话联系家属"},
    "/api/v1/assessment/scorecards/{scorecard_id}/self-review": lambda w: {"comment": "自评"},
    "/api/v1/assessment/scorecards/{scorecard_id}/appeals": lambda w: {"text": "申诉"},
    "/api/v1/assessment/scorecards/{scorecard_id}/leader-score": lambda w: {
        "score": 90,
        "reason": "工作扎实",
    },
    "/api/v1/assessment/appeals/{appeal_id}/decision": lambda w: {"change": False},
    "/api/v1/assessment/follow-ups/{follow_up_id}/answer": lambda w: {"score": 5},
    "/api/v1/community/notices/{notice_id}/told": lambda w: {"household_id": w.household_a.pk},
    "/api/v1/community/notices/{notice_id}/objections": lambda w: {
        "text": "补偿标准有异议",
        "resident_id": w.resident_a.pk,
    },
    "/api/v1/community/polls/{poll_id}/votes": lambda w: {
        # the anonymous test fills bodies from the bare world (no poll): any id will do there
        "option_id": w.poll_a.options.all()[0].pk if hasattr(w, "poll_a") else 1
    },
    "/api/v1/community/hearings/{hearing_id}/registrations": lambda w: {
        "household_id": w.household_a.pk
    },
    "/api/v1/community/hearings/{hearing_id}/check-ins": lambda w: {
        "household_id": w.household_a.pk
    },
    "/api/v1/community/hearings/{hearing_id}/opinions": lambda w: {
        "text": "希望就近安置",
        "via": "door",
        "resident_id": w.resident_a.pk,
    },
    "/api/v1/community/hearings/{hearing_id}/conclude": lambda w: {
        "minutes": "会议纪要",
        "outcome": "结果",
    },
    "/api/v1/community/volunteer-tasks/{task_id}/hours": lambda w: {"hours": "1.5"},
    "/api/v1/community/groups/{group_id}/members": lambda w: {"resident_id": w.resident_a.pk},
    "/api/v1/community/groups/{group_id}/meetings": lambda w: {
        "held_at": "2026-11-30T19:00:00+08:00",
        "place": "架空层",
        "agenda": "议程",
    },
    "/api/v1/community/groups/{group_id}/proposals": lambda w: {"title": "议题", "text": "内容"},
    "/api/v1/community/groups/{group_id}/proposals/{proposal_id}/decision": lambda w: {
        "take_up": False
    },
    "/api/v1/community/topics/{topic_id}/supports": lambda w: {"resident_id": w.resident_a.pk},
    "/api/v1/community/topics/{topic_id}/reject": lambda w: {"reason": "不属于议事范围"},
    "/api/v1/community/topics/{topic_id}/poll": lambda w: {
        "options": ["同意", "不同意"],
        "closes_at": (timezone.now() + timedelta(days=3)).isoformat(),
    },
    "/api/v1/community/topics/{topic_id}/hearing": lambda w: {
        "place": "居委会",
        "meeting_at": (timezone.now() + timedelta(days=3)).isoformat(),
    },
    "/board/api/alerts/{alert_id}/assign": lambda w: {"assignee_id": w.worker_a.pk},
    "/board/api/alerts/{alert_id}/notes": lambda w: {"note": "家属已在路上"},
}
# Signed device operations: a device reaches only its own resident's alerts
# (tests/alerts/test_alerts.py::test_device_cancel_only_its_own_alert).
DEVICE_OPS = {
    ("post", "/api/v1/device/alerts"),
    ("post", "/api/v1/device/heartbeat"),
    ("post", "/api/v1/device/alerts/{alert_id}/cancel"),
}
# GET operations that carry nothing of other grids.
NOT_GRID_DATA = {"/api/v1/me", "/api/v1/health", "/api/v1/health/live", "/api/v1/service-items"}
ANONYMOUS_ALLOWED = {
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("get", "/api/v1/health"),
    ("get", "/api/v1/health/live"),  # the liveness probe (infra/k8s)
}
# Providers' callbacks log in with the secret of their URL: without it, 403 callback_forbidden.
PROVIDER_CALLBACKS = {
    ("post", "/api/v1/notify/callbacks/aliyun/sms"),
    ("post", "/api/v1/notify/callbacks/aliyun/voice"),
    ("post", "/api/v1/notify/callbacks/tencent/sms"),
    ("post", "/api/v1/notify/callbacks/aliyun/sms-up"),
    ("post", "/api/v1/notify/callbacks/tencent/sms-reply"),
}


def community_life(world: World) -> dict[str, Any]:
    """A published notice (with a PDF attachment), an open poll, an invited hearing, a
    volunteer, a social organisation, a volunteer task, a group with a proposal and a
    resident's topic for grid A (community 1's staff) and for community 2 (the district
    administrator)."""
    objection_item()
    made: dict[str, Any] = {}
    pdf = b"%PDF-1.4\n%%EOF\n"
    for suffix, author, area in (
        ("a", world.supervisor_1, AreaIn(kind="grids", ids=(world.grid_a.pk,))),
        ("c", world.admin, AreaIn(kind="community", community_id=world.c2.pk)),
    ):
        draft = NoticeDraft(kind="affairs", title="公示", body="内容", area=area)
        notice = do_create_notice(user=author, draft=draft)
        made[f"attachment_{suffix}"] = do_add_attachment(
            user=author, notice_id=notice.pk, data=pdf, filename="plan.pdf"
        )
        made[f"notice_{suffix}"] = do_publish_notice(user=author, notice_id=notice.pk)
        soon = timezone.now() + timedelta(days=3)
        poll = do_create_poll(
            user=author,
            draft=PollDraft(
                title="表决", question="是否同意", options=("是", "否"), closes_at=soon, area=area
            ),
        )
        made[f"poll_{suffix}"] = do_open_poll(user=author, poll_id=poll.pk)
        hearing = do_create_hearing(
            user=author,
            draft=HearingDraft(
                title="听证", topic="改造", place="会议室", meeting_at=soon, area=area
            ),
        )
        made[f"hearing_{suffix}"] = do_invite(user=author, hearing_id=hearing.pk)
    for suffix, staff, resident, household in (
        ("a", world.worker_a, world.resident_a, world.household_a),
        ("c", world.admin, world.resident_c, world.household_c),
    ):
        made[f"volunteer_{suffix}"] = do_register_volunteer(
            user=staff, data=VolunteerIn(skills=("call",), consent=True, resident_id=resident.pk)
        )
        made[f"organisation_{suffix}"] = SocialOrganisation.objects.create(
            community=household.grid.community, name="夕阳红志愿服务队", kind="volunteer_team"
        )
        need = NeedIn(
            household_id=household.pk,
            skill="call",
            description="每周电话问候",
            due_at=timezone.now() + timedelta(days=7),
        )
        made[f"task_{suffix}"] = do_create_volunteer_task(user=staff, need=need)
        group = do_create_group(user=staff, grid_id=household.grid_id, name="自治小组")
        made[f"group_{suffix}"] = group
        made[f"proposal_{suffix}"] = do_propose_topic(
            user=staff, group_id=group.pk, title="议题", text="内容"
        )
        made[f"topic_{suffix}"] = do_propose(
            user=staff, title="加装充电桩", text="东门车棚", resident_id=resident.pk
        )
    return made


@pytest.fixture
def scoped(world: World, settings: Any, tmp_path: Any) -> SimpleNamespace:
    """The world plus an alert in each of grid A, grid B and community 2, a device in grid A
    and in community 2, and community life (`community_life`)."""
    settings.MEDIA_ROOT = tmp_path
    with transaction.atomic():
        alert_a = do_raise_alert(
            resident=world.resident_a, kind="help", source="worker", raised_by=world.worker_a
        )
        alert_b = do_raise_alert(
            resident=world.resident_b, kind="help", source="worker", raised_by=world.worker_b
        )
        alert_c = do_raise_alert(resident=world.resident_c, kind="help", source="worker")
    do_register_device(device_id="PENDANT-A", kind="pendant", resident=world.resident_a)
    do_register_device(device_id="PENDANT-C", kind="pendant", resident=world.resident_c)
    derive_due_visits()  # a routine task for every household (none visited yet)
    visits = {}
    for name, worker, household in (
        ("visit_a", world.worker_a, world.household_a),
        ("visit_b", world.worker_b, world.household_b),
    ):
        record = VisitRecord(
            client_uuid=uuid.uuid4(),
            household_id=household.pk,
            visited_at=timezone.now(),
            present=False,  # nobody home: the routine tasks stay on the lists
        )
        do_sync_visits(worker=worker, records=[record])
        visits[name] = Visit.objects.get(client_uuid=record.client_uuid)
    item, _ = ServiceItem.objects.get_or_create(
        code="bola-allowance",
        defaults={"name_zh": "高龄津贴", "name_en": "Old-age allowance", "category": "elderly"}
        | {"line": "elderly_care", "time_limit_days": 20},
    )
    with transaction.atomic():
        case_a = do_file_case(
            item=item, channel="doorstep", filed_by=world.worker_a, resident=world.resident_a
        )
        case_b = do_file_case(
            item=item, channel="doorstep", filed_by=world.worker_b, resident=world.resident_b
        )
    return SimpleNamespace(
        **vars(world),
        **bola(world),
        **community_life(world),
        alert_a=alert_a,
        alert_b=alert_b,
        alert_c=alert_c,
        case_a=case_a,
        case_b=case_b,
        **visits,
    )


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation of both APIs, from their OpenAPI documents."""
    return [
        (method, path, op)
        for ninja_api, prefix in ((api, "/api/v1"), (board_api, "/board/api"))
        for path, item in ninja_api.get_openapi_schema(path_prefix=prefix)["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _params(op: dict[str, Any], where: str) -> list[str]:
    return [p["name"] for p in op.get("parameters", []) if p["in"] == where]


def _call(
    client: ApiClient | BoardClient,
    method: str,
    path: str,
    query: dict[str, Any] | None = None,
    template: str = "",
    world: Any = None,
) -> Any:
    if method == "get":
        return client.get(path, query or {})
    body = BODIES[template](world) if template in BODIES else {}
    # the board's writes carry the page's CSRF token, as board.js sends it
    csrf = {"X-CSRFToken": client.csrf} if isinstance(client, BoardClient) else {}
    return client.generic(
        method.upper(), path, json.dumps(body), content_type="application/json", headers=csrf
    )


def _fill(path: str, values: dict[str, Any]) -> str:
    return re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), path)


def board_client(user: Any) -> BoardClient:
    """A browser logged in to the board (password, then the TOTP code)."""
    enrol(user)
    client = BoardClient()
    client.log_in(user)
    return client


def test_every_operation_with_an_id_is_covered() -> None:
    uncovered = []
    for method, path, op in operations():
        if (method, path) in DEVICE_OPS:
            continue
        for name in _params(op, "path"):
            if name not in path_ids(path):
                uncovered.append(f"{method.upper()} {path} path:{name}")
        for name in _params(op, "query"):
            idlike = (
                name == "id" or name.endswith("_id") or name in {"grid", "household", "resident"}
            )
            if idlike and name not in QUERY_IDS:
                uncovered.append(f"{method.upper()} {path} query:{name}")
        if method == "get" and not _params(op, "path") and path not in {*LISTS, *NOT_GRID_DATA}:
            uncovered.append(f"GET {path} (list not classified)")
    assert not uncovered, f"add these to the BOLA matrix: {uncovered}"


def test_device_operations_need_a_device_signature() -> None:
    for method, path, op in operations():
        if (method, path) in DEVICE_OPS:
            assert op["security"] == [{"DeviceSignature": []}], path


def test_bola_matrix_out_of_scope_is_404_identical_to_missing(
    scoped: SimpleNamespace, client_for: Any
) -> None:
    clients: dict[tuple[str, bool], ApiClient | BoardClient] = {}

    def client(name: str, path: str) -> ApiClient | BoardClient:
        key = (name, path.startswith(BOARD))
        if key not in clients:
            user = getattr(scoped, name)
            clients[key] = board_client(user) if key[1] else client_for(user)
        return clients[key]

    checked = 0
    for method, path, op in operations():
        if (method, path) in DEVICE_OPS:
            continue
        names = _params(op, "path")
        cases = path_ids(path)
        if names:
            case = cases[names[-1]]
            who = client(case.caller, path)
            own = _fill(path, {n: cases[n].own(scoped) for n in names})
            theirs = _fill(path, {n: cases[n].theirs(scoped) for n in names})
            missing = _fill(path, {n: cases[n].missing for n in names})
            reached = _call(who, method, own, template=path, world=scoped)
            assert reached.status_code != 404 and reached.status_code < 500, (own, reached.content)
            out = _call(who, method, theirs, template=path, world=scoped)
            gone = _call(who, method, missing, template=path, world=scoped)
            assert out.status_code == gone.status_code == 404, (method, theirs, out.content)
            assert out.content == gone.content
            checked += 1
        for name in _params(op, "query"):
            if name in QUERY_IDS:
                case = QUERY_IDS[name]
                who = client(case.caller, path)
                assert _call(who, method, path, {name: case.own(scoped)}).status_code == 200
                out = _call(who, method, path, {name: case.theirs(scoped)})
                gone = _call(who, method, path, {name: case.missing})
                assert out.status_code == gone.status_code == 404, (path, name)
                assert out.content == gone.content
                checked += 1
        if method == "get" and path in LISTS:
            caller = "supervisor_1" if path.startswith(BOARD) else "worker_a"
            response = _call(client(caller, path), method, path, LIST_QUERIES.get(path))
            assert response.status_code == 200, (path, response.content)
            seen, forbidden = LISTS[path](scoped, response.json())
            assert seen, f"{path} returned nothing in scope either"
            assert not seen & forbidden, path
            checked += 1
    assert checked >= 20


def test_anonymous_gets_401_everywhere_outside_the_allowlist(world: World) -> None:
    anonymous = ApiClient()
    for method, path, _ in operations():
        if (method, path) in ANONYMOUS_ALLOWED:
            continue
        response = _call(anonymous, method, re.sub(r"{\w+}", "1", path), template=path, world=world)
        if (method, path) in PROVIDER_CALLBACKS:
            assert response.status_code == 403, path
            assert response.json()["error"]["code"] == "callback_forbidden"
            continue
        assert response.status_code == 401, (
            f"{method.upper()} {path} answered {response.status_code}"
        )
        expected = "device_auth_missing" if (method, path) in DEVICE_OPS else "not_authenticated"
        assert response.json()["error"]["code"] == expected


def test_board_writes_without_the_csrf_token_are_403_and_change_nothing(
    scoped: SimpleNamespace,
) -> None:
    client = board_client(scoped.supervisor_1)
    writes = [(m, p, op) for m, p, op in operations() if p.startswith(BOARD) and m != "get"]
    assert len(writes) >= 3
    steps = AlertStep.objects.count()
    for method, path, op in writes:
        url = _fill(path, {n: BOARD_PATH_IDS[n].own(scoped) for n in _params(op, "path")})
        body = BODIES[path](scoped) if path in BODIES else {}
        response = client.generic(
            method.upper(), url, json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 403, (path, response.content)
        assert response.json()["error"]["code"] == "permission_denied"
    assert AlertStep.objects.count() == steps
    scoped.alert_a.refresh_from_db()
    assert scoped.alert_a.accepted_by_id is None


def ids(client: ApiClient, path: str, **query: Any) -> set[int]:
    response = client.get(path, query)
    assert response.status_code == 200, response.content
    body = response.json()
    return {item["id"] for item in body.get("items", body.get("features", []))}


def test_supervisor_sees_the_community_and_not_the_next(world: World, client_for: Any) -> None:
    client = client_for(world.supervisor_1)
    assert ids(client, "/api/v1/residents") == {world.resident_a.pk, world.resident_b.pk}
    assert ids(client, "/api/v1/grids") == {world.grid_a.pk, world.grid_b.pk}
    assert client.get(f"/api/v1/residents/{world.resident_c.pk}").status_code == 404


def test_district_admin_sees_everything(world: World, client_for: Any) -> None:
    client = client_for(world.admin)
    assert ids(client, "/api/v1/residents") == {
        world.resident_a.pk,
        world.resident_b.pk,
        world.resident_c.pk,
    }


def test_a_post_sees_residents_its_line_serves_in_its_community(
    world: World, client_for: Any
) -> None:
    # Elderly care: both elders of community 1, not the disabled man of community 2.
    client = client_for(world.officer_elderly_1)
    assert ids(client, "/api/v1/residents") == {world.resident_a.pk, world.resident_b.pk}
    assert ids(client, "/api/v1/grids") == set()
    assert client.get(f"/api/v1/residents/{world.resident_c.pk}").status_code == 404
    assert client.get(f"/api/v1/households/{world.household_b.pk}").status_code == 200


def test_resident_account_sees_only_self_and_household(world: World, client_for: Any) -> None:
    client = client_for(world.resident_user_a)
    assert ids(client, "/api/v1/residents") == {world.resident_a.pk}
    assert ids(client, "/api/v1/households") == {world.household_a.pk}
    assert client.get(f"/api/v1/residents/{world.resident_b.pk}").status_code == 404


def test_filters_and_search(world: World, client_for: Any) -> None:
    client = client_for(world.supervisor_1)
    assert ids(client, "/api/v1/residents", care_tag="living_alone") == {world.resident_a.pk}
    assert ids(client, "/api/v1/residents", q="秀兰") == {world.resident_b.pk}
    assert ids(client, "/api/v1/households", q="幸福路2号") == {world.household_b.pk}
    assert ids(client, "/api/v1/households", grid=world.grid_a.pk) == {world.household_a.pk}
    page = client.get("/api/v1/residents", {"limit": 1, "offset": 1}).json()
    assert page["count"] == 2 and len(page["items"]) == 1
    bad = client.get("/api/v1/residents", {"care_tag": "vip"}, HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 422
    assert list(bad.json()["error"]["fields"]) == ["care_tag"]


def test_resident_detail_is_masked_and_every_read_is_audited(world: World, client_for: Any) -> None:
    client = client_for(world.worker_a)
    before = AuditEvent.objects.count()
    response = client.get(
        f"/api/v1/residents/{world.resident_a.pk}", HTTP_X_CLIENT="gridline-android/1.0"
    )
    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"340705\*{8}\d{3}[\dX]", body["id_number_masked"])
    assert world.resident_a.id_number not in response.content.decode()
    assert body["care_tags"] == ["aged_60", "aged_80", "living_alone"]
    assert body["emergency_contacts"][0]["relation"] == "儿子"
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("pk")
    # Where from is the server's view (the peer address); the client's own word is marked.
    assert (event.actor, event.target_id, event.ip, event.client) == (
        world.worker_a,
        world.resident_a.pk,
        "127.0.0.1",
        "127.0.0.1 claims: gridline-android/1.0",
    )
    # A refused read writes nothing.
    client.get(f"/api/v1/residents/{world.resident_b.pk}")
    assert AuditEvent.objects.count() == before + 1
    # Lists do not show the ID number either.
    listed = client.get("/api/v1/residents").content.decode()
    assert world.resident_a.id_number not in listed


def test_pagination_is_bounded(world: World, client_for: Any) -> None:
    client = client_for(world.supervisor_1)
    for query in ({"limit": 10**19}, {"offset": 10**19}, {"limit": 0}, {"offset": -1}):
        response = client.get("/api/v1/households", query)
        assert response.status_code == 422, query
        assert list(response.json()["error"]["fields"]) == list(query)
