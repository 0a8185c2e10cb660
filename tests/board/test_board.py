"""The board's log-in (password, then TOTP), its JSON endpoints and scope, assignment and
notes on the timeline, and its websocket tickets. The browser itself: test_browser.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import Client

from backend.accounts.models import MobileSession
from backend.accounts.models import TOTPKey as TOTPDevice
from backend.alerts.actions import do_assign, do_raise_alert
from backend.alerts.models import Alert, AlertStep
from backend.core.errors import ApiError
from backend.core.models import Timer
from tests.board.conftest import BoardClient, code_of_step, current_code, enrol
from tests.conftest import PASSWORD, CaptureEvents, World

pytestmark = pytest.mark.django_db

MISSING = 987_654_321


def raise_alert(resident: Any, kind: str = "emergency") -> Alert:
    with transaction.atomic():
        return do_raise_alert(resident=resident, kind=kind, source="worker")


# -- log-in ----------------------------------------------------------------------------------


def test_password_then_totp_opens_the_board(world: World) -> None:
    device = enrol(world.supervisor_1)
    client = BoardClient()
    assert client.get("/board/").status_code == 302  # to the log-in page
    page = client.get("/board/login/")
    assert page.status_code == 200 and "调度看板登录" in page.content.decode()
    token = client.token()
    wrong = client.post(
        "/board/login/",
        {"phone": world.supervisor_1.phone, "password": "nope", "csrfmiddlewaretoken": token},
    )
    assert wrong.status_code == 401 and "手机号或密码错误" in wrong.content.decode()
    ok = client.post(
        "/board/login/",
        {"phone": world.supervisor_1.phone, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert ok.status_code == 302 and ok["Location"] == "/board/login/verify/"
    # the password alone opens nothing
    assert client.get("/board/").status_code == 302
    assert client.get("/board/api/state").status_code == 401
    bad = client.post(
        "/board/login/verify/",
        {"code": current_code(device, offset_steps=10), "csrfmiddlewaretoken": client.token()},
    )
    assert bad.status_code == 401 and "动态口令错误" in bad.content.decode()
    device.refresh_from_db()
    device.throttling_failure_timestamp = None  # django-otp's back-off after a failure
    device.save()
    good = client.post(
        "/board/login/verify/",
        {"code": current_code(device), "csrfmiddlewaretoken": client.token()},
    )
    assert good.status_code == 302 and good["Location"] == "/board/"
    board = client.get("/board/")
    assert board.status_code == 200
    assert 'id="board-config"' in board.content.decode()
    assert MobileSession.objects.filter(user=world.supervisor_1, client__startswith="board").count()


def test_a_used_code_does_not_open_a_second_log_in(world: World, board_for: Any) -> None:
    board_for(world.supervisor_1)
    device = TOTPDevice.objects.get(user=world.supervisor_1)
    client = BoardClient()
    client.get("/board/login/")
    client.post(
        "/board/login/",
        {
            "phone": world.supervisor_1.phone,
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.token(),
        },
    )
    # Exactly the code the first log-in used (not "the current one": a 30 s step may have
    # passed since, which would make a fresh, valid code).
    used = code_of_step(device, device.last_t)
    again = client.post(
        "/board/login/verify/",
        {"code": used, "csrfmiddlewaretoken": client.token()},
    )
    assert again.status_code == 401


def test_only_supervisors_and_district_officers_with_a_second_factor(world: World) -> None:
    client = BoardClient()
    client.get("/board/login/")
    worker = client.post(
        "/board/login/",
        {
            "phone": world.worker_a.phone,
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.token(),
        },
    )
    assert worker.status_code == 403 and "仅供社区督导" in worker.content.decode()
    unenrolled = client.post(
        "/board/login/",
        {
            "phone": world.supervisor_1.phone,
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.token(),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert unenrolled.status_code == 403
    assert "No second factor" in unenrolled.content.decode()
    assert client.get("/board/login/verify/").status_code == 401  # nothing pending


def test_five_wrong_passwords_lock_the_board_log_in_too(world: World) -> None:
    enrol(world.supervisor_1)
    client = BoardClient()
    client.get("/board/login/")
    for _ in range(5):
        client.post(
            "/board/login/",
            {
                "phone": world.supervisor_1.phone,
                "password": "x",
                "csrfmiddlewaretoken": client.token(),
            },
        )
    locked = client.post(
        "/board/login/",
        {
            "phone": world.supervisor_1.phone,
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.token(),
        },
    )
    assert locked.status_code == 429 and "锁定" in locked.content.decode()


def test_english_on_request_chinese_by_default(world: World, board_for: Any) -> None:
    client = board_for(world.supervisor_1)
    assert "<title>社区调度看板</title>" in client.get("/board/").content.decode()
    client.post(
        "/i18n/setlang/",
        {"language": "en", "next": "/board/", "csrfmiddlewaretoken": client.csrf},
    )
    page = client.get("/board/").content.decode()
    assert "<title>Community dispatch board</title>" in page
    assert client.get("/board/api/alerts/1").json()["error"]["message"] == "Not found."


def test_logout_revokes_the_board_session(world: World, board_for: Any) -> None:
    client = board_for(world.supervisor_1)
    session = MobileSession.objects.get(user=world.supervisor_1)
    response = client.post("/board/logout/", {"csrfmiddlewaretoken": client.csrf})
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.revoked_at is not None
    assert client.get("/board/api/state").status_code == 401


# -- the JSON endpoints ----------------------------------------------------------------------


def test_anonymous_and_csrf_less_calls_are_refused_in_the_error_format(
    world: World, board_for: Any
) -> None:
    alert = raise_alert(world.resident_a)
    anonymous = Client()
    for path in ("/board/api/state", "/board/api/grids", f"/board/api/alerts/{alert.pk}"):
        response = anonymous.get(path)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
    client = board_for(world.supervisor_1)
    forged = client.post(
        f"/board/api/alerts/{alert.pk}/notes",
        json.dumps({"note": "x"}),
        content_type="application/json",
    )
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "permission_denied"
    assert client.get("/board/api/ticket").status_code == 405


def test_a_django_session_without_the_second_factor_opens_no_board_endpoint(
    world: World,
) -> None:
    # e.g. a log-in to the Django admin: authenticated, but django-otp never verified a code
    client = Client()
    client.force_login(world.supervisor_1)
    for path in ("/board/api/state", "/board/api/grids", "/board/api/panels"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "not_authenticated"
    assert client.post("/board/api/ticket").status_code == 401


def test_the_board_api_has_its_own_openapi_document(world: World) -> None:
    board = Client().get("/board/api/openapi.json").json()
    assert set(board["paths"]) == {
        "/board/api/state",
        "/board/api/panels",
        "/board/api/assessment",
        "/board/api/grids",
        "/board/api/households",
        "/board/api/alerts/{alert_id}",
        "/board/api/alerts/{alert_id}/assign",
        "/board/api/alerts/{alert_id}/notes",
        "/board/api/ticket",
    }
    assert board["components"]["securitySchemes"] == {
        "BoardSession": {"type": "apiKey", "in": "cookie", "name": "sessionid"}
    }
    mobile = Client().get("/api/v1/openapi.json").json()
    assert not [p for p in mobile["paths"] if p.startswith("/board/")]


def test_state_grids_and_duty_are_the_community(world: World, board_for: Any) -> None:
    alert_a = raise_alert(world.resident_a)
    raise_alert(world.resident_c)  # community 2
    client = board_for(world.supervisor_1)
    grids = client.get("/board/api/grids").json()
    assert {f["id"] for f in grids["features"]} == {world.grid_a.pk, world.grid_b.pk}
    assert grids["features"][0]["geometry"]["type"] == "MultiPolygon"
    state = client.get("/board/api/state").json()
    assert [a["alert_id"] for a in state["alerts"]] == [alert_a.pk]
    assert state["alerts"][0]["resident"]["name"] == "张**"
    assert state["last_event_id"] >= 1  # the supervisor watches community 1
    assert state["duty"]["grids"] == {
        str(world.grid_a.pk): [
            {
                "id": world.worker_a.pk,
                "name": world.worker_a.name,
                "role": "worker",
                "until": state["duty"]["grids"][str(world.grid_a.pk)][0]["until"],
            }
        ]
    }
    workers = {w["id"]: w for w in state["workers"]}
    assert workers[world.worker_a.pk]["on_duty"] and not workers[world.worker_b.pk]["on_duty"]
    assert workers[world.worker_a.pk]["grid_ids"] == [world.grid_a.pk]


def test_households_in_the_viewport_are_scoped(world: World, board_for: Any) -> None:
    client = board_for(world.supervisor_1)
    everything = "117.79,30.91,117.84,30.94"  # covers all three grids
    items = client.get("/board/api/households", {"bbox": everything}).json()["items"]
    assert {h["id"] for h in items} == {world.household_a.pk, world.household_b.pk}
    assert items[0]["address"]
    for bad in ("", "1,2,3", "117.9,30.9,117.8,30.95", "100,20,120,40", "a,b,c,d"):
        response = client.get("/board/api/households", {"bbox": bad})
        assert response.status_code == 422, bad
        assert list(response.json()["error"]["fields"]) == ["bbox"]


def test_alert_detail_out_of_scope_is_404_identical_to_missing(
    world: World, board_for: Any
) -> None:
    alert_a = raise_alert(world.resident_a)
    alert_c = raise_alert(world.resident_c)
    client = board_for(world.supervisor_1)
    detail = client.get(f"/board/api/alerts/{alert_a.pk}").json()
    assert detail["timeline"][0]["kind"] == "raised"

    def call(alert_id: int, suffix: str) -> Any:
        if not suffix:
            return client.get(f"/board/api/alerts/{alert_id}")
        body = {"assignee_id": world.worker_a.pk, "note": "x"}
        return client.post_json(f"/board/api/alerts/{alert_id}{suffix}", body)

    for suffix in ("", "/assign", "/notes"):
        theirs, missing = call(alert_c.pk, suffix), call(MISSING, suffix)
        assert theirs.status_code == missing.status_code == 404, suffix
        assert theirs.content == missing.content


# -- assignment and notes --------------------------------------------------------------------


def test_assign_hands_the_alert_over_and_calls_the_assignee(
    world: World, board_for: Any, capture_events: CaptureEvents
) -> None:
    alert = raise_alert(world.resident_a)
    assert Timer.objects.filter(
        kind="alert.escalate", key=str(alert.pk), cancelled_at__isnull=True
    ).exists()
    client = board_for(world.supervisor_1)
    with capture_events() as events:
        response = client.post_json(
            f"/board/api/alerts/{alert.pk}/assign",
            {"assignee_id": world.worker_b.pk, "note": "电话联系上了，5 分钟到"},
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "accepted" and body["accepted_by"]["id"] == world.worker_b.pk
    assert body["escalates_at"] is None
    assert not Timer.objects.filter(
        kind="alert.escalate", key=str(alert.pk), cancelled_at__isnull=True
    ).exists()
    step = AlertStep.objects.filter(alert=alert).latest("pk")
    assert (step.kind, step.actor, step.note) == (
        "assigned",
        world.supervisor_1,
        "电话联系上了，5 分钟到",
    )
    called = events.of(world.worker_b, "alert.raised")
    assert len(called) == 1 and called[0].urgent
    assert called[0].data["step"]["kind"] == "assigned"
    told = events.of(world.supervisor_1, "alert.updated")[-1]
    assert told.data["accepted_by"]["id"] == world.worker_b.pk

    # reassigned: the new worker is called, the previous one told
    with capture_events() as events:
        again = client.post_json(
            f"/board/api/alerts/{alert.pk}/assign", {"assignee_id": world.worker_a.pk}
        )
    assert again.status_code == 200
    assert AlertStep.objects.filter(alert=alert).latest("pk").kind == "reassigned"
    assert events.of(world.worker_b, "alert.updated")[-1].data["accepted_by"]["id"] == (
        world.worker_a.pk
    )
    assert events.of(world.worker_a, "alert.raised")
    # the assignee can take it from there on the phone
    alert.refresh_from_db()
    assert alert.accepted_by == world.worker_a


def test_assign_refuses_outsiders_other_roles_and_ended_alerts(
    world: World, board_for: Any
) -> None:
    alert = raise_alert(world.resident_a)
    client = board_for(world.supervisor_1)
    url = f"/board/api/alerts/{alert.pk}/assign"
    outsider = world.admin  # not a worker of community 1
    out = client.post_json(url, {"assignee_id": outsider.pk})
    gone = client.post_json(url, {"assignee_id": MISSING})
    assert out.status_code == gone.status_code == 404 and out.content == gone.content
    assert client.post_json(url, {"assignee_id": "7"}).json()["error"]["fields"] == {
        "assignee_id": "类型错误。"
    }
    assert client.post_json(url, {}).status_code == 422
    bad_json = client.post(url, "{", content_type="application/json", HTTP_X_CSRFTOKEN=client.csrf)
    assert bad_json.status_code == 400 and bad_json.json()["error"]["code"] == "invalid_json"
    with pytest.raises(ApiError) as refused:
        do_assign(user=world.worker_a, alert_id=alert.pk, assignee_id=world.worker_b.pk)
    assert refused.value.status == 403
    Alert.objects.filter(pk=alert.pk).update(state=Alert.State.RESOLVED)
    assert client.post_json(url, {"assignee_id": world.worker_b.pk}).status_code == 409


def test_notes_land_on_the_timeline_and_the_stream(
    world: World, board_for: Any, capture_events: CaptureEvents
) -> None:
    alert = raise_alert(world.resident_a)
    client = board_for(world.supervisor_1)
    url = f"/board/api/alerts/{alert.pk}/notes"
    empty = client.post_json(url, {"note": "  "})
    assert empty.status_code == 422 and list(empty.json()["error"]["fields"]) == ["note"]
    assert client.post_json(url, {"note": "x" * 2001}).status_code == 422
    with capture_events() as events:
        response = client.post_json(url, {"note": "家属已在路上"})
    assert response.status_code == 200
    assert response.json()["kind"] == "note"
    timeline = client.get(f"/board/api/alerts/{alert.pk}").json()["timeline"]
    assert timeline[-1]["note"] == "家属已在路上"
    assert timeline[-1]["actor"]["id"] == world.supervisor_1.pk
    (event,) = events.of(world.worker_a, "alert.updated")
    assert event.data["step"]["note"] == "家属已在路上"


# -- tickets and sockets ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_board_ticket_opens_the_stream_and_log_out_closes_it(
    world: World, board_for: Any
) -> None:
    from backend.config.asgi import application

    client = await database_sync_to_async(board_for)(world.supervisor_1)
    response = await database_sync_to_async(client.post_json)("/board/api/ticket", {})
    assert response.status_code == 200, response.content
    socket = WebsocketCommunicator(
        application, response.json()["url"], headers=[(b"origin", b"http://testserver")]
    )
    connected, _ = await socket.connect(timeout=5)
    assert connected
    assert (await socket.receive_json_from(timeout=5))["type"] == "hello"
    await database_sync_to_async(raise_alert)(world.resident_a)
    frame = await socket.receive_json_from(timeout=5)
    assert frame["type"] == "alert.updated" and frame["data"]["resident"]["name"] == "张**"
    started = asyncio.get_running_loop().time()
    await database_sync_to_async(client.post)(
        "/board/logout/", {"csrfmiddlewaretoken": client.csrf}
    )
    assert await socket.receive_output(timeout=1) == {"type": "websocket.close", "code": 4401}
    assert asyncio.get_running_loop().time() - started < 1


def test_board_totp_command_enrols_and_prints_demo_codes_only(world: World) -> None:
    import io

    out = io.StringIO()
    call_command("board_totp", phone=world.supervisor_1.phone, stdout=out)
    assert "otpauth://totp/gridline" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("board_totp", phone=world.supervisor_1.phone, code=True)
    with pytest.raises(CommandError):
        call_command("board_totp", phone=world.worker_a.phone)
    from backend.accounts.actions import DEMO_TOTP_KEY_HEX, do_enrol_totp

    device = do_enrol_totp(user=world.supervisor_1, key_hex=DEMO_TOTP_KEY_HEX)
    out = io.StringIO()
    call_command("board_totp", phone=world.supervisor_1.phone, code=True, stdout=out)
    assert out.getvalue().strip() == current_code(device)


def test_panels_show_coverage_and_the_cases_near_or_past_their_sla(
    world: World, board_for: Any
) -> None:
    from django.utils import timezone

    from backend.servicedesk.actions import do_file_case
    from backend.servicedesk.models import Case, ServiceItem

    item = ServiceItem.objects.create(
        code="panel-allowance",
        name_zh="高龄津贴",
        name_en="Old-age allowance",
        category="elderly",
        line="elderly_care",
        time_limit_days=20,
    )
    with transaction.atomic():
        near = do_file_case(
            item=item, channel="doorstep", filed_by=world.worker_a, resident=world.resident_a
        )
        calm = do_file_case(
            item=item, channel="doorstep", filed_by=world.worker_a, resident=world.resident_b
        )
        elsewhere = do_file_case(
            item=item, channel="doorstep", filed_by=world.admin, resident=world.resident_c
        )
    # The SLA clock warned at 75 % (the clock itself is tested in tests/servicedesk).
    Case.objects.filter(pk__in=[near.pk, elsewhere.pk]).update(warned_at=timezone.now())

    panels = board_for(world.supervisor_1).get("/board/api/panels")
    assert panels.status_code == 200, panels.content
    body = panels.json()
    assert [c["number"] for c in body["cases"]] == [near.number]  # not calm, not community 2
    assert body["cases"][0]["overdue"] is False
    assert sorted(g["grid_id"] for g in body["coverage"]) == [world.grid_a.pk, world.grid_b.pk]
    assert all(g["households"] == 1 for g in body["coverage"])
    assert calm.number not in panels.content.decode()
