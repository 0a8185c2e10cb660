"""Tencent Cloud SMS through tencentcloud-sdk-python-sms against the stand-in (TC3 signature
verified): signature name, template id and positional parameters, SessionContext as our
idempotency key, retryable errors, and its delivery receipt landing on the outbox row once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from backend.notify import outbox, sms
from backend.notify.models import OutboxMessage
from backend.notify.outbox import send_due

from .tencent_standin import TencentStandIn

pytestmark = pytest.mark.django_db

PARAMS = {"kind": "紧急求助", "grid": "7", "alert": "99"}


@pytest.fixture
def tencent(settings: Any) -> Iterator[TencentStandIn]:
    standin = TencentStandIn("AKIDstandin", "tencent-secret-key").start()
    settings.SMS_BACKEND = "backend.notify.sms.TencentSmsBackend"
    settings.TENCENT_SECRET_ID, settings.TENCENT_SECRET_KEY = standin.secret_id, standin.secret_key
    settings.TENCENT_SMS_SDK_APP_ID = "1400000001"
    settings.TENCENT_SMS_ENDPOINT, settings.TENCENT_PROTOCOL = standin.endpoint, "http"
    settings.SMS_TEMPLATE_CODES = {"alert_staff": "2233445"}
    settings.NOTIFY_CALLBACK_TOKENS = {"tencent": "tencent-cb"}
    yield standin
    sms.reset_backends()
    standin.stop()
    assert not standin.refused, standin.refused


def row() -> OutboxMessage:
    with transaction.atomic():
        return outbox.enqueue(
            channel="sms", subject="t:1", to="13900002222", template="alert_staff", params=PARAMS
        )


def test_a_template_sms_through_tencent_and_its_receipt(
    tencent: TencentStandIn, client: Any
) -> None:
    message = row()
    assert send_due() == 1
    [request] = tencent.requests
    assert request["SmsSdkAppId"] == "1400000001" and request["SignName"] == "社区一键通"
    assert request["TemplateId"] == "2233445"
    assert request["TemplateParamSet"] == ["紧急求助", "7", "99"]  # the template's order
    assert request["PhoneNumberSet"] == ["+8613900002222"]
    assert request["SessionContext"] == str(message.public_id)
    message.refresh_from_db()
    assert message.status == "sent" and message.provider == "tencent"
    assert message.provider_message_id == tencent.by_context[str(message.public_id)]
    receipt = {
        "user_receive_time": "2026-12-02 13:02:11",
        "nationcode": "86",
        "mobile": "13900002222",
        "report_status": "SUCCESS",
        "errmsg": "DELIVRD",
        "description": "用户短信送达成功",
        "sid": message.provider_message_id,
    }
    url = "/api/v1/notify/callbacks/tencent/sms?token=tencent-cb"
    for _ in range(2):
        answer = client.post(url, [receipt], content_type="application/json")
        assert answer.status_code == 200 and answer.json() == {"result": 0, "errmsg": "OK"}
    assert OutboxMessage.objects.get(pk=message.pk).outcome == "delivered"
    assert client.post(url[:-3], [receipt], content_type="application/json").status_code == 403


def test_tencent_internal_errors_are_retried_and_bad_templates_are_not(
    tencent: TencentStandIn,
) -> None:
    message = row()
    tencent.fail_next("InternalError.Timeout", "timeout")
    send_due()
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("pending", 1)
    OutboxMessage.objects.filter(pk=message.pk).update(not_before=message.created_at)
    tencent.fail_next("FailedOperation.TemplateIncorrectOrUnapproved", "template not approved")
    send_due()
    message.refresh_from_db()
    assert message.status == "dead" and "TemplateIncorrect" in message.last_error
