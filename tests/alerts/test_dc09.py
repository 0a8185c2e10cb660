"""The DC-09 receiver's answers and what they commit, frame by frame (in this process: the
sockets, other processes and kill -9 are in tests/faults/test_alarm_receiver.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from alarm_receiver.server import Receiver
from backend.alerts.devices import DEVICE_SILENT
from backend.alerts.models import AlarmAccount, Alert, AlertKind, AlertStep, Device
from backend.alerts.panels import EVENT_CODES, do_register_alarm_account
from backend.alerts.selectors import escalation_deadline
from backend.core import clock
from backend.core.models import IdempotencyRecord, StreamEvent, Timer
from tests.alerts.conftest import Rosters
from tests.alerts.dc09 import Answer, message, stale
from tests.conftest import World

pytestmark = pytest.mark.django_db

ACCOUNT = "A1234"
KEY = "0123456789ABCDEF"  # AES-128: the 16 characters the panel is programmed with


@pytest.fixture
def panel(world: World) -> AlarmAccount:
    return do_register_alarm_account(
        account=ACCOUNT, resident=world.resident_a, key=KEY, supervision_s=600
    )


@pytest.fixture
def plain_panel(world: World) -> AlarmAccount:
    return do_register_alarm_account(account="B77", resident=world.resident_b)


def pending(**kwargs: str) -> QuerySet[Timer]:
    return Timer.objects.filter(fired_at__isnull=True, cancelled_at__isnull=True, **kwargs)


def send(frame: bytes, receiver: Receiver | None = None) -> Answer:
    return Answer.parse((receiver or Receiver()).answer(frame))


def _close_to_now(at: datetime) -> bool:
    return abs((at - datetime.now(UTC)).total_seconds()) < 5


def test_a_panic_in_the_clear_is_an_emergency_and_the_ack_is_well_formed(
    world: World, plain_panel: AlarmAccount
) -> None:
    answer = send(message("B77", "PA", seq=7, zone=3))
    assert answer.kind == "ACK"
    assert answer.body.startswith('"ACK"0007R1L1#B77[')
    alert = Alert.objects.get()
    assert (alert.kind, alert.source, alert.device_id) == (
        "emergency",
        "device",
        plain_panel.device_id,
    )
    assert alert.resident_id == world.resident_b.pk
    raised = alert.timeline.get(kind="raised")
    assert raised.data["transport"] == "dc09"
    assert (raised.data["code"], raised.data["zone"], raised.data["sequence"]) == (
        "PA",
        "3",
        "0007",
    )


def test_an_encrypted_medical_alarm_gets_an_encrypted_ack_with_the_receivers_time(
    world: World, panel: AlarmAccount
) -> None:
    answer = send(message(ACCOUNT, "MA", key=KEY))
    assert answer.kind == "*ACK"
    assert _close_to_now(answer.receiver_time(key=KEY))
    alert = Alert.objects.get()
    assert alert.kind == AlertKind.EMERGENCY and alert.resident_id == world.resident_a.pk


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(lambda: message(ACCOUNT, "PA", key=KEY, crc=0x1234), id="bad-crc"),
        pytest.param(lambda: message(ACCOUNT, "PA", key=KEY, length=7), id="bad-length"),
        pytest.param(lambda: message(ACCOUNT, "PA", key=KEY, at=stale()), id="stale-timestamp"),
        pytest.param(lambda: message("FFF9", "PA"), id="unknown-account"),
        pytest.param(lambda: message("FFF9", "PA", key=KEY), id="unknown-encrypted"),
        pytest.param(lambda: message(ACCOUNT, "PA", key="FEDCBA9876543210"), id="wrong-key"),
        pytest.param(lambda: message(ACCOUNT, "PA", key=KEY, receiver="R9"), id="wrong-receiver"),
    ],
)
def test_what_cannot_be_trusted_is_naked_with_the_receivers_time_and_creates_nothing(
    panel: AlarmAccount, frame: object
) -> None:
    panel.receiver = "R1"
    panel.save(update_fields=["receiver"])
    heard_before = Device.objects.get(pk=panel.device_id).last_heard_at
    answer = send(frame())  # type: ignore[operator]
    assert answer.kind == "NAK"
    assert answer.body.startswith('"NAK"0000R')
    assert _close_to_now(answer.receiver_time())
    assert not Alert.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    assert not StreamEvent.objects.exists()
    assert Device.objects.get(pk=panel.device_id).last_heard_at == heard_before


def test_the_same_message_twice_is_one_alert_and_two_acks(panel: AlarmAccount) -> None:
    frame = message(ACCOUNT, "PA", seq=42, key=KEY)
    first, second = send(frame), send(frame, Receiver())  # a retry, or the backup receiver
    assert first.kind == second.kind == "*ACK"
    alert = Alert.objects.get()
    assert alert.presses == 1
    assert not alert.timeline.filter(kind="pressed_again").exists()


def test_a_new_message_while_the_alert_is_open_is_pressed_again(panel: AlarmAccount) -> None:
    send(message(ACCOUNT, "PA", seq=1, key=KEY))
    alert = Alert.objects.get()
    tier, escalates_at = alert.tier, escalation_deadline(alert)
    assert escalates_at is not None
    send(message(ACCOUNT, "QA", seq=2, key=KEY))  # the same resident's fall detector
    alert.refresh_from_db()
    assert Alert.objects.count() == 1 and alert.presses == 2
    assert (alert.tier, escalation_deadline(alert)) == (tier, escalates_at)
    step = alert.timeline.get(kind="pressed_again")
    assert step.data["count"] == 2 and step.data["code"] == "QA"


@pytest.mark.parametrize(
    ("contact_id", "kind"),
    [("1100", "emergency"), ("1101", "emergency"), ("1120", "emergency"), ("1111", "fire")],
)
def test_contact_id_events_mean_what_their_sia_codes_do(
    panel: AlarmAccount, contact_id: str, kind: str
) -> None:
    assert send(message(ACCOUNT, "", key=KEY, contact_id=contact_id)).kind == "*ACK"
    assert Alert.objects.get().kind == kind


@pytest.mark.parametrize("code", ["PA", "MA", "HA", "QA"])
def test_panic_medical_hold_up_and_fall_are_emergencies(panel: AlarmAccount, code: str) -> None:
    assert send(message(ACCOUNT, code, key=KEY)).kind == "*ACK"
    assert Alert.objects.get().kind == AlertKind.EMERGENCY


def test_a_fire_calls_tier_1_and_the_community_duty_at_once_and_says_call_119(
    world: World, rosters: Rosters, panel: AlarmAccount
) -> None:
    assert send(message(ACCOUNT, "FA", key=KEY)).kind == "*ACK"
    alert = Alert.objects.get()
    assert alert.kind == AlertKind.FIRE and alert.tier == 1
    called = set(alert.recipients.values_list("user_id", flat=True))
    assert {world.worker_a.pk, world.supervisor_1.pk} <= called
    urgent = StreamEvent.objects.filter(type="alert.raised", urgent=True)
    assert set(urgent.values_list("user_id", flat=True)) >= {world.supervisor_1.pk}
    assert urgent.first().data["call"] == "119"  # type: ignore[union-attr]
    kinds = list(alert.timeline.values_list("kind", flat=True))
    assert kinds.index("call_119") < kinds.index("tier_called")
    assert "119" in alert.timeline.get(kind="call_119").note
    assert not pending(kind="alert.text_contacts").exists()  # contacts: emergencies


@pytest.mark.parametrize(
    ("code", "clear", "kind"),
    [
        ("YT", "YR", AlertKind.LOW_BATTERY),
        ("AT", "AR", AlertKind.POWER_LOSS),
        ("TA", "TR", AlertKind.TAMPER),
        ("YC", "YK", AlertKind.COMM_TROUBLE),
    ],
)
def test_troubles_are_technical_alarms_repeated_into_one_and_cleared(
    world: World, panel: AlarmAccount, code: str, clear: str, kind: str
) -> None:
    send(message(ACCOUNT, code, seq=1, key=KEY))
    send(message(ACCOUNT, code, seq=2, key=KEY))
    alert = Alert.objects.get()
    assert alert.kind == kind and alert.state == Alert.State.OPEN and alert.presses == 2
    assert set(alert.recipients.values_list("user_id", flat=True)) == {world.worker_a.pk}
    assert send(message(ACCOUNT, clear, seq=3, key=KEY)).kind == "*ACK"
    alert.refresh_from_db()
    assert alert.state == Alert.State.CLOSED


def test_a_code_outside_the_table_is_heard_and_logged_an_unknown_one_is_duh(
    panel: AlarmAccount,
) -> None:
    assert "BA" not in EVENT_CODES
    assert send(message(ACCOUNT, "BA", key=KEY)).kind == "*ACK"  # burglary: heard only
    assert not Alert.objects.exists()
    assert Device.objects.get(pk=panel.device_id).last_heard_at is not None
    assert send(message(ACCOUNT, "QQ", seq=2, key=KEY)).kind == "DUH"


def test_null_messages_are_the_supervision_an_account_that_stops_goes_offline(
    world: World, panel: AlarmAccount
) -> None:
    assert send(message(ACCOUNT, "", null=True, key=KEY)).kind == "*ACK"
    device = Device.objects.get(pk=panel.device_id)
    assert device.last_heard_at is not None and not Alert.objects.exists()
    # Ten minutes of supervision interval, three missed: the silence timer raises offline.
    Device.objects.filter(pk=device.pk).update(last_heard_at=timezone.now() - timedelta(minutes=31))
    clock.schedule(kind=DEVICE_SILENT, key=str(device.pk), due_at=timezone.now())
    clock.fire_due()
    offline = Alert.objects.get(kind=AlertKind.DEVICE_OFFLINE)
    assert offline.device_id == device.pk and offline.state == Alert.State.OPEN
    # The panel's next NULL message closes it, as an HTTP heartbeat does.
    assert send(message(ACCOUNT, "", seq=9, null=True, key=KEY)).kind == "*ACK"
    offline.refresh_from_db()
    assert offline.state == Alert.State.CLOSED
    assert pending(kind=DEVICE_SILENT, key=str(device.pk)).exists()


def test_the_aes_key_is_stored_encrypted(panel: AlarmAccount) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM alerts_alarmaccount WHERE id = %s", [panel.pk])
        (stored,) = cursor.fetchone()
    assert KEY not in stored
    assert AlarmAccount.objects.get(pk=panel.pk).key == KEY


def test_every_press_step_says_its_transport(panel: AlarmAccount) -> None:
    send(message(ACCOUNT, "PA", key=KEY))
    assert AlertStep.objects.filter(data__transport="dc09").count() == 1


def test_the_test_senders_frames_are_what_the_receiver_acks(plain_panel: AlarmAccount) -> None:
    from alarm_receiver.sender import frame

    panel_key = do_register_alarm_account(account="CAFE", resident=plain_panel.device.resident)
    assert panel_key.key == ""
    assert send(frame("B77", "PA", seq=5)).kind == "ACK"
    key = "K" * 16
    do_register_alarm_account(account="BEEF", resident=plain_panel.device.resident, key="A" * 16)
    assert send(frame("BEEF", "", null=True, key="A" * 16)).kind == "*ACK"
    assert send(frame("BEEF", "PA", key=key)).kind == "NAK"  # the wrong key
    assert Alert.objects.count() == 1
