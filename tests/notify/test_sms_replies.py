"""Inbound SMS: a resident texts back to a follow-up question (回访) and the gateway pushes the
reply to us. The question goes out through the real SDKs against the Aliyun and Tencent
stand-ins; the replies are posted in the exact JSON each gateway pushes (Aliyun SmsUp's batch,
Tencent's reply callback) to our endpoints, and land in the assessment: the follow-up is rated.
A duplicate push changes nothing, a wrong URL secret is refused and changes nothing, a number
we never texted or a text that is no answer is kept, ignored and answered OK (the gateways
retry anything else), and no log line holds the number."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from backend.alerts.models import Alert, AlertStep
from backend.assessment import follow_ups
from backend.assessment.models import FollowUp
from backend.core import clock
from backend.core.personal import phone_digest
from backend.notify import outbox, sms
from backend.notify.models import OutboxMessage, ProviderCallback, SmsReply
from backend.servicedesk.models import Case, ServiceItem
from tests.conftest import World

from .aliyun_standin import AliyunStandIn
from .conftest import CALLBACK_TOKENS, SMS_CODES
from .tencent_standin import TencentStandIn

pytestmark = pytest.mark.django_db

ALIYUN_UP = "/api/v1/notify/callbacks/aliyun/sms-up"
TENCENT_UP = "/api/v1/notify/callbacks/tencent/sms-reply"
TENCENT_TOKEN = "tencent-cb"


def closed_case(world: World, number: str) -> Case:
    item, _ = ServiceItem.objects.get_or_create(
        code="r-allowance",
        defaults={
            "name_zh": "高龄津贴", "name_en": "allowance", "category": "elderly",
            "line": "elderly_care", "time_limit_days": 20,
        },
    )  # fmt: skip
    return Case.objects.create(
        number=number, item=item, state="closed", district=world.district,
        community=world.c1, grid=world.grid_b, household=world.household_b,
        resident=world.resident_b, channel="doorstep", filed_by=world.worker_b,
        assignee=world.officer_elderly_1, closed_at=timezone.now(),
    )  # fmt: skip


def ask_by_sms(world: World, number: str) -> FollowUp:
    """A closed case for resident_b (no app account, a mobile): asked by SMS, and the
    question sent by the dispatcher's outbox duty."""
    case = closed_case(world, number)
    assert follow_ups.ask_due() >= 1
    fu = FollowUp.objects.get(source="case", source_ref=str(case.pk))
    assert fu.channel == "sms"
    assert clock.fire_due() >= 1
    assert outbox.send_due() >= 1
    row = OutboxMessage.objects.get(subject=f"follow_up:{fu.pk}")
    assert row.status == "sent" and row.to_digest == phone_digest(world.resident_b.phone)
    return fu


def sms_up(phone: str, content: str, sequence_id: int | str) -> list[dict[str, Any]]:
    """What Aliyun pushes for a reply (HTTP batch push of SmsUp messages)."""
    return [
        {
            "phone_number": phone,
            "send_time": "2026-12-02 13:02:11",
            "content": content,
            "sign_name": "社区一键通",
            "dest_code": "1234",
            "sequence_id": sequence_id,
        }
    ]


def tencent_reply(phone: str, text: str, at: int = 1796187731) -> dict[str, Any]:
    """What Tencent Cloud SMS posts for a reply (one object)."""
    return {
        "extend": "",
        "mobile": phone,
        "nationcode": "86",
        "sign": "社区一键通",
        "text": text,
        "time": at,
    }


@pytest.fixture
def aliyun_sms(aliyun: AliyunStandIn, settings: SettingsWrapper) -> AliyunStandIn:
    settings.SMS_TEMPLATE_CODES = {**SMS_CODES, "follow_up": "SMS_470009"}
    return aliyun


@pytest.fixture
def tencent(settings: SettingsWrapper) -> Iterator[TencentStandIn]:
    standin = TencentStandIn("AKIDstandin", "tencent-secret-key").start()
    settings.SMS_BACKEND = "backend.notify.sms.TencentSmsBackend"
    settings.TENCENT_SECRET_ID, settings.TENCENT_SECRET_KEY = standin.secret_id, standin.secret_key
    settings.TENCENT_SMS_SDK_APP_ID = "1400000001"
    settings.TENCENT_SMS_ENDPOINT, settings.TENCENT_PROTOCOL = standin.endpoint, "http"
    settings.SMS_TEMPLATE_CODES = {"follow_up": "2233449"}
    settings.NOTIFY_CALLBACK_TOKENS = {"tencent": TENCENT_TOKEN}
    yield standin
    sms.reset_backends()
    standin.stop()
    assert not standin.refused, standin.refused


def post(client: Any, url: str, body: Any) -> Any:
    return client.post(url, body, content_type="application/json")


def test_an_aliyun_smsup_reply_rates_the_follow_up_once(
    world: World, aliyun_sms: AliyunStandIn, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fu = ask_by_sms(world, "R0000001")
    [sent] = aliyun_sms.calls("SendSms")
    assert sent.params["PhoneNumbers"] == world.resident_b.phone
    assert sent.params["TemplateCode"] == "SMS_470009" and fu.code in sent.params["TemplateParam"]
    caplog.set_level(logging.DEBUG)  # from here on: what the replies' path logs
    url = f"{ALIYUN_UP}?token={CALLBACK_TOKENS['aliyun']}"
    push = sms_up(world.resident_b.phone, "4", 1234567890)
    answer = post(client, url, push)
    assert answer.status_code == 200 and answer.json() == {"code": 0, "msg": "成功"}
    fu.refresh_from_db()
    assert (fu.state, fu.score, fu.answer_phone) == ("rated", 4, world.resident_b.phone)
    [reply] = SmsReply.objects.all()
    assert (reply.provider, reply.text, reply.outcome) == ("aliyun", "4", "rated")
    assert reply.phone == world.resident_b.phone and reply.extend == "1234"
    assert reply.message is not None and reply.message.subject == f"follow_up:{fu.pk}"
    assert reply.replied_at is not None
    answered_at = fu.answered_at

    again = post(client, url, push)  # Aliyun pushes again when our answer was lost
    assert again.status_code == 200 and again.json()["code"] == 0
    assert SmsReply.objects.count() == 1
    fu.refresh_from_db()
    assert (fu.state, fu.score, fu.answered_at) == ("rated", 4, answered_at)

    # A new reply (another sequence id) to an answered question: kept, changes nothing.
    later = post(client, url, sms_up(world.resident_b.phone, "1", 1234567891))
    assert later.status_code == 200
    assert SmsReply.objects.latest("pk").outcome == "no_open_follow_up"
    fu.refresh_from_db()
    assert fu.score == 4
    assert not [r for r in caplog.records if world.resident_b.phone in r.getMessage()]


def test_a_wrong_or_missing_secret_is_refused_and_changes_nothing(
    world: World, aliyun_sms: AliyunStandIn, client: Any
) -> None:
    fu = ask_by_sms(world, "R0000002")
    callbacks_before = ProviderCallback.objects.count()
    push = sms_up(world.resident_b.phone, "5", 77)
    for url in (ALIYUN_UP, f"{ALIYUN_UP}?token=guess", f"{ALIYUN_UP}?token=voice-cb-secret"):
        answer = post(client, url, push)
        assert answer.status_code == 403, url
        assert answer.json()["error"]["code"] == "callback_forbidden"
    tencent = post(client, f"{TENCENT_UP}?token=sms-cb-secret", tencent_reply("x", "5"))
    assert tencent.status_code == 403  # Aliyun's secret is not Tencent's
    fu.refresh_from_db()
    assert (fu.state, fu.score) == ("asked", None)
    assert SmsReply.objects.count() == 0
    assert ProviderCallback.objects.count() == callbacks_before
    # The same push with the secret is then taken: the refusal did not use up its key.
    assert post(client, f"{ALIYUN_UP}?token=sms-cb-secret", push).status_code == 200
    fu.refresh_from_db()
    assert fu.score == 5


def test_a_tencent_reply_with_the_code_rates_that_follow_up_once(
    world: World, tencent: TencentStandIn, client: Any
) -> None:
    fu = ask_by_sms(world, "R0000003")
    [request] = tencent.requests
    assert request["TemplateId"] == "2233449" and request["TemplateParamSet"] == [fu.code]
    url = f"{TENCENT_UP}?token={TENCENT_TOKEN}"
    body = tencent_reply(world.resident_b.phone, f"{fu.code} 5")
    for _ in range(2):  # the second is Tencent's retry: the same number, time and text
        answer = post(client, url, body)
        assert answer.status_code == 200 and answer.json() == {"result": 0, "errmsg": "OK"}
    fu.refresh_from_db()
    assert (fu.state, fu.score) == ("rated", 5)
    [reply] = SmsReply.objects.all()
    assert (reply.provider, reply.outcome, reply.sign_name) == ("tencent", "rated", "社区一键通")
    # The dedup key is a keyed digest: it holds no number.
    assert not ProviderCallback.objects.filter(key__contains=world.resident_b.phone).exists()
    # "N" declines; a reply in another minute is a new one, but the question is answered.
    later = post(client, url, tencent_reply(world.resident_b.phone, f"{fu.code} N", 1796187791))
    assert later.status_code == 200
    assert SmsReply.objects.latest("pk").outcome == "already_answered"
    fu.refresh_from_db()
    assert (fu.state, fu.score) == ("rated", 5)


def test_a_bare_score_answers_the_most_recent_open_question_to_that_number(
    world: World, aliyun_sms: AliyunStandIn, client: Any
) -> None:
    older = ask_by_sms(world, "R0000004")
    FollowUp.objects.filter(pk=older.pk).update(asked_at=timezone.now() - timedelta(hours=2))
    newer = ask_by_sms(world, "R0000005")
    url = f"{ALIYUN_UP}?token={CALLBACK_TOKENS['aliyun']}"
    phone = f"+86{world.resident_b.phone}"  # the gateway may write the country code
    assert post(client, url, sms_up(phone, "２分", "901")).status_code == 200  # full-width 2
    newer.refresh_from_db()
    older.refresh_from_db()
    assert (newer.state, newer.score, older.state) == ("rated", 2, "asked")
    assert post(client, url, sms_up(phone, "n", "902")).status_code == 200
    older.refresh_from_db()
    assert (older.state, older.score) == ("declined", None)
    assert list(SmsReply.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "rated",
        "declined",
    ]


def test_unknown_numbers_and_texts_are_kept_ignored_and_answered_ok(
    world: World, aliyun_sms: AliyunStandIn, client: Any
) -> None:
    fu = ask_by_sms(world, "R0000006")
    alert = Alert.objects.create(
        kind="emergency", source="device", resident=world.resident_a,
        household=world.household_a, grid=world.grid_a, community=world.c1,
    )  # fmt: skip
    with transaction.atomic():  # an alert's SMS to a contact: alerts do not hear replies
        outbox.enqueue(
            channel="sms", subject=f"alert:{alert.pk}", to="13900007777",
            template="alert_contacts", params={"name": "张**", "duty_phone": "12345"},
        )  # fmt: skip
    assert outbox.send_due() == 1
    steps = AlertStep.objects.filter(alert=alert).count()
    url = f"{ALIYUN_UP}?token={CALLBACK_TOKENS['aliyun']}"
    batch = [
        *sms_up("13900000042", "5", 1),  # a number we never texted
        *sms_up(world.resident_b.phone, "好评", 2),  # not an answer
        *sms_up("13900007777", "1", 3),  # an answer to an alert's text, not to a follow-up
    ]
    answer = post(client, url, batch)
    assert answer.status_code == 200 and answer.json()["code"] == 0
    outcomes = list(SmsReply.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == ["unmatched", "invalid", "unmatched"]
    assert AlertStep.objects.filter(alert=alert).count() == steps  # not on the alert's timeline
    fu.refresh_from_db()
    assert (fu.state, fu.score) == ("asked", None)


def test_malformed_pushes_are_refused_with_a_stable_code(
    world: World, aliyun_sms: AliyunStandIn, client: Any
) -> None:
    url = f"{ALIYUN_UP}?token={CALLBACK_TOKENS['aliyun']}"
    bad_json = client.post(url, b"[{", content_type="application/json")
    assert bad_json.status_code == 400 and bad_json.json()["error"]["code"] == "invalid_json"
    for body in ({"phone_number": "1"}, [{"content": "1"}], [1]):
        answer = post(client, url, body)
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "validation_error"
    assert SmsReply.objects.count() == 0


def test_a_question_sent_before_the_digest_existed_is_matched_after_the_backfill(
    world: World, aliyun_sms: AliyunStandIn, client: Any
) -> None:
    fu = ask_by_sms(world, "R0000007")
    OutboxMessage.objects.filter(subject=f"follow_up:{fu.pk}").update(to_digest="")  # as before
    url = f"{ALIYUN_UP}?token={CALLBACK_TOKENS['aliyun']}"
    assert post(client, url, sms_up(world.resident_b.phone, "3", 501)).status_code == 200
    assert SmsReply.objects.get().outcome == "unmatched"
    out = io.StringIO()
    call_command("digest_outbox_numbers", stdout=out)
    assert out.getvalue().strip() == "1 SMS rows digested"
    call_command("digest_outbox_numbers", stdout=out)  # nothing left to do
    assert out.getvalue().splitlines()[-1] == "0 SMS rows digested"
    assert post(client, url, sms_up(world.resident_b.phone, "3", 502)).status_code == 200
    fu.refresh_from_db()
    assert (fu.state, fu.score) == ("rated", 3)
