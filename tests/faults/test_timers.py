"""Two dispatcher processes against the same due timers: each escalation fires exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from backend.alerts.actions import ESCALATE, do_raise_alert
from backend.alerts.models import Alert, AlertKind, AlertStep, EscalationPolicy
from backend.core.models import StreamEvent, Timer
from harness.processes import Processes, wait_until
from tests.alerts.conftest import Rosters
from tests.conftest import World

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ALERTS = 50


def test_two_dispatchers_fire_each_of_50_due_escalations_exactly_once(
    procs: Processes, world: World, rosters: Rosters, shared_redis: str
) -> None:
    """50 open alerts wait at tier 1. Both dispatchers are polling before the timers become
    due, then all 50 become due in one statement, so both reach for the same rows at once.
    Afterwards (both stopped, so nothing is in flight) every alert has exactly one escalation
    step, one tier-2 call, and each tier-2 worker exactly one "alert.raised" per alert."""
    # They boot while the alerts are made; the timers are not due yet (60 s).
    first, second = procs.dispatchers(
        "dispatcher-1", "dispatcher-2", redis_url=shared_redis, wait=False
    )
    EscalationPolicy.objects.create(
        community=world.c1, kind=AlertKind.EMERGENCY, tier_timeouts=[60, 600, 600, 600]
    )
    with transaction.atomic():
        alerts = [
            do_raise_alert(
                resident=world.resident_a, kind=AlertKind.EMERGENCY, source=Alert.Source.SYSTEM
            )
            for _ in range(ALERTS)
        ]
    ids = [a.pk for a in alerts]
    timers = Timer.objects.filter(kind=ESCALATE, key__in=[str(i) for i in ids])
    assert timers.filter(fired_at__isnull=True, due_at__gt=timezone.now()).count() == ALERTS

    procs.wait_ready(first, second)
    assert timers.update(due_at=timezone.now() - timedelta(seconds=1)) == ALERTS

    wait_until(
        lambda: Alert.objects.filter(pk__in=ids, tier=2).count() == ALERTS,
        timeout=60,
        what="all 50 alerts to reach tier 2",
    )
    procs.stop_all([first, second], grace=20)  # SIGTERM: each finishes its round and exits
    for dispatcher in (first, second):
        assert dispatcher.popen is not None and dispatcher.popen.returncode == 0, dispatcher.tail()

    escalated = Counter(
        AlertStep.objects.filter(alert_id__in=ids, kind="escalated").values_list(
            "alert_id", flat=True
        )
    )
    assert escalated == Counter(ids), {k: n for k, n in escalated.items() if n != 1}
    called = Counter(
        AlertStep.objects.filter(alert_id__in=ids, kind="tier_called", data__tier=2).values_list(
            "alert_id", flat=True
        )
    )
    assert called == Counter(ids)
    tier_2 = [rosters.nearby.pk, rosters.far.pk]
    for user_id in tier_2:
        raised = Counter(
            int(alert_id)
            for alert_id in StreamEvent.objects.filter(
                user_id=user_id, type="alert.raised"
            ).values_list("data__alert_id", flat=True)
        )
        assert raised == Counter(ids), f"user {user_id}: {raised}"
    assert not StreamEvent.objects.filter(user_id__in=tier_2).exclude(type="alert.raised").exists()
    # Each timer was re-armed once, for tier 2's ten minutes, and is pending again.
    assert timers.filter(fired_at__isnull=True, payload__tier=2).count() == ALERTS
    assert not timers.filter(due_at__lt=timezone.now() + timedelta(minutes=9)).exists()
