"""The daily visit job on the durable clock: one recurring timer, fired once per day by
whichever dispatcher locks it, re-armed by its own handler."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone

from backend.core import clock
from backend.core.models import Timer

from .actions import derive_due_visits

DAILY = "visits.daily"
DAILY_AT = time(5, 0)  # local time (Asia/Shanghai), before the first shift


def next_daily_run(now: datetime) -> datetime:
    local = timezone.localtime(now)
    run = local.replace(hour=DAILY_AT.hour, minute=DAILY_AT.minute, second=0, microsecond=0)
    return run if run > local else run + timedelta(days=1)


clock.recurring(DAILY, next_daily_run)


@clock.handles(DAILY)
def derive_daily(timer: Timer) -> None:
    derive_due_visits()
    # Strictly after this run's due time, so a late or early firing never re-arms the same day.
    after = max(timezone.now(), timer.due_at)
    clock.schedule(kind=DAILY, key=timer.key, due_at=next_daily_run(after))
