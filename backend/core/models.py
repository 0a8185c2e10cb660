"""The event stream (per-user, ordered, replayable) and the durable clock (timers).

Every domain writes its events and its deadlines here, in the same transaction as its own rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class StreamCursor(models.Model):
    """The last sequence number given to a user's stream. Bumping it locks the row until commit,
    so a user's events are numbered in commit order (no gaps seen by a reconnecting client)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True
    )
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user_id}@{self.last_seq}"


class StreamEvent(models.Model):
    """One event for one user: the stored letter; the channel layer only rings the bell."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    seq = models.BigIntegerField()
    type = models.CharField(max_length=64)
    data = models.JSONField()
    at = models.DateTimeField(default=timezone.now)
    urgent = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    # An urgent event is handed to a live socket (delivered) or pushed to the phone.
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "seq"], name="unique_stream_seq"),
        ]
        indexes = [
            models.Index(
                fields=["at"],
                name="stream_unpublished",
                condition=models.Q(published_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}#{self.seq} {self.type}"

    def frame(self) -> dict[str, object]:
        return {"id": self.seq, "type": self.type, "at": self.at.isoformat(), "data": self.data}


class Timer(models.Model):
    """A durable deadline: fired once by whichever dispatcher locks it first."""

    kind = models.CharField(max_length=64)
    key = models.CharField(max_length=200)
    due_at = models.DateTimeField()
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    fired_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="unique_timer")]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="timer_pending",
                condition=models.Q(fired_at__isnull=True, cancelled_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}@{self.due_at:%H:%M:%S}"


class SocketPresence(models.Model):
    """A live websocket of a user, refreshed while open; stale rows (kill -9) expire."""

    channel_name = models.CharField(max_length=200, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    session_id = models.UUIDField(null=True, blank=True)
    connected_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.user_id} {self.channel_name}"


class IdempotencyRecord(models.Model):
    """The first answer to a client-generated id, given again to every retry (as Stripe does)."""

    scope = models.CharField(max_length=100)
    key = models.UUIDField()
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="unique_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"
