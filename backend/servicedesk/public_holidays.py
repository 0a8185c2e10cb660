"""The Chinese public-holiday calendar from the chinese-calendar package, as CalendarDay rows.

The State Council publishes each year's holidays and make-up working days (调休) in the late
autumn before; a new package release carries them. `manage.py load_holidays` adds what the
installed release knows; the district administrator can also edit the rows in the admin.
"""

from __future__ import annotations

from datetime import date

import chinese_calendar


def calendar_rows(since: date | None = None) -> list[tuple[date, bool, str]]:
    """(date, is_workday, name) for holidays on weekdays and make-up days on weekends."""
    since = since or date(2020, 1, 1)
    out: list[tuple[date, bool, str]] = []
    for day, name in sorted(chinese_calendar.holidays.items()):
        if day >= since and day.weekday() < 5:
            out.append((day, False, _name(name)))
    for day, name in sorted(chinese_calendar.workdays.items()):
        if day >= since and day.weekday() >= 5:
            out.append((day, True, f"{_name(name)} 调休上班"))
    return sorted(out)


_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


def _name(value: object) -> str:
    english = str(value)
    return _NAMES.get(english, english)[:60]
