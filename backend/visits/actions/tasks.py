"""One-off visit tasks (a follow-up after an emergency alert, a device check after an alarm,
a delivery of a case's result — raised by backend.alerts and backend.servicedesk, which sit
above visits): once per source, on the grid workers' lists at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.accounts.selectors import b_post_workers
from backend.core.stream import record_events
from backend.territory.models import Household
from backend.visits.events import task_summary, tell_lists_changed
from backend.visits.models import VisitTask

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
        user_ids=b_post_workers([grid.pk]).get(grid.pk, []),
        type="visit.task",
        data=task_summary(task),
        urgent=True,
    )
    return task, True


def do_cancel_visit_task(*, kind: str, source_kind: str, source_ref: str) -> bool:
    """The source no longer needs its one-off visit (a notice reached the household another
    way): cancel the open task, if there is one, and tell the grid's workers' lists."""
    task = VisitTask.objects.filter(
        kind=kind, source_kind=source_kind, source_ref=source_ref, state=VisitTask.State.OPEN
    ).first()
    if task is None:
        return False
    VisitTask.objects.filter(pk=task.pk, state=VisitTask.State.OPEN).update(
        state=VisitTask.State.CANCELLED, done_at=timezone.now()
    )
    tell_lists_changed({task.grid_id}, reason="not_needed", urgent=False)
    return True
