"""Visits an alert leads to, put on the grid workers' lists through backend.visits (alerts sit
above visits: visits never name an alert)."""

from __future__ import annotations

from django.utils import timezone

from backend.visits.actions import ONE_OFF_WITHIN, do_raise_visit_task
from backend.visits.models import TaskKind, VisitTask

from .models import Alert


def do_follow_up_after_alert(*, alert: Alert) -> VisitTask:
    """An emergency alert was resolved: visit the resident within 24 h. Call in its transaction."""
    at = alert.resolved_at or timezone.now()
    task, _ = do_raise_visit_task(
        household=alert.household,
        kind=TaskKind.ALERT_FOLLOW_UP,
        reason=f"紧急求助回访（24 小时内）follow-up after emergency alert #{alert.pk}",
        due_at=at + ONE_OFF_WITHIN,
        source_kind="alert",
        source_ref=str(alert.pk),
        data={"alert_id": alert.pk, "resident_id": alert.resident_id},
    )
    return task


def do_device_check_after_alarm(*, alert: Alert) -> VisitTask:
    """A button device went silent: check it at the door within 24 h. Call in its transaction."""
    device_id = alert.device.device_id if alert.device is not None else ""
    task, _ = do_raise_visit_task(
        household=alert.household,
        kind=TaskKind.DEVICE_CHECK,
        reason=f"设备离线，上门检查 device {device_id} went offline",
        due_at=alert.created_at + ONE_OFF_WITHIN,
        source_kind="alert",
        source_ref=str(alert.pk),
        data={"alert_id": alert.pk, "device_id": device_id},
    )
    return task
