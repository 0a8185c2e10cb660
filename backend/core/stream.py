"""Per-user event streams: record in the caller's transaction, ring on commit, replay on connect.

A user's events are numbered 1, 2, 3 ... by bumping `StreamCursor.last_seq`, which holds the
row lock until commit, so numbers are given in commit order. The channel layer is a doorbell
(it may drop messages, and Redis may be down); the stored stream is what a client replays with
`last_event_id`, and `relay_unpublished` rings again for anything a crash left unrung.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import SocketPresence, StreamCursor, StreamEvent

logger = logging.getLogger(__name__)

RETENTION = timedelta(days=7)
REPLAY_LIMIT = 1000


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def session_group(session_id: object) -> str:
    return f"session.{session_id}"


def close_session_sockets(session_id: object) -> None:
    """Ask every socket of a revoked session to close (they also re-check on their own)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(session_group(session_id), {"type": "session.revoked"})
    except Exception:
        logger.warning("could not ring session %s to close", session_id, exc_info=True)


def close_user_sockets(user_id: int) -> None:
    """Close every socket of a user whose access was withdrawn (deactivated)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": "session.revoked"})
    except Exception:
        logger.warning("could not ring user %s to close", user_id, exc_info=True)


def _bump(counts: dict[int, int]) -> dict[int, int]:
    """Reserve `counts[user]` numbers of each user's stream in one statement; returns each
    user's last. Locks the cursor rows, in user-id order (so writers cannot deadlock)."""
    table = StreamCursor._meta.db_table
    users = sorted(counts)
    rows = ", ".join(["(%s, %s)"] * len(users))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, last_seq) VALUES {rows} "  # noqa: S608
            f"ON CONFLICT (user_id) DO UPDATE SET last_seq = {table}.last_seq + excluded.last_seq "
            "RETURNING user_id, last_seq",
            [v for uid in users for v in (uid, counts[uid])],
        )
        return {int(uid): int(seq) for uid, seq in cursor.fetchall()}


_Pending = tuple[tuple[int, ...], str, dict[str, Any], bool]
_local = threading.local()
# Called with the urgent events of each write, inside its transaction (backend.notify writes
# the delivery ladder's outbox rows there). Registered by apps above core in AppConfig.ready.
_urgent_hooks: dict[str, Callable[[list[StreamEvent]], None]] = {}


def on_urgent(name: str, hook: Callable[[list[StreamEvent]], None]) -> None:
    """Run `hook(urgent_events)` in the transaction that records them (after their INSERT)."""
    _urgent_hooks[name] = hook


@contextmanager
def batch() -> Iterator[None]:
    """Write the events recorded inside at the end, all at once. Use inside
    `transaction.atomic()`, around an action that tells several groups.

    The action then takes its stream locks once, in user-id order (two actions that tell
    overlapping groups cannot deadlock), and holds them only from the end of its work to its
    commit. Nested batches are written by the outermost one; an exception writes nothing.
    """
    if getattr(_local, "pending", None) is not None:
        yield
        return
    _local.pending = []
    try:
        yield
        pending: list[_Pending] = _local.pending
    finally:
        _local.pending = None
    _write(pending)


def record_events(
    *, user_ids: Iterable[int], type: str, data: dict[str, Any], urgent: bool = False
) -> None:
    """Store one event per recipient and ring their sockets after commit.

    Call inside `transaction.atomic()`. `data` must be JSON-safe (checked here, not at send).
    """
    json.dumps(data)
    item: _Pending = (tuple(sorted(set(user_ids))), type, data, urgent)
    pending = getattr(_local, "pending", None)
    if pending is not None:
        pending.append(item)
    else:
        _write([item])


def _write(items: list[_Pending]) -> None:
    per_user: dict[int, list[tuple[str, dict[str, Any], bool]]] = defaultdict(list)
    for user_ids, type, data, urgent in items:
        for uid in user_ids:
            per_user[uid].append((type, data, urgent))
    if not per_user:
        return
    now = timezone.now()
    last = _bump({uid: len(wanted) for uid, wanted in per_user.items()})
    events: list[StreamEvent] = []
    for uid in sorted(per_user):
        wanted = per_user[uid]
        first = last[uid] - len(wanted) + 1
        events += [
            StreamEvent(user_id=uid, seq=first + i, type=t, data=d, at=now, urgent=u)
            for i, (t, d, u) in enumerate(wanted)
        ]
    StreamEvent.objects.bulk_create(events)
    urgent_events = [e for e in events if e.urgent]
    if urgent_events:
        for hook in list(_urgent_hooks.values()):
            hook(urgent_events)
    transaction.on_commit(lambda: publish(events), robust=True)


def publish(events: list[StreamEvent]) -> int:
    """Ring each recipient's group (one hop to the event loop for them all); mark what was
    rung. Failures are left to the relay."""
    layer = get_channel_layer()
    if layer is None or not events:
        return 0
    rung: list[int] = []

    async def ring() -> None:
        for event in events:
            await layer.group_send(
                user_group(event.user_id),
                {"type": "stream.event", "frame": event.frame(), "urgent": event.urgent},
            )
            rung.append(event.pk)

    async def bounded() -> None:
        # A Redis that is cut off (not refusing) would hold the request, and with it the
        # process's one thread for sync code, for the socket timeout: the relay rings later.
        await asyncio.wait_for(ring(), timeout=settings.STREAM_PUBLISH_TIMEOUT)

    try:
        async_to_sync(bounded)()
    except Exception:
        logger.warning(
            "channel layer unavailable; %d event(s) left to the relay",
            len(events) - len(rung),
            exc_info=True,
        )
    if rung:
        StreamEvent.objects.filter(pk__in=rung).update(published_at=timezone.now())
    return len(rung)


def relay_unpublished(*, older_than: timedelta = timedelta(seconds=1), limit: int = 500) -> int:
    """Ring for events committed but never rung (a crash between commit and publish)."""
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        events = list(
            StreamEvent.objects.select_for_update(skip_locked=True)
            .filter(published_at__isnull=True, at__lte=cutoff)
            .order_by("user_id", "seq")[:limit]
        )
        return publish(events)


def replay(user_id: int, after: int) -> tuple[bool, list[dict[str, Any]]]:
    """Frames after `after`, in order; (False, []) when the client must resync instead."""
    cursor = StreamCursor.objects.filter(user_id=user_id).first()
    last = cursor.last_seq if cursor else 0
    if after > last:
        return False, []
    if after == last:
        return True, []
    events = list(
        StreamEvent.objects.filter(user_id=user_id, seq__gt=after).order_by("seq")[
            : REPLAY_LIMIT + 1
        ]
    )
    if not events or events[0].seq != after + 1 or len(events) > REPLAY_LIMIT:
        return False, []
    return True, [e.frame() for e in events]


def mark_delivered(user_id: int, up_to: int) -> int:
    """The phone acknowledged every frame up to `up_to`: their urgent events need no push.

    Only the phone's acknowledgement counts; a write into a half-open socket (a phone in a
    lift) succeeds on the server and proves nothing.
    """
    return StreamEvent.objects.filter(
        user_id=user_id, seq__lte=up_to, urgent=True, delivered_at__isnull=True
    ).update(delivered_at=timezone.now())


def current_seq(user_id: int) -> int:
    cursor = StreamCursor.objects.filter(user_id=user_id).first()
    return cursor.last_seq if cursor else 0


def prune(*, now: Any = None) -> int:
    cutoff = (now or timezone.now()) - RETENTION
    deleted, _ = StreamEvent.objects.filter(at__lt=cutoff, published_at__isnull=False).delete()
    return deleted


# -- live sockets (presence): who has a socket open, so urgent events are pushed only to the
# others. A socket refreshes its row while open; rows of a killed process expire.


def socket_opened(*, channel_name: str, user_id: int, session_id: uuid.UUID | None) -> None:
    SocketPresence.objects.create(channel_name=channel_name, user_id=user_id, session_id=session_id)


def socket_seen(*, channel_name: str) -> None:
    SocketPresence.objects.filter(channel_name=channel_name).update(seen_at=timezone.now())


def socket_closed(*, channel_name: str) -> None:
    SocketPresence.objects.filter(channel_name=channel_name).delete()


def _mentions_grid(value: Any, grid_id: int) -> bool:
    """An event about something in the grid (an alert, a case, a task carry `grid_id`); the
    bare notice that a list changed (`grid_ids` only) holds nothing personal and stays."""
    if isinstance(value, dict):
        if value.get("grid_id") == grid_id:
            return True
        return any(_mentions_grid(v, grid_id) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_grid(v, grid_id) for v in value)
    return False


def redact_grid_events(*, user_id: int, grid_id: int) -> int:
    """Empty the stored events of `user_id` that speak of `grid_id` (a grid they no longer
    see): a replay after reconnecting must not hand them its addresses and residents. The
    frames keep their numbers (type `redacted`), so the stream has no gap."""
    changed = []
    for event in StreamEvent.objects.filter(user_id=user_id).only("pk", "type", "data"):
        if event.type != REDACTED and _mentions_grid(event.data, grid_id):
            event.type, event.data = REDACTED, {}
            changed.append(event)
    StreamEvent.objects.bulk_update(changed, ["type", "data"])
    return len(changed)


REDACTED = "redacted"
