"""The durable clock: one mechanism for every deadline (alert escalation, device silence,
visit schedules, SLA clocks).

A deadline is a `Timer` row written in the same transaction as the thing it belongs to. Any
number of dispatchers call `fire_due()`; each locks due rows with SELECT ... FOR UPDATE SKIP
LOCKED and runs the handler inside the same transaction that marks the timer fired, so a timer
fires exactly once, survives restarts, and a handler's writes and its `fired_at` commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import metrics, observe
from .models import Timer

logger = logging.getLogger(__name__)

Handler = Callable[[Timer], None]
HANDLERS: dict[str, Handler] = {}
# Recurring jobs (the daily visit derivation): kind -> the next due time after a moment.
RECURRING: dict[str, Callable[[datetime], datetime]] = {}
RECURRING_KEY = "recurring"
MAX_ATTEMPTS = 5
RETRY_DELAY = timedelta(seconds=5)


def handles(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def schedule(
    *, kind: str, key: str, due_at: datetime, payload: dict[str, Any] | None = None
) -> None:
    """Set (or move) the deadline `kind:key`. Call inside the transaction that needs it.
    One statement: INSERT ... ON CONFLICT (kind, key) DO UPDATE."""
    Timer.objects.bulk_create(
        [Timer(kind=kind, key=key, due_at=due_at, payload=payload or {})],
        update_conflicts=True,
        unique_fields=["kind", "key"],
        update_fields=["due_at", "payload", "fired_at", "cancelled_at", "attempts", "last_error"],
    )


def recurring(kind: str, next_due: Callable[[datetime], datetime]) -> None:
    """Keep one pending timer `kind:recurring`; its handler re-arms it with `schedule`."""
    RECURRING[kind] = next_due


def ensure_recurring(*, now: datetime | None = None) -> int:
    """Arm every recurring timer that has no pending row (first start, or after it was given up
    on). Dispatchers call this at start and then every minute; returns how many it armed."""
    now = now or timezone.now()
    armed = 0
    for kind, next_due in RECURRING.items():
        pending = Timer.objects.filter(
            kind=kind, key=RECURRING_KEY, fired_at__isnull=True, cancelled_at__isnull=True
        ).exists()
        if pending:
            continue
        try:
            with transaction.atomic():
                schedule(kind=kind, key=RECURRING_KEY, due_at=next_due(now))
            armed += 1
        except IntegrityError:
            pass  # another dispatcher armed it at the same moment
    return armed


def cancel(*, kind: str, key: str) -> int:
    return Timer.objects.filter(
        kind=kind, key=key, fired_at__isnull=True, cancelled_at__isnull=True
    ).update(cancelled_at=timezone.now())


def fire_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """Run the handlers of up to `limit` due timers, each in its own short transaction (so the
    locks a handler takes are released at once); returns how many ran."""
    at = now or timezone.now()
    pending = Timer.objects.filter(fired_at__isnull=True, cancelled_at__isnull=True, due_at__lte=at)
    # The timers due when the call began (one a handler re-arms or adds waits for the next).
    due = list(pending.order_by("due_at").values_list("pk", flat=True)[:limit])
    fired = 0
    for pk in due:
        with transaction.atomic():
            # Another dispatcher may hold it (skipped) or have fired it already (filtered).
            timer = pending.select_for_update(skip_locked=True).filter(pk=pk).first()
            if timer is None:
                continue
            # The handler's log lines name the timer (and bind the alert or case it is for).
            with observe.scope(timer=f"{timer.kind}:{timer.key}"):
                fired += _run(timer, at)
    return fired


def _run(timer: Timer, now: datetime) -> bool:
    """Call the handler in a savepoint; a failure is counted and retried later."""
    handler = HANDLERS.get(timer.kind)
    due_at = timer.due_at
    try:
        with transaction.atomic():
            if handler is None:
                raise LookupError(f"no handler for timer kind {timer.kind!r}")
            handler(timer)
    except Exception as exc:
        logger.exception("timer %s failed", timer)
        timer.attempts += 1
        timer.last_error = repr(exc)[:2000]
        if timer.attempts >= MAX_ATTEMPTS:
            timer.cancelled_at = now
        else:
            timer.due_at = now + RETRY_DELAY
        timer.save(update_fields=["attempts", "last_error", "cancelled_at", "due_at"])
        return False
    late = (timezone.now() - due_at).total_seconds()
    metrics.timer_fired(timer.kind, late)
    logger.info("timer fired", extra={"late_s": round(late, 3)})
    # A handler may re-arm its own timer (a new due_at); then it stays pending.
    Timer.objects.filter(pk=timer.pk, due_at=timer.due_at).update(fired_at=timezone.now())
    return True
