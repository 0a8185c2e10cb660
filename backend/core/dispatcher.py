"""The dispatcher: fires due timers, rings for events a crash left unrung, pushes urgent events
to users without a live socket, and prunes what has expired. Any number may run at once.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.db import close_old_connections, connection
from django.utils import timezone

from . import clock, stream
from .models import SocketPresence, StreamEvent

logger = logging.getLogger(__name__)

PRESENCE_TTL = timedelta(seconds=90)
# An urgent event a "live" socket has not taken within this long is pushed anyway: the
# socket may have died with its process (kill -9) before its presence row expired.
DELIVERY_GRACE = timedelta(seconds=5)
PUSH_BATCH = 100


def live_users(user_ids: set[int]) -> set[int]:
    fresh = timezone.now() - PRESENCE_TTL
    return set(
        SocketPresence.objects.filter(user_id__in=user_ids, seen_at__gte=fresh).values_list(
            "user_id", flat=True
        )
    )


def push_pending() -> int:
    """Push urgent events no socket has taken: at once for users with no live socket, after
    DELIVERY_GRACE for users whose socket has not taken them (it may be dead)."""
    from backend.notify.delivery import push_events

    events = list(
        StreamEvent.objects.filter(
            urgent=True, pushed_at__isnull=True, delivered_at__isnull=True
        ).order_by("at")[:PUSH_BATCH]
    )
    if not events:
        return 0
    online = live_users({e.user_id for e in events})
    overdue = timezone.now() - DELIVERY_GRACE
    due = [e for e in events if e.user_id not in online or e.at <= overdue]
    # Claim with a conditional UPDATE so two dispatchers never push the same event twice.
    claimed = [
        e
        for e in due
        if StreamEvent.objects.filter(
            pk=e.pk, pushed_at__isnull=True, delivered_at__isnull=True
        ).update(pushed_at=timezone.now())
    ]
    if claimed:
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


def start_in_thread(poll: float = 0.1) -> tuple[threading.Thread, threading.Event]:
    """For the embedded default: one process serves HTTP, websockets and the dispatcher."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run, kwargs={"stop": stop, "poll": poll}, name="gridline-dispatcher", daemon=True
    )
    thread.start()
    return thread, stop
