"""A deactivated user's sockets close at once (their tokens already stop working)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from backend.core.stream import close_user_sockets

from .models import User


@receiver(post_save, sender=User)
def close_sockets_of_deactivated(sender: type[User], instance: User, **kwargs: Any) -> None:
    if not instance.is_active:
        user_id = instance.pk
        transaction.on_commit(lambda: close_user_sockets(user_id), robust=True)
