"""One-off visit tasks: a follow-up after an emergency alert, a device check after an alarm,
a delivery of a case's result — once per source, on the grid workers' lists at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.core.stream import record_events
from backend.territory.models import Household
from backend.visits.events import grid_workers, task_summary
from backend.visits.models import TaskKind, VisitTask

ONE_OFF_WITHIN = timedelta(hours=24)


def do_raise_visit_task(
    *,
    household: Household,
    kind: str,
    reason: str,
    due_at: datetime,
    source_kind: str = "",
    source_ref: str = "",
    data: dict[str, Any] | None = None,
) -> tuple[VisitTask, bool]:
    """A one-off visit (follow-up, device check, delivery, ...) for the household's grid.

    Once per (kind, source): a retried caller gets the first task back. The grid's B-post
    workers get `visit.task` on their stream, pushed when their phone has no live socket.
    Call inside `transaction.atomic()`.
    """
    if source_ref:
        existing = VisitTask.objects.filter(
            kind=kind, source_kind=source_kind, source_ref=source_ref
        ).first()
        if existing is not None:
            return existing, False
    grid = household.grid
    try:
        with transaction.atomic():
            task = VisitTask.objects.create(
                kind=kind,
                household=household,
                grid_id=household.grid_id,
                community_id=grid.community_id,
                reason=reason[:300],
                data=data or {},
                source_kind=source_kind,
                source_ref=source_ref,
                due_at=due_at,
            )
    except IntegrityError:
        return VisitTask.objects.get(
            kind=kind, source_kind=source_kind, source_ref=source_ref
        ), False
    record_events(
        user_ids=grid_workers([grid.pk]).get(grid.pk, []),
        type="visit.task",
        data=task_summary(task),
        urgent=True,
    )
    return task, True


def do_follow_up_after_alert(*, alert: Any) -> VisitTask:
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


def do_device_check_after_alarm(*, alert: Any) -> VisitTask:
    """A button device went silent: check it at the door within 24 h. Call in its transaction."""
    task, _ = do_raise_visit_task(
        household=alert.household,
        kind=TaskKind.DEVICE_CHECK,
        reason=f"设备离线，上门检查 device {alert.device.device_id} went offline",
        due_at=alert.created_at + ONE_OFF_WITHIN,
        source_kind="alert",
        source_ref=str(alert.pk),
        data={"alert_id": alert.pk, "device_id": alert.device.device_id},
    )
    return task
