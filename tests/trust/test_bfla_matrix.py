"""BFLA matrix (issue 11 item 6): every operation of both Ninja APIs, and which roles may call
it at all. A new operation without a row fails `test_the_matrix_names_every_operation`; every
role outside an operation's row is refused (401, 403 or 404 — never a success), whatever it
sends. Extend the one table, OPERATIONS, when you add an endpoint.

Websocket messages have their matrix too (WEBSOCKET_MESSAGES: every type a client may send,
`realtime.consumers.CLIENT_MESSAGES`; a new type without a row fails), tried by each role's
socket.

Roles: ANON (no credentials), RESIDENT, WORKER, OFFICER (an A post), SUPERVISOR, ADMIN
(district administrator). DEVICE operations take a device signature, which no role has.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from backend.accounts.models import User, WorkerPosition
from backend.config.asgi import application
from board.api import api as board_api
from mobile_api.api import api
from realtime.consumers import CLIENT_MESSAGES
from tests.board.conftest import BoardClient, enrol
from tests.conftest import ApiClient, World, login

pytestmark = pytest.mark.django_db

ANON, RESIDENT, WORKER, OFFICER, SUPERVISOR, ADMIN = (
    "anon",
    "resident",
    "worker",
    "officer",
    "supervisor",
    "admin",
)
ROLES = (ANON, RESIDENT, WORKER, OFFICER, SUPERVISOR, ADMIN)
PUBLIC = frozenset(ROLES)
USERS = frozenset({RESIDENT, WORKER, OFFICER, SUPERVISOR, ADMIN})
STAFF = frozenset({WORKER, OFFICER, SUPERVISOR, ADMIN})
MANAGERS = frozenset({SUPERVISOR, ADMIN})
DEVICE: frozenset[str] = frozenset()  # a device signature: no user role
BOARD = MANAGERS  # the board: supervisors and district officers, password + TOTP

# (method, path) -> the roles that pass the function-level check.
OPERATIONS: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): USERS,
    ("GET", "/api/v1/me"): USERS,
    ("POST", "/api/v1/me/push-tokens"): USERS,
    ("POST", "/api/v1/me/position"): STAFF,
    ("GET", "/api/v1/grids"): USERS,
    ("GET", "/api/v1/grids/{grid_id}"): USERS,
    ("GET", "/api/v1/households"): USERS,
    ("GET", "/api/v1/households/{household_id}"): USERS,
    ("GET", "/api/v1/residents"): USERS,
    ("GET", "/api/v1/residents/{resident_id}"): USERS,
    ("GET", "/api/v1/residents/{resident_id}/reassurance"): USERS,
    ("GET", "/api/v1/health"): PUBLIC,
    ("GET", "/api/v1/health/live"): PUBLIC,
    # Providers' receipts and keypresses: no user; the URL's secret token (tests/notify).
    ("POST", "/api/v1/notify/callbacks/aliyun/sms"): PUBLIC,
    ("POST", "/api/v1/notify/callbacks/aliyun/voice"): PUBLIC,
    ("POST", "/api/v1/notify/callbacks/tencent/sms"): PUBLIC,
    ("POST", "/api/v1/notify/callbacks/aliyun/sms-up"): PUBLIC,
    ("POST", "/api/v1/notify/callbacks/tencent/sms-reply"): PUBLIC,
    ("POST", "/api/v1/alerts"): frozenset({RESIDENT}),
    ("GET", "/api/v1/alerts"): USERS,
    ("POST", "/api/v1/residents/{resident_id}/alerts"): STAFF,
    ("GET", "/api/v1/alerts/{alert_id}"): USERS,
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/accept"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/arrive"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/cancel"): frozenset({RESIDENT}),
    ("POST", "/api/v1/devices"): MANAGERS,
    ("GET", "/api/v1/devices/{device_id}"): MANAGERS,
    ("POST", "/api/v1/devices/{device_id}/rotate"): MANAGERS,
    ("POST", "/api/v1/devices/{device_id}/revoke"): MANAGERS,
    ("POST", "/api/v1/device/alerts"): DEVICE,
    ("POST", "/api/v1/device/heartbeat"): DEVICE,
    ("POST", "/api/v1/device/alerts/{alert_id}/cancel"): DEVICE,
    ("POST", "/api/v1/realtime/ticket"): USERS,
    ("GET", "/api/v1/visits/today"): USERS,
    ("POST", "/api/v1/visits/checkin"): USERS,
    ("POST", "/api/v1/visits/sync"): USERS,
    ("GET", "/api/v1/visits"): USERS,
    ("GET", "/api/v1/visits/coverage"): USERS,
    ("GET", "/api/v1/visits/{visit_uuid}"): USERS,
    ("POST", "/api/v1/households/{household_id}/visits/{visit_uuid}/photos"): USERS,
    ("GET", "/api/v1/service-items"): USERS,
    ("POST", "/api/v1/cases"): USERS,
    ("GET", "/api/v1/cases"): USERS,
    ("GET", "/api/v1/cases/{case_id}"): USERS,
    ("POST", "/api/v1/cases/{case_id}/submit"): USERS,
    ("POST", "/api/v1/cases/{case_id}/accept"): USERS,
    ("POST", "/api/v1/cases/{case_id}/request-material"): USERS,
    ("POST", "/api/v1/cases/{case_id}/supply-material"): USERS,
    ("POST", "/api/v1/cases/{case_id}/start"): USERS,
    ("POST", "/api/v1/cases/{case_id}/approve"): USERS,
    ("POST", "/api/v1/cases/{case_id}/reject"): USERS,
    ("POST", "/api/v1/cases/{case_id}/reassign"): USERS,
    ("POST", "/api/v1/cases/{case_id}/deliver"): USERS,
    ("POST", "/api/v1/cases/{case_id}/close"): USERS,
    ("POST", "/api/v1/cases/{case_id}/consent"): USERS,
    ("POST", "/api/v1/cases/{case_id}/rating"): USERS,
    ("GET", "/api/v1/cases/{case_id}/comments"): STAFF,
    ("POST", "/api/v1/cases/{case_id}/comments"): STAFF,
    ("GET", "/api/v1/cases/{case_id}/documents"): USERS,
    ("POST", "/api/v1/cases/{case_id}/documents"): USERS,
    ("GET", "/board/api/state"): BOARD,
    ("GET", "/board/api/panels"): BOARD,
    ("GET", "/board/api/grids"): BOARD,
    ("GET", "/board/api/households"): BOARD,
    ("GET", "/board/api/alerts/{alert_id}"): BOARD,
    ("POST", "/board/api/alerts/{alert_id}/assign"): BOARD,
    ("POST", "/board/api/alerts/{alert_id}/notes"): BOARD,
    ("POST", "/board/api/ticket"): BOARD,
    # Assessment (issue 14): every signed-in person; what they see is scoped (404 otherwise).
    ("GET", "/api/v1/assessment/follow-ups"): USERS,
    ("POST", "/api/v1/assessment/follow-ups/{follow_up_id}/answer"): USERS,
    ("GET", "/api/v1/assessment/periods"): USERS,
    ("GET", "/api/v1/assessment/periods/{period_id}/communities/{community_id}"): USERS,
    ("GET", "/api/v1/assessment/periods/{period_id}/communities/{community_id}/pdf"): USERS,
    ("GET", "/api/v1/assessment/periods/{period_id}/ranking"): USERS,
    ("GET", "/api/v1/assessment/periods/{period_id}/xlsx"): USERS,
    ("GET", "/api/v1/assessment/scorecards"): USERS,
    ("GET", "/api/v1/assessment/scorecards/{scorecard_id}"): USERS,
    ("GET", "/api/v1/assessment/scorecards/{scorecard_id}/evidence"): USERS,
    ("GET", "/api/v1/assessment/scorecards/{scorecard_id}/pdf"): USERS,
    ("POST", "/api/v1/assessment/scorecards/{scorecard_id}/adjustments"): USERS,
    ("POST", "/api/v1/assessment/scorecards/{scorecard_id}/appeals"): USERS,
    ("POST", "/api/v1/assessment/scorecards/{scorecard_id}/self-review"): USERS,
    ("POST", "/api/v1/assessment/scorecards/{scorecard_id}/leader-score"): MANAGERS,
    ("POST", "/api/v1/assessment/appeals/{appeal_id}/decision"): USERS,
    ("GET", "/board/api/assessment"): BOARD,
    # Community life (issue 16): the lists and path ids are scoped (404 otherwise).
    ("GET", "/api/v1/community/groups"): USERS,
    ("GET", "/api/v1/community/groups/{group_id}"): USERS,
    ("GET", "/api/v1/community/groups/{group_id}/activity"): USERS,
    ("GET", "/api/v1/community/groups/{group_id}/proposals"): USERS,
    ("GET", "/api/v1/community/hearings"): USERS,
    ("GET", "/api/v1/community/hearings/{hearing_id}"): USERS,
    ("GET", "/api/v1/community/hearings/{hearing_id}/opinions"): USERS,
    ("GET", "/api/v1/community/notices"): USERS,
    ("GET", "/api/v1/community/notices/{notice_id}"): USERS,
    ("GET", "/api/v1/community/notices/{notice_id}/attachments/{attachment_id}"): USERS,
    ("GET", "/api/v1/community/notices/{notice_id}/pdf"): USERS,
    ("GET", "/api/v1/community/notices/{notice_id}/receipts"): USERS,
    ("GET", "/api/v1/community/notices/{notice_id}/unreached"): USERS,
    ("GET", "/api/v1/community/organisations"): USERS,
    ("GET", "/api/v1/community/polls"): USERS,
    ("GET", "/api/v1/community/polls/{poll_id}"): USERS,
    ("GET", "/api/v1/community/polls/{poll_id}/results"): USERS,
    ("GET", "/api/v1/community/polls/{poll_id}/voters"): USERS,
    ("GET", "/api/v1/community/volunteer-tasks"): USERS,
    ("GET", "/api/v1/community/volunteer-tasks/{task_id}"): USERS,
    ("GET", "/api/v1/community/volunteer-tasks/{task_id}/offers"): STAFF,
    ("GET", "/api/v1/community/volunteers"): USERS,
    (
        "POST",
        "/api/v1/community/groups",
    ): USERS,  # body checked first; who may write: tests/community
    ("POST", "/api/v1/community/groups/{group_id}/meetings"): USERS,
    ("POST", "/api/v1/community/groups/{group_id}/members"): USERS,
    ("POST", "/api/v1/community/groups/{group_id}/proposals"): USERS,
    ("POST", "/api/v1/community/groups/{group_id}/proposals/{proposal_id}/decision"): USERS,
    (
        "POST",
        "/api/v1/community/hearings",
    ): USERS,  # body checked first; who may write: tests/community
    ("POST", "/api/v1/community/hearings/{hearing_id}/check-ins"): USERS,
    ("POST", "/api/v1/community/hearings/{hearing_id}/conclude"): USERS,
    ("POST", "/api/v1/community/hearings/{hearing_id}/invite"): USERS,
    ("POST", "/api/v1/community/hearings/{hearing_id}/opinions"): USERS,
    ("POST", "/api/v1/community/hearings/{hearing_id}/registrations"): USERS,
    (
        "POST",
        "/api/v1/community/notices",
    ): USERS,  # body checked first; who may write: tests/community
    ("POST", "/api/v1/community/notices/{notice_id}/attachments"): USERS,
    ("POST", "/api/v1/community/notices/{notice_id}/objections"): USERS,
    ("POST", "/api/v1/community/notices/{notice_id}/publish"): USERS,
    ("POST", "/api/v1/community/notices/{notice_id}/read"): USERS,
    ("POST", "/api/v1/community/notices/{notice_id}/told"): USERS,
    (
        "POST",
        "/api/v1/community/polls",
    ): USERS,  # body checked first; who may write: tests/community
    ("POST", "/api/v1/community/polls/{poll_id}/door-votes"): USERS,
    ("POST", "/api/v1/community/polls/{poll_id}/open"): USERS,
    ("POST", "/api/v1/community/polls/{poll_id}/votes"): USERS,
    ("POST", "/api/v1/community/polls/{poll_id}/voice-calls"): STAFF,
    ("POST", "/api/v1/community/hearings/{hearing_id}/voice-calls"): STAFF,
    (
        "POST",
        "/api/v1/community/volunteer-tasks",
    ): USERS,  # body checked first; who may write: tests/community
    ("POST", "/api/v1/community/volunteer-tasks/{task_id}/accept"): USERS,
    ("POST", "/api/v1/community/volunteer-tasks/{task_id}/confirm"): USERS,
    ("POST", "/api/v1/community/volunteer-tasks/{task_id}/hours"): USERS,
    ("POST", "/api/v1/community/volunteers"): USERS,
    # Topics (民主议事): residents propose and support, staff moderate, managers take up;
    # who may do which: tests/community/test_topics.py.
    ("GET", "/api/v1/community/topics"): USERS,
    ("GET", "/api/v1/community/topics/{topic_id}"): USERS,
    ("POST", "/api/v1/community/topics"): USERS,
    ("POST", "/api/v1/community/topics/{topic_id}/supports"): USERS,
    ("POST", "/api/v1/community/topics/{topic_id}/reject"): USERS,
    ("POST", "/api/v1/community/topics/{topic_id}/poll"): USERS,
    ("POST", "/api/v1/community/topics/{topic_id}/hearing"): USERS,
}

# Websocket messages (/ws/v1/stream) -> the roles whose socket acts on them; anyone else's
# gets an error frame (tests/realtime/test_position_input.py).
WEBSOCKET_MESSAGES: dict[str, frozenset[str]] = {
    "ping": USERS | BOARD,
    "ack": USERS | BOARD,
    "position": STAFF,
}

# Bodies that pass validation, so that a refusal is the role check and not a 422.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/me/position"): {"lat": 30.925, "lon": 117.805, "accuracy_m": 5},
    ("POST", "/api/v1/alerts"): {"client_alert_id": "", "kind": "emergency"},
    ("POST", "/api/v1/residents/{resident_id}/alerts"): {
        "client_alert_id": "",
        "kind": "emergency",
    },
    ("POST", "/api/v1/devices"): {"device_id": "PENDANT-M", "kind": "pendant", "resident_id": 0},
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): {"disposition": "other", "note": "x"},
    ("POST", "/api/v1/alerts/{alert_id}/arrive"): {"location": {"lat": 30.925, "lon": 117.805}},
    ("POST", "/api/v1/cases/{case_id}/comments"): {"text": "x"},
    ("POST", "/api/v1/assessment/scorecards/{scorecard_id}/leader-score"): {
        "score": 80,
        "reason": "x",
    },
}


def _operations() -> set[tuple[str, str]]:
    found = set()
    for ninja_api in (api, board_api):
        schema = ninja_api.get_openapi_schema()
        for path, methods in schema["paths"].items():
            for method in methods:
                found.add((method.upper(), path))
    return found


def test_the_matrix_names_every_operation() -> None:
    found = _operations()
    assert found - set(OPERATIONS) == set(), "add these operations to OPERATIONS"
    assert set(OPERATIONS) - found == set(), "these rows name no operation"


def _users(world: World) -> dict[str, User | None]:
    return {
        ANON: None,
        RESIDENT: world.resident_user_a,
        WORKER: world.worker_b,  # not the B post of resident A's grid
        OFFICER: world.officer_elderly_1,
        SUPERVISOR: world.supervisor_1,
        ADMIN: world.admin,
    }


def _client(role: str, user: User | None, board: bool) -> Client:
    if user is None:
        return BoardClient() if board else Client()
    if board:
        if role not in BOARD:
            # A valid browser session of a role the board refuses: the admin's log-in
            # would not do; a password-only Django session is what such a user can get.
            client = BoardClient()
            client.force_login(user)
            return client
        enrol(user)
        client = BoardClient()
        client.log_in(user)
        return client
    return ApiClient(login(user.phone)["access_token"])


def _fill(path: str, world: World) -> str:
    ids = {
        "grid_id": world.grid_a.pk,
        "household_id": world.household_a.pk,
        "resident_id": world.resident_a.pk,
        "alert_id": 1,
        "case_id": 1,
        "device_id": "PENDANT-X",
        "visit_uuid": str(uuid.uuid4()),
    }
    # Any other id: one that does not exist (the function-level check comes before the look-up).
    return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 999_999)), path)


@pytest.mark.parametrize("role", ROLES)
def test_roles_outside_a_row_are_refused(world: World, role: str) -> None:
    user = _users(world)[role]
    clients: dict[bool, Client] = {}
    wrong = []
    for (method, path), allowed in sorted(OPERATIONS.items()):
        if role in allowed:
            continue
        board = path.startswith("/board/")
        if board not in clients:
            clients[board] = _client(role, user, board)
        client = clients[board]
        body = dict(BODIES.get((method, path), {}))
        if "client_alert_id" in body:
            body["client_alert_id"] = str(uuid.uuid4())
        if "resident_id" in body:
            body["resident_id"] = world.resident_a.pk
        url = _fill(path, world)
        if method == "GET":
            answer = client.get(url)
        elif isinstance(client, BoardClient):
            answer = client.post_json(url, body)
        else:
            answer = client.post(url, body, content_type="application/json")
        if answer.status_code not in (401, 403, 404):
            wrong.append((method, path, answer.status_code))
    assert wrong == [], role


# -- websocket messages ----------------------------------------------------------------------

SAMPLE_MESSAGES: dict[str, dict[str, Any]] = {
    "ping": {"type": "ping"},
    "ack": {"type": "ack", "last_event_id": 1},
    "position": {"type": "position", "lat": 30.925, "lon": 117.805, "accuracy_m": 8},
}


def test_the_matrix_names_every_websocket_message() -> None:
    assert set(WEBSOCKET_MESSAGES) == set(CLIENT_MESSAGES), "add a row to WEBSOCKET_MESSAGES"
    assert set(SAMPLE_MESSAGES) == set(CLIENT_MESSAGES), "add a sample to SAMPLE_MESSAGES"


def _socket_users(world: World) -> dict[str, User]:
    return {
        RESIDENT: world.resident_user_a,
        WORKER: world.worker_b,
        OFFICER: world.officer_elderly_1,
        SUPERVISOR: world.supervisor_1,
        ADMIN: world.admin,
    }


def _ticket(user: User) -> str:
    client = ApiClient(login(user.phone)["access_token"])
    return str(client.post("/api/v1/realtime/ticket").json()["ticket"])


async def _answer(socket: Any, message: dict[str, Any]) -> dict[str, Any] | None:
    """The socket's answer to `message`: its error frame, or None when it acted without a
    word (a ping after it is answered first); a ping is answered by a pong."""
    await socket.send_json_to(message)
    if message["type"] != "ping":
        await socket.send_json_to({"type": "ping"})
    frame: dict[str, Any] = await socket.receive_json_from(timeout=5)
    if frame == {"type": "pong"}:
        return None if message["type"] != "ping" else frame
    if message["type"] != "ping":
        assert await socket.receive_json_from(timeout=5) == {"type": "pong"}
    return frame


@pytest.mark.django_db(transaction=True)
async def test_websocket_messages_outside_a_row_are_refused(world: World) -> None:
    """Each role's socket (a mobile ticket) sends every message type: a role in the row gets
    the type's effect, any other an error frame and no effect; an unknown type is an error
    frame for everyone; no credentials, no socket."""
    users = await database_sync_to_async(_socket_users)(world)
    wrong = []
    for role, user in users.items():
        ticket = await database_sync_to_async(_ticket)(user)
        socket = WebsocketCommunicator(application, f"/ws/v1/stream?ticket={ticket}")
        connected, _ = await socket.connect(timeout=5)
        assert connected, role
        assert (await socket.receive_json_from(timeout=5))["type"] == "hello"
        for kind, message in SAMPLE_MESSAGES.items():
            answer = await _answer(socket, message)
            allowed = role in WEBSOCKET_MESSAGES[kind]
            acted = answer is None or answer == {"type": "pong"}
            if acted != allowed:
                wrong.append((role, kind, answer))
        stored = await database_sync_to_async(WorkerPosition.objects.filter(user=user).exists)()
        if stored != (role in WEBSOCKET_MESSAGES["position"]):
            wrong.append((role, "position stored", stored))
        unknown = await _answer(socket, {"type": "subscribe", "user_id": world.admin.pk})
        if unknown != {"type": "error", "code": "unknown_message"}:
            wrong.append((role, "unknown type", unknown))
        await socket.disconnect()
    assert wrong == []
    anonymous = WebsocketCommunicator(application, "/ws/v1/stream")
    connected, _ = await anonymous.connect(timeout=5)
    assert not connected
