"""The daily visit job on the durable clock.

`visits.daily` is one recurring timer, fired once a day by whichever dispatcher locks it; it
re-arms itself and fans out one `visits.derive` timer per community, so that the communities
are derived in short transactions, by several dispatchers at once if there are several.
Either step may run twice: the derivation is idempotent and timers are keyed.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone

from backend.core import clock
from backend.core.models import Timer
from backend.territory.models import Community

from .actions import derive_due_visits

DAILY = "visits.daily"
DERIVE = "visits.derive"
DAILY_AT = time(5, 0)  # local time (Asia/Shanghai), before the first shift


def next_daily_run(now: datetime) -> datetime:
    local = timezone.localtime(now)
    run = local.replace(hour=DAILY_AT.hour, minute=DAILY_AT.minute, second=0, microsecond=0)
    return run if run > local else run + timedelta(days=1)


clock.recurring(DAILY, next_daily_run)


@clock.handles(DAILY)
def daily(timer: Timer) -> None:
    for community_id in Community.objects.order_by("pk").values_list("pk", flat=True):
        clock.schedule(kind=DERIVE, key=str(community_id), due_at=timezone.now())
    # Strictly after this run's due time, so a late or early firing never re-arms the same day.
    clock.schedule(
        kind=DAILY, key=timer.key, due_at=next_daily_run(max(timezone.now(), timer.due_at))
    )


@clock.handles(DERIVE)
def derive_community(timer: Timer) -> None:
    derive_due_visits(community_ids=[int(timer.key)])  # for the day it actually runs
