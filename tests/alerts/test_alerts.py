"""One-key alerts: signed presses, routing by tier, escalation on the durable clock, the
lifecycle, false presses, technical alarms."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backend.alerts.models import Alert, AlertRecipient, DeviceNonce
from backend.alerts.selectors import escalation_deadline
from backend.core import clock
from backend.core.models import IdempotencyRecord, StreamEvent, Timer
from backend.notify import sms
from backend.notify.outbox import send_due
from tests.alerts.conftest import Rosters, SignedDevice, alert_of
from tests.conftest import CaptureEvents, World

pytestmark = pytest.mark.django_db


def later(seconds: float) -> Any:
    return timezone.now() + timedelta(seconds=seconds)


# -- the press -----------------------------------------------------------------------------


def test_press_commits_and_calls_the_grid_manager_on_duty(
    world: World,
    device_a: SignedDevice,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    capture_events: CaptureEvents,
) -> None:
    settings.SMS_BACKEND = "backend.notify.sms.LocmemBackend"
    sms.outbox.clear()
    with capture_events() as events, django_capture_on_commit_callbacks(execute=True):
        response = device_a.press(location={"lat": 30.925, "lon": 117.805, "accuracy_m": 12})
    assert response.status_code == 201
    alert = alert_of(response)
    assert (alert.state, alert.tier, alert.kind, alert.grid) == (
        "open",
        1,
        "emergency",
        world.grid_a,
    )
    assert list(alert.recipients.values_list("user_id", "tier")) == [(world.worker_a.pk, 1)]
    raised = events.of(world.worker_a, "alert.raised")
    assert len(raised) == 1 and raised[0].urgent
    assert raised[0].data["seconds_left"] == 60
    # Watchers hear of it too, not urgently: the supervisor and the district administrator.
    for watcher in (world.supervisor_1, world.admin):
        (update,) = events.of(watcher)
        assert update.type == "alert.updated" and not update.urgent
        assert update.data["tier"] == 1
    assert not events.of(world.worker_b)  # another grid's manager
    # The deadline is stored once, as the timer's due_at (issue 9).
    timer = Timer.objects.get(kind="alert.escalate", key=str(alert.pk))
    assert not hasattr(alert, "next_escalation_at")
    assert escalation_deadline(alert) == timer.due_at
    assert 59 <= (timer.due_at - alert.created_at).total_seconds() <= 61
    assert raised[0].data["escalates_at"] == timer.due_at.isoformat()
    # The emergency contact's SMS is a durable job on the clock, due at once (a crash after
    # commit cannot lose it): it writes an outbox row, which the dispatcher's duty sends.
    assert sms.outbox == []
    assert clock.fire_due() == 1
    assert sms.outbox == []
    send_due()
    assert [m.phone for m in sms.outbox] == ["13900000001"]
    (text,) = [m.text for m in sms.outbox]
    assert sms.outbox[0].template == "alert_contacts"
    assert "张桂英" not in text and "张**" in text and "12345" in text  # masked; the duty phone


def test_retrying_the_same_press_creates_one_alert(device_a: SignedDevice) -> None:
    body = {"client_alert_id": str(uuid.uuid4()), "kind": "emergency", "battery": 80}
    answers = [device_a.post("/api/v1/device/alerts", body) for _ in range(10)]
    assert {a.status_code for a in answers} == {201}
    assert len({a.content for a in answers}) == 1
    assert Alert.objects.count() == 1
    changed = device_a.post("/api/v1/device/alerts", {**body, "kind": "help"})
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_mismatch"
    assert Alert.objects.count() == 1


@pytest.mark.parametrize("fault", ["signature", "stale", "future", "nonce", "unknown", "headers"])
def test_bad_device_requests_are_401_with_server_time_and_create_nothing(
    device_a: SignedDevice, fault: str
) -> None:
    body = {"client_alert_id": str(uuid.uuid4()), "kind": "emergency"}
    if fault == "nonce":
        assert device_a.post("/api/v1/device/alerts", body, nonce="n-1").status_code == 201
        body = {"client_alert_id": str(uuid.uuid4()), "kind": "emergency"}
    before = (Alert.objects.count(), DeviceNonce.objects.count())
    if fault == "signature":
        response = device_a.post("/api/v1/device/alerts", body, secret="0" * 64)
    elif fault == "stale":
        response = device_a.post("/api/v1/device/alerts", body, at=int(time.time()) - 305)
    elif fault == "future":
        response = device_a.post("/api/v1/device/alerts", body, at=int(time.time()) + 305)
    elif fault == "nonce":
        response = device_a.post("/api/v1/device/alerts", body, nonce="n-1")
    elif fault == "unknown":
        response = SignedDevice("NO-SUCH-DEVICE", device_a.secret).post(
            "/api/v1/device/alerts", body
        )
    else:
        from django.test import Client

        response = Client().post("/api/v1/device/alerts", body, content_type="application/json")
    assert response.status_code == 401
    payload = response.json()
    assert payload["error"]["code"].startswith("device_")
    assert abs(payload["server_time"] - time.time()) < 5
    assert (Alert.objects.count(), DeviceNonce.objects.count()) == before


def test_a_device_naming_another_resident_is_refused(world: World, device_a: SignedDevice) -> None:
    response = device_a.press(resident_id=world.resident_b.pk)
    assert response.status_code == 422
    assert list(response.json()["error"]["fields"]) == ["resident_id"]
    assert Alert.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0


def test_a_revoked_device_is_refused(device_a: SignedDevice, client_for: Any, world: World) -> None:
    from backend.alerts.devices import do_revoke_device
    from backend.alerts.models import Device

    do_revoke_device(device=Device.objects.get(device_id=device_a.device_id))
    assert device_a.press().status_code == 401
    assert Alert.objects.count() == 0


# -- escalation ----------------------------------------------------------------------------


def test_escalation_walks_the_tiers_and_earlier_tiers_stay_informed(
    world: World, device_a: SignedDevice, rosters: Rosters, capture_events: CaptureEvents
) -> None:
    alert = alert_of(device_a.press())
    assert alert.tier == 1
    assert clock.fire_due() == 1  # the emergency contacts' SMS, due at once
    with capture_events() as everything:
        with capture_events() as events:
            assert clock.fire_due(now=later(61)) == 1
        alert.refresh_from_db()
        assert alert.tier == 2
        tier2 = set(
            AlertRecipient.objects.filter(alert=alert, tier=2).values_list("user_id", flat=True)
        )
        assert tier2 == {rosters.nearby.pk, rosters.far.pk}
        assert events.of(rosters.nearby, "alert.raised")[0].data["tier"] == 2
        # Tier 1 hears that the alert moved on.
        assert events.of(world.worker_a)[-1].data["tier"] == 2
        with capture_events() as events:
            clock.fire_due(now=later(122))
        alert.refresh_from_db()
        assert alert.tier == 3
        assert events.of(world.supervisor_1, "alert.raised")[-1].data["tier"] == 3
        with capture_events() as events:
            clock.fire_due(now=later(183))
        alert.refresh_from_db()
        assert alert.tier == 4
        assert events.of(rosters.duty_officer, "alert.raised")
        clock.fire_due(now=later(244))
        alert.refresh_from_db()
        assert escalation_deadline(alert) is None
        assert alert.timeline.filter(kind="escalation_exhausted").count() == 1
        # Nothing fires twice.
        assert clock.fire_due(now=later(400)) == 0
    assert len(everything.of(rosters.nearby, "alert.raised")) == 1


def test_nearest_workers_only_when_their_position_is_fresh(
    world: World, device_a: SignedDevice, rosters: Rosters
) -> None:
    from backend.accounts.models import WorkerPosition
    from backend.alerts.models import EscalationPolicy

    EscalationPolicy.objects.create(
        community=world.c1, kind="emergency", tier_timeouts=[60, 60, 60, 60], nearest_workers=1
    )
    WorkerPosition.objects.filter(user=rosters.nearby).update(
        at=timezone.now() - timedelta(minutes=11)
    )
    alert = alert_of(device_a.press())
    clock.fire_due(now=later(61))
    assert list(
        AlertRecipient.objects.filter(alert=alert, tier=2).values_list("user_id", flat=True)
    ) == [rosters.far.pk]


def test_an_empty_tier_is_skipped_at_once_and_visibly(world: World, device_a: SignedDevice) -> None:
    # Nobody else is on duty: tier 2, 3 and 4 are empty.
    alert = alert_of(device_a.press())
    clock.fire_due(now=later(61))
    alert.refresh_from_db()
    skipped = list(alert.timeline.filter(kind="tier_skipped").values_list("data", flat=True))
    assert [s["tier"] for s in skipped] == [2, 3, 4]
    assert alert.timeline.filter(kind="escalation_exhausted").exists()


def test_with_nobody_in_tier_one_the_first_tier_with_someone_is_called(
    world: World, device_b: SignedDevice, rosters: Rosters
) -> None:
    # Grid B's manager (worker B) has no shift now.
    alert = alert_of(device_b.press())
    assert alert.tier == 2
    first_skip = alert.timeline.filter(kind="tier_skipped").first()
    assert first_skip is not None and first_skip.data["tier"] == 1


def test_help_policy_differs_from_emergency(device_a: SignedDevice) -> None:
    alert = alert_of(device_a.press("help"))
    due = escalation_deadline(alert)
    assert due is not None
    assert 299 <= (due - alert.created_at).total_seconds() <= 301


# -- the lifecycle -------------------------------------------------------------------------


def test_accept_has_one_winner_and_stops_escalation(
    world: World, device_a: SignedDevice, rosters: Rosters, client_for: Any
) -> None:
    alert = alert_of(device_a.press())
    clock.fire_due(now=later(61))  # now at tier 2 as well
    a, nearby = client_for(world.worker_a), client_for(rosters.nearby)
    assert a.post(f"/api/v1/alerts/{alert.pk}/acknowledge").status_code == 200
    first = nearby.post(
        f"/api/v1/alerts/{alert.pk}/accept", {"location": {"lat": 30.9, "lon": 117.8}}
    )
    assert first.status_code == 200
    assert first.json()["state"] == "accepted"
    second = a.post(f"/api/v1/alerts/{alert.pk}/accept")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "alert_already_accepted"
    assert second.json()["error"]["accepted_by"] == {"id": rosters.nearby.pk, "name": "近"}
    # The escalation that was due is not fired after the accept.
    assert clock.fire_due(now=later(600)) == 0
    alert.refresh_from_db()
    assert (alert.tier, alert.state) == (2, "accepted")
    kinds = list(alert.timeline.values_list("kind", flat=True))
    assert kinds[-2:] == ["acknowledged", "accepted"]


def test_an_escalation_racing_an_accept_changes_nothing(
    world: World, device_a: SignedDevice, client_for: Any
) -> None:
    from backend.alerts.actions import escalate

    alert = alert_of(device_a.press())
    assert client_for(world.worker_a).post(f"/api/v1/alerts/{alert.pk}/accept").status_code == 200
    before = StreamEvent.objects.count()
    escalate(alert_id=alert.pk, tier=1)  # the handler as a late dispatcher would run it
    alert.refresh_from_db()
    assert alert.state == "accepted" and alert.tier == 1
    assert StreamEvent.objects.count() == before


def test_arrive_and_resolve_with_a_disposition(
    world: World, device_a: SignedDevice, client_for: Any
) -> None:
    alert = alert_of(device_a.press())
    a = client_for(world.worker_a)
    assert (
        a.post(f"/api/v1/alerts/{alert.pk}/arrive", {"location": {"lat": 1, "lon": 1}}).status_code
        == 409
    )
    a.post(f"/api/v1/alerts/{alert.pk}/accept")
    assert a.post(f"/api/v1/alerts/{alert.pk}/arrive", {}).status_code == 422
    arrived = a.post(
        f"/api/v1/alerts/{alert.pk}/arrive",
        {"location": {"lat": 30.925, "lon": 117.805, "accuracy_m": 8}},
    )
    assert arrived.json()["state"] == "arrived"
    missing = a.post(
        f"/api/v1/alerts/{alert.pk}/resolve", {"note": "ok"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert missing.status_code == 422
    assert list(missing.json()["error"]["fields"]) == ["disposition"]
    alert.refresh_from_db()
    assert alert.state == "arrived"
    done = a.post(
        f"/api/v1/alerts/{alert.pk}/resolve",
        {"disposition": "ambulance_called", "note": "120 已到"},
    )
    assert done.json()["state"] == "resolved"
    detail = a.get(f"/api/v1/alerts/{alert.pk}").json()
    steps = [s["kind"] for s in detail["timeline"]]
    assert steps == ["raised", "tier_called", "accepted", "arrived", "resolved"]
    arrived_step = detail["timeline"][3]
    assert arrived_step["actor_id"] == world.worker_a.pk
    assert arrived_step["location"] == {"lat": 30.925, "lon": 117.805}
    assert a.post(f"/api/v1/alerts/{alert.pk}/resolve", {"disposition": "other"}).status_code == 409


def test_resident_cancels_a_false_press_within_a_minute(
    world: World, device_a: SignedDevice, client_for: Any, capture_events: CaptureEvents
) -> None:
    alert = alert_of(device_a.press())
    resident = client_for(world.resident_user_a)
    assert client_for(world.worker_a).post(f"/api/v1/alerts/{alert.pk}/cancel").status_code == 403
    with capture_events() as events:
        response = resident.post(f"/api/v1/alerts/{alert.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    assert events.of(world.worker_a)[-1].data["state"] == "cancelled"
    assert Timer.objects.get(kind="alert.escalate", key=str(alert.pk)).cancelled_at is not None
    late = alert_of(device_a.press())
    Alert.objects.filter(pk=late.pk).update(created_at=timezone.now() - timedelta(seconds=61))
    too_late = resident.post(f"/api/v1/alerts/{late.pk}/cancel")
    assert too_late.status_code == 409
    assert too_late.json()["error"]["code"] == "alert_cancel_too_late"


def test_device_cancel_only_its_own_alert(device_a: SignedDevice, device_b: SignedDevice) -> None:
    mine, theirs = alert_of(device_a.press()), alert_of(device_b.press())
    assert device_a.post(f"/api/v1/device/alerts/{theirs.pk}/cancel", b"").status_code == 404
    assert device_a.post(f"/api/v1/device/alerts/{mine.pk}/cancel", b"").status_code == 200


def test_resident_app_and_worker_for_resident_raise_the_same_kinds(
    world: World, client_for: Any
) -> None:
    body = {"client_alert_id": str(uuid.uuid4()), "kind": "help"}
    own = client_for(world.resident_user_a).post("/api/v1/alerts", body)
    assert own.status_code == 201
    assert alert_of(own).source == "resident_app"
    worker = client_for(world.worker_a)
    assert worker.post("/api/v1/alerts", body).status_code == 403
    by_worker = worker.post(
        f"/api/v1/residents/{world.resident_a.pk}/alerts",
        {"client_alert_id": str(uuid.uuid4()), "kind": "emergency"},
    )
    assert by_worker.status_code == 201
    assert alert_of(by_worker).raised_by == world.worker_a
    out = worker.post(
        f"/api/v1/residents/{world.resident_b.pk}/alerts",
        {"client_alert_id": str(uuid.uuid4()), "kind": "emergency"},
    )
    assert out.status_code == 404


# -- device supervision --------------------------------------------------------------------


def test_silent_device_raises_a_technical_alarm_that_closes_when_heard(
    world: World, device_a: SignedDevice, capture_events: CaptureEvents
) -> None:
    from backend.alerts.models import Device

    device = Device.objects.get(device_id=device_a.device_id)
    armed = Timer.objects.get(kind="device.silent", key=str(device.pk)).due_at
    assert abs((armed - device.created_at).total_seconds() - 3 * 3600) < 1  # at registration
    assert device_a.post("/api/v1/device/heartbeat", {"battery": 90}).status_code == 200
    device.refresh_from_db()
    # A heartbeat does not move the timer (one UPDATE of the device, nothing else) ...
    assert Timer.objects.get(kind="device.silent", key=str(device.pk)).due_at == armed
    # ... the timer, when due, sees the device was heard since, and moves to the real deadline.
    assert clock.fire_due(now=later(3 * 3600 + 1)) == 1
    assert not Alert.objects.filter(kind="device_offline").exists()
    timer = Timer.objects.get(kind="device.silent", key=str(device.pk))
    assert timer.fired_at is None
    assert device.last_heard_at is not None
    assert abs((timer.due_at - device.last_heard_at).total_seconds() - 3 * 3600) < 0.001
    with capture_events() as events:
        assert clock.fire_due(now=later(3 * 3600 + 1)) == 1  # not heard since: silent
    offline = Alert.objects.get(kind="device_offline")
    assert offline.state == "open" and escalation_deadline(offline) is None
    assert list(offline.recipients.values_list("user_id", flat=True)) == [world.worker_a.pk]
    (raised,) = events.of(world.worker_a, "alert.raised")
    assert raised.data["kind"] == "device_offline" and not raised.urgent
    device_a.post("/api/v1/device/heartbeat", {"battery": 15})
    offline.refresh_from_db()
    assert offline.state == "closed"
    low = Alert.objects.get(kind="low_battery")
    assert low.state == "open"
    device_a.post("/api/v1/device/heartbeat", {"battery": 15})
    assert Alert.objects.filter(kind="low_battery").count() == 1
    device_a.post("/api/v1/device/heartbeat", {"battery": 100})
    low.refresh_from_db()
    assert low.state == "closed"
