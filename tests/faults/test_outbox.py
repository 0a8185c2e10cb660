"""The outbox against real dispatcher processes and the Aliyun stand-in: kill -9 between
claiming a row and sending it, and after sending it before recording the answer; two
dispatchers taking the same due rows. Each message reaches the provider under one id."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from django.db import transaction

from backend.notify import outbox
from backend.notify.models import OutboxMessage
from harness.processes import PYTHON, Processes, wait_until
from tests.notify.aliyun_standin import AliyunStandIn
from tests.notify.conftest import ALIYUN_KEY, ALIYUN_SECRET, aliyun_settings

from .conftest import django_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PARAMS = {"kind": "紧急求助", "grid": "7", "alert": "99"}


@pytest.fixture
def aliyun() -> Iterator[AliyunStandIn]:
    standin = AliyunStandIn(ALIYUN_KEY, ALIYUN_SECRET).start()
    yield standin
    standin.stop()
    assert not standin.refused, standin.refused


def dispatcher(procs: Processes, name: str, redis_url: str, aliyun: AliyunStandIn, **extra: str):
    env = django_env(redis_url)
    for key, value in aliyun_settings(aliyun.endpoint).items():
        if isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in value.items())
        env[key] = str(value)
    env.update({"OUTBOX_LEASE_S": "2", **extra})
    argv = [PYTHON, "manage.py", "dispatcher", "--poll", "0.05"]
    proc = procs.start(name, argv, env, "dispatcher running")
    proc.wait_ready()
    return proc


def staff_sms(n: int = 1) -> list[OutboxMessage]:
    with transaction.atomic():
        return [
            outbox.enqueue(
                channel="sms",
                subject=f"fault-test:{i}",
                to=f"1390000{i:04d}",
                template="alert_staff",
                params=PARAMS,
            )
            for i in range(n)
        ]


def status(row: OutboxMessage) -> str:
    return OutboxMessage.objects.get(pk=row.pk).status


def test_kill_9_between_claim_and_send_sends_once_after_restart(
    procs: Processes, shared_redis: str, aliyun: AliyunStandIn
) -> None:
    (row,) = staff_sms()
    first = dispatcher(procs, "dispatcher-1", shared_redis, aliyun, OUTBOX_PAUSE_AFTER_CLAIM_S="60")
    wait_until(lambda: status(row) == "sending", timeout=20, what="the claim to commit")
    first.kill()  # SIGKILL: claimed, never sent
    assert aliyun.calls("SendSms") == []
    assert status(row) == "sending"
    dispatcher(procs, "dispatcher-2", shared_redis, aliyun)  # the restart
    wait_until(lambda: status(row) == "sent", timeout=20, what="the restarted dispatcher to send")
    row.refresh_from_db()
    [request] = aliyun.calls("SendSms")
    assert request.params["OutId"] == str(row.public_id)
    assert aliyun.messages == {str(row.public_id): row.provider_message_id}
    assert row.attempts == 2  # the lost claim, and the send


def test_kill_9_after_send_before_record_is_one_message_at_the_provider(
    procs: Processes, shared_redis: str, aliyun: AliyunStandIn
) -> None:
    (row,) = staff_sms()
    first = dispatcher(procs, "dispatcher-1", shared_redis, aliyun, OUTBOX_PAUSE_AFTER_SEND_S="60")
    wait_until(lambda: aliyun.calls("SendSms"), timeout=20, what="the first send")
    first.kill()  # the provider took it; we never wrote down its answer
    assert status(row) == "sending"
    dispatcher(procs, "dispatcher-2", shared_redis, aliyun)
    wait_until(lambda: status(row) == "sent", timeout=20, what="the retry to be recorded")
    row.refresh_from_db()
    # Sent again under the same OutId: the provider holds one message, whose id we record.
    assert [c.params["OutId"] for c in aliyun.calls("SendSms")] == [str(row.public_id)] * 2
    assert aliyun.messages == {str(row.public_id): row.provider_message_id}


def test_two_dispatchers_claim_each_row_once(
    procs: Processes, shared_redis: str, aliyun: AliyunStandIn
) -> None:
    rows = staff_sms(40)
    # A lease no round outlasts even on a loaded machine: each row is then tried once.
    dispatcher(procs, "dispatcher-1", shared_redis, aliyun, OUTBOX_LEASE_S="30")
    dispatcher(procs, "dispatcher-2", shared_redis, aliyun, OUTBOX_LEASE_S="30")
    wait_until(
        lambda: not OutboxMessage.objects.exclude(status="sent").exists(),
        timeout=30,
        what="every row sent",
    )
    sent = Counter(c.params["OutId"] for c in aliyun.calls("SendSms"))
    assert sent == Counter({str(r.public_id): 1 for r in rows})
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}
