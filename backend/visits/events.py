"""What visits tell workers on the stream: the JSON-safe picture of a task, and "your list
changed" to the B-post workers of the grids concerned."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from backend.accounts.models import GridAssignment
from backend.core.stream import record_events

from .models import VisitTask


def grid_workers(grid_ids: Iterable[int]) -> dict[int, list[int]]:
    """The active B-post workers of each grid."""
    out: dict[int, list[int]] = defaultdict(list)
    for grid_id, user_id in GridAssignment.objects.filter(
        grid_id__in=set(grid_ids), user__is_active=True
    ).values_list("grid_id", "user_id"):
        out[grid_id].append(user_id)
    return out


def task_summary(task: VisitTask) -> dict[str, Any]:
    household = task.household
    return {
        "task_id": task.pk,
        "kind": task.kind,
        "state": task.state,
        "reason": task.reason,
        "due_at": task.due_at.isoformat(),
        "grid_id": task.grid_id,
        "household": {
            "id": household.pk,
            "address": household.address,
            "lat": household.location.y,
            "lon": household.location.x,
        },
    }


def tell_lists_changed(
    grid_ids: Iterable[int],
    *,
    reason: str,
    urgent: bool = False,
    exclude: int | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """`visit.tasks_changed` once to each worker of the grids (not to `exclude`, who made it)."""
    by_user: dict[int, set[int]] = defaultdict(set)
    for grid_id, users in grid_workers(grid_ids).items():
        for user_id in users:
            if user_id != exclude:
                by_user[user_id].add(grid_id)
    for user_id, grids in sorted(by_user.items()):
        record_events(
            user_ids=[user_id],
            type="visit.tasks_changed",
            data={
                "kind": "tasks_changed",
                "reason": reason,
                "grid_ids": sorted(grids),
                **(data or {}),
            },
            urgent=urgent,
        )
