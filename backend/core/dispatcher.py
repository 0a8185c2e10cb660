"""The dispatcher: fires due timers, rings for events a crash left unrung, runs the duties the
apps above core register (backend.notify pushes urgent events to users without a live socket),
and prunes what has expired. Any number may run at once.

Apps register their duties in their AppConfig.ready, so core never imports them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from . import clock, metrics, stream
from .models import SocketPresence

logger = logging.getLogger(__name__)

PRESENCE_TTL = timedelta(seconds=90)
# A housekeeping duty slower than this is a warning: the round's timers wait behind it.
SLOW_DUTY_S = 0.25

# name -> duty; run in registration order after core's own (timers, then the relay).
_round_duties: dict[str, Callable[[], int]] = {}
_housekeeping_duties: dict[str, Callable[[], object]] = {}


def register_duty(name: str, duty: Callable[[], int]) -> None:
    """Run `duty` every round, after the timers and the relay; it returns how much work it
    found. Registering a name again replaces it (AppConfig.ready may run more than once)."""
    _round_duties[name] = duty


def register_housekeeping(name: str, duty: Callable[[], object]) -> None:
    """Run `duty` with the housekeeping, about once a minute."""
    _housekeeping_duties[name] = duty


def _prune_presence() -> None:
    SocketPresence.objects.filter(seen_at__lt=timezone.now() - 10 * PRESENCE_TTL).delete()


def housekeeping() -> None:
    duties = {"stream": stream.prune, **_housekeeping_duties}
    duties |= {"recurring": clock.ensure_recurring, "presence": _prune_presence}
    for name, duty in duties.items():
        started = time.monotonic()
        duty()
        seconds = time.monotonic() - started
        metrics.housekeeping_duty(name, seconds)
        if seconds > SLOW_DUTY_S:
            logger.warning("slow housekeeping: %s took %.2f s", name, seconds)


def run_once() -> int:
    """One round of every duty; returns how much work it found."""
    work = 0
    work += clock.fire_due()
    work += stream.relay_unpublished()
    for duty in list(_round_duties.values()):
        work += duty()
    return work


def _beat(path: str) -> None:
    """Touch the heartbeat file the container's liveness probe reads
    (backend/config/healthcheck.py): a round that hangs stops the beat."""
    if path:
        with open(path, "a"):
            os.utime(path)


def run(*, stop: threading.Event, poll: float = 0.1, housekeeping_every: float = 60.0) -> None:
    last_housekeeping = 0.0
    beat_file = getattr(settings, "DISPATCHER_HEARTBEAT_FILE", "")
    last_beat = 0.0
    while not stop.is_set():
        try:
            close_old_connections()
            started = time.monotonic()
            work = run_once()
            metrics.dispatcher_round(time.monotonic() - started)
            if started - last_beat > 5.0:
                _beat(beat_file)
                last_beat = started
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
