"""/api/v1/health reports the outbox: a backlog older than a minute, or a provider whose last
try failed, makes it 503 "degraded"; a provider that answers again makes it healthy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from backend.notify import outbox
from backend.notify.models import OutboxMessage
from backend.notify.outbox import send_due

from .aliyun_standin import AliyunStandIn

pytestmark = pytest.mark.django_db

PARAMS = {"kind": "紧急求助", "grid": "7", "alert": "99"}


def sms(**extra: Any) -> OutboxMessage:
    with transaction.atomic():
        return outbox.enqueue(
            channel="sms",
            subject="health:1",
            to="13900001111",
            template="alert_staff",
            params=PARAMS,
            **extra,
        )


def test_a_backlog_older_than_a_minute_is_degraded(client: Any) -> None:
    sms(not_before=timezone.now() - timedelta(seconds=30))
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok" and 29 < body["outbox"]["backlog_seconds"] < 60
    OutboxMessage.objects.update(not_before=timezone.now() - timedelta(seconds=61))
    response = client.get("/api/v1/health")
    assert response.status_code == 503 and response.json()["status"] == "degraded"
    assert response.json()["outbox"]["backlog_seconds"] > 60


def test_a_failing_provider_is_degraded_until_it_answers_again(
    client: Any, aliyun: AliyunStandIn
) -> None:
    aliyun.reply("SendSms", 503, {"Code": "ServiceUnavailable", "Message": "down"})
    row = sms()
    assert send_due() == 1
    row.refresh_from_db()
    assert row.status == "pending" and row.attempts == 1
    response = client.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["outbox"]["failing_providers"] == ["aliyun"]
    OutboxMessage.objects.filter(pk=row.pk).update(not_before=timezone.now())
    assert send_due() == 1
    assert OutboxMessage.objects.get(pk=row.pk).status == "sent"
    assert client.get("/api/v1/health").json()["outbox"]["failing_providers"] == []
