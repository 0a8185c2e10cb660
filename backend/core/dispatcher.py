"""The dispatcher: fires due timers, rings for events a crash left unrung, pushes urgent events
to users without a live socket, and prunes what has expired. Any number may run at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from . import clock, stream
from .models import SocketPresence, StreamEvent

logger = logging.getLogger(__name__)

PRESENCE_TTL = timedelta(seconds=90)
# An urgent event a "live" socket has not taken within this long is pushed anyway: the
# socket may have died with its process (kill -9) before its presence row expired.
DELIVERY_GRACE = timedelta(seconds=5)
PUSH_BATCH = 100


def push_pending() -> int:
    """Push urgent events no socket has taken: at once for users with no live socket, after
    DELIVERY_GRACE for users whose socket has not taken them (it may be dead).

    One query finds only what is due (the partial index `stream_push_pending` holds just the
    urgent events not yet delivered nor pushed) and claims it with SKIP LOCKED, so two
    dispatchers never push the same event twice and an idle round reads nothing."""
    from backend.notify.delivery import push_events

    now = timezone.now()
    live = SocketPresence.objects.filter(
        user_id=OuterRef("user_id"), seen_at__gte=now - PRESENCE_TTL
    )
    with transaction.atomic():
        claimed = list(
            StreamEvent.objects.select_for_update(skip_locked=True)
            .filter(urgent=True, pushed_at__isnull=True, delivered_at__isnull=True)
            .filter(Q(at__lte=now - DELIVERY_GRACE) | ~Exists(live))
            .order_by("at")[:PUSH_BATCH]
        )
        if not claimed:
            return 0
        StreamEvent.objects.filter(pk__in=[e.pk for e in claimed]).update(pushed_at=now)
    push_events(claimed)
    return len(claimed)


def housekeeping() -> None:
    from backend.alerts.signing import prune_nonces

    stream.prune()
    prune_nonces()
    clock.ensure_recurring()
    SocketPresence.objects.filter(seen_at__lt=timezone.now() - 10 * PRESENCE_TTL).delete()


def run_once() -> int:
    """One round of every duty; returns how much work it found."""
    work = 0
    work += clock.fire_due()
    work += stream.relay_unpublished()
    work += push_pending()
    return work


def run(*, stop: threading.Event, poll: float = 0.1, housekeeping_every: float = 60.0) -> None:
    last_housekeeping = 0.0
    while not stop.is_set():
        try:
            close_old_connections()
            work = run_once()
            if time.monotonic() - last_housekeeping > housekeeping_every:
                housekeeping()
                last_housekeeping = time.monotonic()
        except Exception:
            logger.exception("dispatcher round failed")
            connection.close()
            work = 0
            stop.wait(1.0)
        if not work:
            stop.wait(poll)
    connection.close()


def serve(*, stop: threading.Event, poll: float = 0.1) -> None:
    """Run the dispatcher (blocking) in a worker thread of an event loop of its own, so that
    ringing sockets from it (async_to_sync) reuses that loop's channel-layer connection
    instead of opening one per call."""
    asyncio.run(sync_to_async(run, thread_sensitive=False)(stop=stop, poll=poll))


def start_in_loop(poll: float = 0.1) -> tuple[asyncio.Task[None], threading.Event]:
    """For the embedded default: one process serves HTTP, websockets and the dispatcher. Call
    from the server's event loop: the in-memory channel layer is then rung on that loop."""
    stop = threading.Event()
    task = asyncio.ensure_future(sync_to_async(run, thread_sensitive=False)(stop=stop, poll=poll))
    return task, stop
