"""A grid given to or taken from a worker changes their visit list: tell their phone."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from backend.accounts.models import GridAssignment, User
from backend.core.stream import record_events

from .models import VisitTask


def _tell(user_id: int, grid_id: int, reason: str) -> None:
    # After commit: an assignment deleted because its user is being deleted must not leave an
    # event pointing at that user; a lost bell here only delays the list until the next change.
    def tell() -> None:
        with transaction.atomic():
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

    transaction.on_commit(tell, robust=True)


@receiver(post_save, sender=GridAssignment)
def grid_assigned(sender: type[GridAssignment], instance: GridAssignment, **kwargs: Any) -> None:
    if kwargs.get("created") and not kwargs.get("raw"):
        _tell(instance.user_id, instance.grid_id, "grid_assigned")


@receiver(post_delete, sender=GridAssignment)
def grid_unassigned(sender: type[GridAssignment], instance: GridAssignment, **kwargs: Any) -> None:
    _tell(instance.user_id, instance.grid_id, "grid_unassigned")
