"""Repeated presses fold into one incident (and issue 11's press rate limit is that rule): a
stuck button or a frightened resident is one alert with a count, the responders are told of
each press but rung once, the family texted once; and a flood reads most urgent first."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from backend.accounts.models import User
from backend.alerts.actions import TEXT_CONTACTS, do_raise_alert
from backend.alerts.models import Alert, AlertKind
from backend.alerts.selectors import escalation_deadline
from backend.core.models import StreamEvent, Timer
from tests.alerts.conftest import Rosters, SignedDevice, alert_of
from tests.conftest import World

pytestmark = pytest.mark.django_db


def test_50_presses_in_a_minute_are_one_alert_with_50_pressed_again_steps(
    world: World, device_a: SignedDevice, rosters: Rosters
) -> None:
    first = alert_of(device_a.press())
    tier, escalates_at = first.tier, escalation_deadline(first)
    assert escalates_at is not None
    start = timezone.now()
    answers = []
    for i in range(50):
        with time_machine.travel(start + timedelta(seconds=i), tick=False):
            answers.append(device_a.press())
    assert all(a.status_code == 201 for a in answers)  # a press is never refused
    assert {a.json()["alert_id"] for a in answers} == {first.pk}
    assert answers[-1].json()["presses"] == 51

    alert = Alert.objects.get()
    assert alert.presses == 51
    assert (alert.tier, escalation_deadline(alert)) == (tier, escalates_at)  # clock not reset
    steps = list(alert.timeline.filter(kind="pressed_again").order_by("at", "pk"))
    assert len(steps) == 50
    assert [s.data["count"] for s in steps] == list(range(2, 52))
    # One ring per responder: tier 1 was called urgently once; each repeat is an update.
    rung = StreamEvent.objects.filter(type="alert.raised", urgent=True)
    assert list(rung.values_list("user_id", flat=True)) == [world.worker_a.pk]
    told = StreamEvent.objects.filter(user=world.worker_a, type="alert.updated", urgent=False)
    assert told.count() == 50
    assert told.order_by("-seq").first().data["presses"] == 51  # type: ignore[union-attr]
    # The family is texted once.
    assert Timer.objects.filter(kind=TEXT_CONTACTS).count() == 1


def test_any_device_or_the_app_joins_the_residents_open_alert(
    world: World, device_a: SignedDevice, client_for: Callable[[User], Any]
) -> None:
    from backend.alerts.devices import do_register_device

    first = alert_of(device_a.press())
    _, secret = do_register_device(device_id="FIXED-A", kind="fixed", resident=world.resident_a)
    fixed = SignedDevice("FIXED-A", secret)
    assert alert_of(fixed.press()).pk == first.pk
    app = client_for(world.resident_user_a)
    body = {"client_alert_id": str(uuid.uuid4()), "kind": "emergency"}
    assert alert_of(app.post("/api/v1/alerts", body)).pk == first.pk
    sources = list(first.timeline.filter(kind="pressed_again").values_list("data", flat=True))
    assert [d["transport"] for d in sources] == ["http", "app"]
    assert Alert.objects.count() == 1


def test_a_press_after_the_alert_ended_is_a_new_alert_but_the_family_is_not_texted_twice(
    world: World, device_a: SignedDevice
) -> None:
    first = alert_of(device_a.press())
    Alert.objects.filter(pk=first.pk).update(state=Alert.State.CANCELLED)
    second = alert_of(device_a.press())
    assert second.pk != first.pk and second.presses == 1
    assert Timer.objects.filter(kind=TEXT_CONTACTS).count() == 1  # within 5 minutes
    Alert.objects.filter(pk=second.pk).update(
        state=Alert.State.RESOLVED, created_at=timezone.now() - timedelta(minutes=6)
    )
    Alert.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(minutes=7))
    third = alert_of(device_a.press())
    assert third.pk not in (first.pk, second.pk)
    assert Timer.objects.filter(kind=TEXT_CONTACTS).count() == 2


def test_a_help_press_does_not_swallow_an_emergency(world: World, device_a: SignedDevice) -> None:
    help_alert = alert_of(device_a.press("help"))
    emergency = alert_of(device_a.press("emergency"))
    assert emergency.pk != help_alert.pk and emergency.kind == AlertKind.EMERGENCY


def test_the_list_reads_most_urgent_first_and_a_new_tier_1_emergency_on_top(
    world: World, client_for: Callable[[User], Any], device_a: SignedDevice
) -> None:
    now = timezone.now()

    def made(kind: str, resident: Any, **fields: Any) -> Alert:
        alert = do_raise_alert(resident=resident, kind=kind, source="worker")
        Alert.objects.filter(pk=alert.pk).update(**fields)
        return alert

    old_tier_3 = made("emergency", world.resident_a, tier=3, created_at=now - timedelta(minutes=3))
    accepted = made("emergency", world.resident_b, state="accepted", tier=2)
    help_t2 = made("help", world.resident_b, tier=2, created_at=now - timedelta(minutes=9))
    help_t1 = made("help", world.resident_a, tier=1, created_at=now - timedelta(minutes=20))
    offline = made("device_offline", world.resident_a, created_at=now - timedelta(hours=1))
    resolved = made("help", world.resident_a, state="resolved", resolved_at=now)
    newest = alert_of(device_a.press())  # joins nothing: resident A's emergency is older...
    assert newest.pk == old_tier_3.pk  # ...but open, so the press joins it
    Alert.objects.filter(pk=old_tier_3.pk).update(presses=1)
    fresh = made("emergency", world.resident_b, tier=1)

    ids = [a["id"] for a in client_for(world.supervisor_1).get("/api/v1/alerts").json()["items"]]
    assert ids[:2] == [fresh.pk, old_tier_3.pk]  # unaccepted emergencies, newest first
    assert ids[2:4] == [help_t2.pk, help_t1.pk]  # open help: tier reached, then age
    assert ids[4] == accepted.pk
    assert ids[5] == offline.pk
    assert ids[-1] == resolved.pk
