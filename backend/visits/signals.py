"""A grid given to or taken from a worker changes their visit list: tell their phone."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from backend.accounts.models import GridAssignment
from backend.core.stream import record_events

from .models import VisitTask


def _tell(assignment: GridAssignment, reason: str) -> None:
    if not VisitTask.objects.filter(grid_id=assignment.grid_id, state="open").exists():
        return  # nothing on the list changes
    record_events(
        user_ids=[assignment.user_id],
        type="visit.tasks_changed",
        data={"kind": "tasks_changed", "reason": reason, "grid_ids": [assignment.grid_id]},
        urgent=True,
    )


@receiver(post_save, sender=GridAssignment)
def grid_assigned(sender: type[GridAssignment], instance: GridAssignment, **kwargs: Any) -> None:
    if kwargs.get("created") and not kwargs.get("raw"):
        _tell(instance, "grid_assigned")


@receiver(post_delete, sender=GridAssignment)
def grid_unassigned(sender: type[GridAssignment], instance: GridAssignment, **kwargs: Any) -> None:
    _tell(instance, "grid_unassigned")
