"""A grid given to or taken from a worker changes their visit list: tell their phone, in the
transaction of the change (backend.accounts.actions makes it; the relay rings after commit)."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from backend.accounts.models import GridAssignment, User
from backend.core.stream import record_events

from .models import VisitTask


def _tell(user_id: int, grid_id: int, reason: str) -> None:
    if not User.objects.filter(pk=user_id, is_active=True).exists():
        return
    if not VisitTask.objects.filter(grid_id=grid_id, state="open").exists():
        return  # nothing on the list changes
    record_events(
        user_ids=[user_id],
        type="visit.tasks_changed",
        data={"kind": "tasks_changed", "reason": reason, "grid_ids": [grid_id]},
        urgent=True,
    )


def _deleting_users(origin: Model | QuerySet[Any] | None) -> bool:
    """The assignment goes because its user does: nobody to tell, and an event for them
    would point at a row about to go in the same delete."""
    model = origin.model if isinstance(origin, QuerySet) else type(origin)
    return model is User


@receiver(post_save, sender=GridAssignment)
def grid_assigned(sender: type[GridAssignment], instance: GridAssignment, **kwargs: Any) -> None:
    if kwargs.get("created") and not kwargs.get("raw"):
        _tell(instance.user_id, instance.grid_id, "grid_assigned")


@receiver(post_delete, sender=GridAssignment)
def grid_unassigned(sender: type[GridAssignment], instance: GridAssignment, **kwargs: Any) -> None:
    if not _deleting_users(kwargs.get("origin")):
        _tell(instance.user_id, instance.grid_id, "grid_unassigned")
