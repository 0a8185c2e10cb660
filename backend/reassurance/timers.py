"""The weekly reassurance job on the durable clock.

`reassurance.weekly` is one recurring timer, fired early on Monday by whichever dispatcher
locks it; it re-arms itself for the next Monday and fans out one `reassurance.place` timer per
community (keyed by the community: a second run the same week re-arms the same rows), so each
community's calls are placed in one short transaction. Placing is idempotent per resident and
week (a unique row), so either step may run twice. `reassurance.settle` (one per community)
closes the answer window of the calls placed.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from backend.core import clock
from backend.core.models import Timer
from backend.territory.models import Community

from .actions import SETTLE, do_place_weekly_calls, settle_community
from .selectors import week_of

WEEKLY = "reassurance.weekly"
PLACE = "reassurance.place"
WEEKLY_AT = time(0, 10)  # Monday, local time; the calls go at each rule's own day and time


def next_weekly_run(now: datetime) -> datetime:
    local = timezone.localtime(now)
    monday = local.date() - timedelta(days=local.weekday())
    run = timezone.make_aware(datetime.combine(monday, WEEKLY_AT))
    return run if run > local else run + timedelta(days=7)


clock.recurring(WEEKLY, next_weekly_run)


@clock.handles(WEEKLY)
def weekly(timer: Timer) -> None:
    now = timezone.now()
    week = week_of(timezone.localdate(max(now, timer.due_at)))
    due = [
        Timer(kind=PLACE, key=str(pk), due_at=now, payload={"week": week.isoformat()})
        for pk in Community.objects.order_by("pk").values_list("pk", flat=True)
    ]
    # One INSERT ... ON CONFLICT for every community (clock.schedule writes one at a time).
    Timer.objects.bulk_create(
        due,
        update_conflicts=True,
        unique_fields=["kind", "key"],
        update_fields=["due_at", "payload", "fired_at", "cancelled_at", "attempts", "last_error"],
        batch_size=1000,
    )
    clock.schedule(kind=WEEKLY, key=timer.key, due_at=next_weekly_run(max(now, timer.due_at)))


@clock.handles(PLACE)
def place(timer: Timer) -> None:
    week = timer.payload.get("week")
    do_place_weekly_calls(
        community_id=int(timer.key), week=date.fromisoformat(week) if week else None
    )


@clock.handles(SETTLE)
def settle(timer: Timer) -> None:
    later = settle_community(community_id=int(timer.key))
    if later is not None:
        clock.schedule(kind=SETTLE, key=timer.key, due_at=later)
