"""The delivery ladder, end to end through the real SDKs against the stand-ins: a press reaches
a worker with no socket by JPush; a failing push is retried with backoff and the SMS rung goes
at its delay; a failing SMS is retried and the voice rung follows; a keypress answers the
alert; receipts land on the timeline once; an acknowledgement stops the ladder."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from backend.accounts.actions import do_register_push_token
from backend.alerts.actions import do_resolve
from backend.alerts.models import Alert, AlertStep
from backend.core import clock
from backend.core.dispatcher import run_once
from backend.core.models import Timer
from backend.core.stream import mark_delivered
from backend.notify.ladder import ladder_for
from backend.notify.models import LadderPolicy, OutboxMessage, ProviderCallback
from tests.alerts.conftest import SignedDevice, alert_of
from tests.alerts.conftest import device_a as device_a
from tests.alerts.conftest import rosters as rosters
from tests.conftest import World

from .aliyun_standin import AliyunStandIn
from .conftest import CALLBACK_TOKENS
from .jpush_standin import JPushStandIn

pytestmark = pytest.mark.django_db

REG_ID = "1a0018970a8b3c4d5e6"  # a JPush registration id


@pytest.fixture
def traveller() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(timezone.now(), tick=False) as coordinates:
        yield coordinates


def rows(alert: Alert, user_id: int) -> dict[str, OutboxMessage]:
    return {
        r.channel: r
        for r in OutboxMessage.objects.filter(subject=f"alert:{alert.pk}", user_id=user_id)
    }


def at(alert: Alert, seconds: float) -> datetime:
    return alert.created_at + timedelta(seconds=seconds)


def delivery_steps(alert: Alert) -> list[tuple[str, str]]:
    return [
        (s.data["channel"], s.data["outcome"])
        for s in AlertStep.objects.filter(alert=alert, kind="delivery").order_by("pk")
    ]


def test_a_worker_without_a_socket_gets_the_jpush_push_within_2_s(
    world: World, device_a: SignedDevice, jpush: JPushStandIn
) -> None:
    do_register_push_token(user=world.worker_a, token=REG_ID, platform="android", provider="jpush")
    started = time.time()
    alert = alert_of(device_a.press())
    deadline = started + 2
    while not jpush.requests_for(REG_ID) and time.time() < deadline:
        run_once()  # one dispatcher round
    [request] = jpush.requests_for(REG_ID)
    assert request.at - started < 2.0
    body = request.body
    assert body["audience"] == {"registration_id": [REG_ID]} and body["platform"] == "all"
    extras = request.extras
    assert extras == {
        "type": "alert.raised",
        "event_id": extras["event_id"],
        "kind": "emergency",
        "tier": "1",
        "grid_id": str(world.grid_a.pk),
        "alert_id": str(alert.pk),
        "title": "紧急求助",
        "body": "请立即打开应用查看。",
    }
    android = body["notification"]["android"]
    assert android["priority"] == 2 and android["title"] == "紧急求助"
    options = body["options"]
    assert options["classification"] == 1 and options["time_to_live"] == 120
    vendors = options["third_party_channel"]
    assert vendors["huawei"] == {"category": "WORK", "importance": "NORMAL"}
    assert vendors["oppo"]["category"] == "TODO" and vendors["vivo"]["classification"] == 1
    push = rows(alert, world.worker_a.pk)["push"]
    assert push.status == "sent" and push.provider == "jpush"
    assert push.provider_message_id == jpush.msg_ids[0]
    assert ("push", "sent") in delivery_steps(alert)


def test_push_5xx_is_retried_with_backoff_then_sms_then_sms_5xx_then_the_call(
    world: World,
    device_a: SignedDevice,
    jpush: JPushStandIn,
    aliyun: AliyunStandIn,
    settings: Any,
    traveller: time_machine.Traveller,
) -> None:
    settings.OUTBOX_MAX_ATTEMPTS = 3
    world.resident_a.emergency_contacts.all().delete()  # only the worker's ladder here
    do_register_push_token(user=world.worker_a, token=REG_ID, platform="android", provider="jpush")
    jpush.reply(503, {"error": {"code": 1030, "message": "internal error"}}, times=10)
    aliyun.reply("SendSms", 500, {"Code": "isp.SYSTEM_ERROR", "Message": "busy"}, times=10)
    alert = alert_of(device_a.press())
    mine = rows(alert, world.worker_a.pk)
    assert {c: r.not_before - alert.created_at for c, r in mine.items()} == {
        "push": timedelta(0),
        "sms": timedelta(seconds=20),
        "voice": timedelta(seconds=35),
    }

    def round_at(seconds: float) -> None:
        traveller.move_to(at(alert, seconds))
        run_once()

    round_at(0)  # push try 1: 503
    push = OutboxMessage.objects.get(pk=mine["push"].pk)
    assert (push.status, push.attempts, push.not_before) == ("pending", 1, at(alert, 1))
    round_at(0.9)
    assert OutboxMessage.objects.get(pk=push.pk).attempts == 1  # not before its backoff
    round_at(1)  # try 2, then 2 s of backoff
    assert OutboxMessage.objects.get(pk=push.pk).not_before == at(alert, 3)
    round_at(3)  # try 3: dead
    push.refresh_from_db()
    assert (push.status, push.attempts, push.provider) == ("dead", 3, "jpush")
    assert len(jpush.requests_for(REG_ID)) == 3
    round_at(19.9)
    assert aliyun.calls("SendSms") == []
    round_at(20)  # the SMS rung at its delay: 500
    [first] = aliyun.calls("SendSms")
    assert first.params["PhoneNumbers"] == world.worker_a.phone
    assert first.params["SignName"] == "社区一键通" and first.params["TemplateCode"] == "SMS_470001"
    assert first.params["TemplateParam"] == (
        f'{{"kind": "紧急求助", "grid": "{world.grid_a.pk}", "alert": "{alert.pk}"}}'
    )
    round_at(21)
    round_at(23)
    sms_row = OutboxMessage.objects.get(pk=mine["sms"].pk)
    assert (sms_row.status, sms_row.attempts) == ("dead", 3)
    assert len(aliyun.calls("SendSms")) == 3
    round_at(34.9)
    assert aliyun.calls("IvrCall") == []
    round_at(35)  # the call
    [call] = aliyun.calls("IvrCall")
    assert call.params["CalledNumber"] == world.worker_a.phone
    assert call.params["StartCode"] == "TTS_280001" and call.params["MenuKeyMap.1.Key"] == "1"
    assert call.params["OutId"] == str(mine["voice"].public_id)
    voice_row = OutboxMessage.objects.get(pk=mine["voice"].pk)
    assert voice_row.status == "sent" and voice_row.provider == "aliyun-voice"
    assert delivery_steps(alert) == [("push", "dead"), ("sms", "dead"), ("voice", "sent")]
    # Before the tier's 60 s: the ladder ran inside the first tier.
    alert.refresh_from_db()
    assert alert.tier == 1 and alert.state == "open"


def _voice_rung(world: World, device_a: SignedDevice, traveller: Any) -> tuple[Alert, str]:
    """Press, then run the ladder to its call; returns the alert and the call's CallId."""
    alert = alert_of(device_a.press())
    traveller.move_to(at(alert, 35))
    run_once()
    row = rows(alert, world.worker_a.pk)["voice"]
    assert row.status == "sent"
    return alert, row.provider_message_id


def voice_report(client: Any, items: list[dict[str, Any]], token: str | None = None) -> Any:
    token = CALLBACK_TOKENS["aliyun-voice"] if token is None else token
    return client.post(
        f"/api/v1/notify/callbacks/aliyun/voice?token={token}",
        items,
        content_type="application/json",
    )


def test_keypress_1_accepts_stops_the_ladder_and_the_escalation(
    world: World,
    device_a: SignedDevice,
    aliyun: AliyunStandIn,
    traveller: time_machine.Traveller,
    client: Any,
) -> None:
    alert, call_id = _voice_rung(world, device_a, traveller)
    out_id = str(rows(alert, world.worker_a.pk)["voice"].public_id)
    item = {"call_id": call_id, "out_id": out_id, "status_code": "200000", "dtmf": "1"}
    answer = voice_report(client, [item])
    assert answer.status_code == 200 and answer.json() == {"code": 0, "msg": "成功"}
    alert.refresh_from_db()
    assert alert.state == "accepted" and alert.accepted_by == world.worker_a
    assert not Timer.objects.filter(
        kind="alert.escalate", key=str(alert.pk), cancelled_at__isnull=True, fired_at__isnull=True
    ).exists()
    assert not OutboxMessage.objects.filter(
        subject=f"alert:{alert.pk}", status="pending", user__isnull=False
    ).exists()
    notes = list(AlertStep.objects.filter(alert=alert).values_list("kind", "note"))
    assert ("accepted", "") in notes
    assert any(k == "delivery" and n.startswith("按键 1：已接警") for k, n in notes)
    assert any(k == "delivery" and n.startswith("电话已接听") for k, n in notes)
    # The resident is called back: "your call was received, the grid worker is on the way".
    run_once()
    callback = aliyun.calls("SingleCallByTts")[-1]
    assert callback.params["CalledNumber"] == world.resident_a.phone
    assert callback.params["TtsParam"] == '{"role": "网格员"}'
    # A later escalation round does nothing: the alert is accepted.
    assert clock.fire_due(now=at(alert, 61)) == 0 or Alert.objects.get(pk=alert.pk).tier == 1


def test_keypress_1_after_an_api_accept_by_someone_else_is_refused_409_rules(
    world: World,
    device_a: SignedDevice,
    aliyun: AliyunStandIn,
    traveller: time_machine.Traveller,
    client: Any,
    client_for: Any,
) -> None:
    alert, call_id = _voice_rung(world, device_a, traveller)
    assert (
        client_for(world.supervisor_1).post(f"/api/v1/alerts/{alert.pk}/accept").status_code == 200
    )
    voice_report(client, [{"call_id": call_id, "status_code": "200000", "dtmf": "1"}])
    alert.refresh_from_db()
    assert alert.accepted_by == world.supervisor_1  # one winner
    refused = AlertStep.objects.get(alert=alert, kind="keypress_refused")
    assert refused.actor == world.worker_a and refused.data["code"] == "alert_already_accepted"
    # And the other way round: after a keypress accept the API's accept is 409 (on a new
    # alert: while the first is open, a press would join it).
    do_resolve(user=world.supervisor_1, alert_id=alert.pk, disposition="false_press", note="")
    other = alert_of(device_a.press())
    traveller.move_to(at(other, 35))
    run_once()
    row = rows(other, world.worker_a.pk)["voice"]
    voice_report(client, [{"call_id": row.provider_message_id, "dtmf": "1"}])
    late = client_for(world.supervisor_1).post(f"/api/v1/alerts/{other.pk}/accept")
    assert late.status_code == 409 and late.json()["error"]["code"] == "alert_already_accepted"


def test_keypress_2_declines_and_calls_the_next_tier_now(
    world: World,
    device_a: SignedDevice,
    aliyun: AliyunStandIn,
    traveller: time_machine.Traveller,
    client: Any,
    rosters: Any,
) -> None:
    alert, call_id = _voice_rung(world, device_a, traveller)
    voice_report(client, [{"call_id": call_id, "status_code": "200000", "dtmf": "2"}])
    assert AlertStep.objects.filter(alert=alert, kind="declined", actor=world.worker_a).exists()
    timer = Timer.objects.get(kind="alert.escalate", key=str(alert.pk))
    assert timer.due_at <= timezone.now()  # not at 60 s: now
    run_once()
    alert.refresh_from_db()
    assert alert.tier == 2


def test_duplicate_and_forged_callbacks_change_nothing(
    world: World,
    device_a: SignedDevice,
    aliyun: AliyunStandIn,
    traveller: time_machine.Traveller,
    client: Any,
) -> None:
    alert, call_id = _voice_rung(world, device_a, traveller)
    sms_row = rows(alert, world.worker_a.pk)["sms"]
    item = {"call_id": call_id, "status_code": "200005", "dtmf": ""}
    forged = voice_report(client, [{**item, "dtmf": "1"}], token="guessed")
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "callback_forbidden"
    assert voice_report(client, [item], token="").status_code == 403
    assert not ProviderCallback.objects.exists()
    assert Alert.objects.get(pk=alert.pk).state == "open"
    for _ in range(2):
        assert voice_report(client, [item]).status_code == 200
    receipt = {
        "phone_number": world.worker_a.phone,
        "success": True,
        "err_code": "DELIVERED",
        "biz_id": sms_row.provider_message_id,
        "out_id": str(sms_row.public_id),
        "report_time": "2026-12-02 13:02:11",
    }
    url = f"/api/v1/notify/callbacks/aliyun/sms?token={CALLBACK_TOKENS['aliyun']}"
    for _ in range(3):
        assert client.post(url, [receipt], content_type="application/json").status_code == 200
    bad = client.post(url.replace("sms-cb-secret", "x"), [receipt], content_type="application/json")
    assert bad.status_code == 403
    steps = delivery_steps(alert)
    assert steps.count(("voice", "no_answer")) == 1 and steps.count(("sms", "delivered")) == 1
    note = AlertStep.objects.get(alert=alert, data__outcome="delivered").note
    assert note.startswith("短信已送达")
    assert OutboxMessage.objects.get(pk=sms_row.pk).outcome == "delivered"
    assert client.post(url, {"not": "a list"}, content_type="application/json").status_code == 422


def test_opening_the_alert_stops_that_recipients_ladder(
    world: World, device_a: SignedDevice, client_for: Any, aliyun: AliyunStandIn
) -> None:
    alert = alert_of(device_a.press())
    assert (
        client_for(world.worker_a).post(f"/api/v1/alerts/{alert.pk}/acknowledge").status_code == 200
    )
    mine = rows(alert, world.worker_a.pk)
    assert mine["sms"].status == "cancelled" and mine["voice"].status == "cancelled"
    assert mine["sms"].outcome == "acknowledged"


def test_a_socket_ack_stops_the_ladder_when_the_rung_comes_due(
    world: World, device_a: SignedDevice, aliyun: AliyunStandIn, traveller: Any
) -> None:
    alert = alert_of(device_a.press())
    sms_row = rows(alert, world.worker_a.pk)["sms"]
    mark_delivered(world.worker_a.pk, sms_row.event.seq)  # type: ignore[union-attr]
    traveller.move_to(at(alert, 40))
    run_once()
    assert {r.status for r in rows(alert, world.worker_a.pk).values()} == {"cancelled"}
    staff = [c for c in aliyun.calls("SendSms") if c.params["TemplateCode"] == "SMS_470001"]
    assert staff == [] and aliyun.calls("IvrCall") == []  # (the contacts' SMS went out)


def test_an_ack_seen_on_the_push_rung_cancels_the_later_rungs_at_once(
    world: World, device_a: SignedDevice, aliyun: AliyunStandIn
) -> None:
    alert = alert_of(device_a.press())
    mine = rows(alert, world.worker_a.pk)
    mark_delivered(world.worker_a.pk, mine["push"].event.seq)  # type: ignore[union-attr]
    run_once()  # the push rung is due now; the SMS (20 s) and call (35 s) are not yet
    after = rows(alert, world.worker_a.pk)
    assert {r.status for r in after.values()} == {"cancelled"}
    assert {r.outcome for r in after.values()} == {"acknowledged"}
    others = OutboxMessage.objects.filter(subject=f"alert:{alert.pk}").exclude(user=world.worker_a)
    assert others.exists() and not others.filter(outcome="acknowledged").exists()


def test_the_ladder_is_a_policy_per_community_and_kind(
    world: World, device_a: SignedDevice
) -> None:
    LadderPolicy.objects.create(community=world.c1, kind="emergency", sms_after_s=5)
    assert ladder_for(world.c1.pk, "emergency").voice_after_s is None
    alert = alert_of(device_a.press())
    mine = rows(alert, world.worker_a.pk)
    assert set(mine) == {"push", "sms"}
    assert mine["sms"].not_before - mine["push"].not_before == timedelta(seconds=5)
    help_alert = alert_of(device_a.press(kind="help"))
    assert set(rows(help_alert, world.worker_a.pk)) == {"push", "sms"}  # built-in: SMS at 120 s


def test_the_alert_shows_each_recipients_rungs_and_who_could_not_be_reached(
    world: World,
    device_a: SignedDevice,
    aliyun: AliyunStandIn,
    traveller: time_machine.Traveller,
    client: Any,
    client_for: Any,
) -> None:
    from tests.board.conftest import BoardClient, enrol

    world.worker_a.push_tokens.all().delete()
    alert, call_id = _voice_rung(world, device_a, traveller)
    for seconds in (36, 40):
        traveller.move_to(at(alert, seconds))
        run_once()
    supervisor = client_for(world.supervisor_1)
    (before,) = supervisor.get(f"/api/v1/alerts/{alert.pk}").json()["reach"]
    assert before["unreachable"] is False  # the call's result is not in yet
    voice_report(client, [{"call_id": call_id, "status_code": "200005"}])
    detail = supervisor.get(f"/api/v1/alerts/{alert.pk}").json()
    (worker,) = detail["reach"]
    assert worker["user"] == {"id": world.worker_a.pk, "name": world.worker_a.name}
    assert [(r["channel"], r["status"], r["outcome"]) for r in worker["rungs"]] == [
        ("push", "dead", "skipped"),
        ("sms", "sent", ""),
        ("voice", "sent", "no_answer"),
    ]
    assert worker["unreachable"] is True
    steps = [s for s in detail["timeline"] if s["kind"] == "delivery"]
    mine = [s["note"].split(" ")[0] for s in steps if s["data"]["user_id"] == world.worker_a.pk]
    assert mine == ["推送无法发送", "短信已发出", "电话已发出", "电话未接听"]
    assert {"role": "contact"} in [s["data"]["recipient"] for s in steps]  # the contacts' SMS
    enrol(world.supervisor_1)
    board = BoardClient()
    board.log_in(world.supervisor_1)
    (on_board,) = board.get(f"/board/api/alerts/{alert.pk}").json()["reach"]
    assert on_board["unreachable"] is True


@pytest.mark.django_db(transaction=True)
def test_a_keypress_and_an_api_accept_at_the_same_moment_have_one_winner(
    world: World, device_a: SignedDevice, aliyun: AliyunStandIn, client_for: Any
) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection
    from django.test import Client

    alert = alert_of(device_a.press())
    OutboxMessage.objects.filter(channel="voice").update(not_before=timezone.now())
    run_once()
    row = rows(alert, world.worker_a.pk)["voice"]
    assert row.status == "sent"
    supervisor = client_for(world.supervisor_1)
    barrier = Barrier(2)

    def keypress() -> int:
        barrier.wait()
        try:
            return voice_report(
                Client(), [{"call_id": row.provider_message_id, "dtmf": "1"}]
            ).status_code
        finally:
            connection.close()

    def api_accept() -> int:
        barrier.wait()
        try:
            return supervisor.post(f"/api/v1/alerts/{alert.pk}/accept").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        pressed, accepted = pool.submit(keypress), pool.submit(api_accept)
        assert pressed.result(timeout=30) == 200  # the provider is always answered
        api_status = accepted.result(timeout=30)
    alert.refresh_from_db()
    assert alert.state == "accepted"
    accepts = AlertStep.objects.filter(alert=alert, kind="accepted")
    assert accepts.count() == 1
    if alert.accepted_by == world.worker_a:  # the keypress won
        assert api_status == 409
    else:
        assert api_status == 200 and alert.accepted_by == world.supervisor_1
        assert AlertStep.objects.filter(alert=alert, kind="keypress_refused").count() == 1
