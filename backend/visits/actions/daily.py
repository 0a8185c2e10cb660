"""The daily job: bring each household's open routine task in line with the visit rules."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

from django.db import transaction
from django.utils import timezone

from backend.territory.models import Community, Household
from backend.visits.events import tell_lists_changed
from backend.visits.models import TaskKind, VisitTask
from backend.visits.schedule import schedules


def start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def derive_due_visits(
    *, today: date | None = None, community_ids: Iterable[int] | None = None
) -> dict[str, int]:
    """Bring the open routine tasks in line with the rules: one per household that is due or
    overdue today, none for the others. Running it again changes nothing (and two runs at once
    cannot duplicate a task: one open routine task per household is a database constraint)."""
    today = today or timezone.localdate()
    ids = (
        list(community_ids)
        if community_ids is not None
        else list(Community.objects.order_by("pk").values_list("pk", flat=True))
    )
    totals = {"created": 0, "updated": 0, "cancelled": 0, "open": 0}
    for community_id in ids:
        with transaction.atomic():
            _derive_community(community_id, today, totals)
    return totals


def _derive_community(community_id: int, today: date, totals: dict[str, int]) -> None:
    open_tasks = {
        t.household_id: t
        for t in VisitTask.objects.filter(
            community_id=community_id, kind=TaskKind.ROUTINE, state=VisitTask.State.OPEN
        )
    }
    new: list[VisitTask] = []
    changed: list[VisitTask] = []
    touched: set[int] = set()
    for s in schedules(Household.objects.filter(grid__community_id=community_id)):
        due = s.due_on(today)
        task = open_tasks.pop(s.household_id, None)
        if due is None or due > today or s.rule is None:
            if task is not None:
                open_tasks[s.household_id] = task  # cancelled below
            continue
        due_at = start_of(due)
        reason = f"{s.rule.name}（每 {s.rule.interval_days} 天）"[:300]
        data = {
            "interval_days": s.rule.interval_days,
            "last_visit_at": s.last_visit_at.isoformat() if s.last_visit_at else None,
            "vulnerable": s.vulnerable,
        }
        if task is None:
            new.append(
                VisitTask(
                    kind=TaskKind.ROUTINE,
                    household_id=s.household_id,
                    grid_id=s.grid_id,
                    community_id=community_id,
                    reason=reason,
                    data=data,
                    due_at=due_at,
                )
            )
            touched.add(s.grid_id)
        elif (task.due_at, task.reason, task.data) != (due_at, reason, data):
            task.due_at, task.reason, task.data = due_at, reason, data
            changed.append(task)
            touched.add(s.grid_id)
        totals["open"] += 1
    created = VisitTask.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
    VisitTask.objects.bulk_update(changed, ["due_at", "reason", "data"], batch_size=1000)
    stale = list(open_tasks.values())
    VisitTask.objects.filter(pk__in=[t.pk for t in stale]).update(
        state=VisitTask.State.CANCELLED, done_at=timezone.now()
    )
    touched |= {t.grid_id for t in stale}
    totals["created"] += len(created)
    totals["updated"] += len(changed)
    totals["cancelled"] += len(stale)
    if touched:
        tell_lists_changed(touched, reason="daily")
