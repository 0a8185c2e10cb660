"""Working-day time for SLA clocks: Monday to Friday, less public holidays, plus make-up
working days (调休), as `CalendarDay` rows the district administrator can edit.

A time limit of N working days is N x 24 hours of working-day time: hours that fall on a
non-working day (in Asia/Shanghai) do not count. That measure is continuous, so a clock can be
paused at any instant and resumed later with exactly what was left.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from .models import CalendarDay

DAY = 86_400
_CHUNK = 120  # days of calendar read per query


class Calendar:
    """Reads the exceptions lazily, a few months at a time."""

    def __init__(self) -> None:
        self._known: dict[date, bool] = {}
        self._loaded: set[date] = set()

    def _load(self, day: date) -> None:
        start = day - timedelta(days=day.toordinal() % _CHUNK)
        if start in self._loaded:
            return
        end = start + timedelta(days=_CHUNK)
        for d, workday in CalendarDay.objects.filter(date__gte=start, date__lt=end).values_list(
            "date", "is_workday"
        ):
            self._known[d] = workday
        self._loaded.add(start)

    def is_workday(self, day: date) -> bool:
        self._load(day)
        return self._known.get(day, day.weekday() < 5)


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def working_seconds(start: datetime, end: datetime, calendar: Calendar | None = None) -> int:
    """Seconds of working-day time between two instants (0 if end <= start)."""
    if end <= start:
        return 0
    calendar = calendar or Calendar()
    start_l, end_l = timezone.localtime(start), timezone.localtime(end)
    total = 0.0
    day = start_l.date()
    while day <= end_l.date():
        if calendar.is_workday(day):
            lo = max(start_l, _midnight(day))
            hi = min(end_l, _midnight(day + timedelta(days=1)))
            total += max(0.0, (hi - lo).total_seconds())
        day += timedelta(days=1)
    return int(total)


def add_working_seconds(
    start: datetime, seconds: int, calendar: Calendar | None = None
) -> datetime:
    """The instant at which `seconds` of working-day time have passed since `start`."""
    calendar = calendar or Calendar()
    at = timezone.localtime(start)
    left = float(seconds)
    for _ in range(3660):  # ten years of days: a broken calendar cannot loop forever
        day = at.date()
        next_midnight = _midnight(day + timedelta(days=1))
        if calendar.is_workday(day):
            room = (next_midnight - at).total_seconds()
            if left <= room:
                return at + timedelta(seconds=left)
            left -= room
        at = next_midnight
    raise ValueError("no working days in the calendar for ten years")
