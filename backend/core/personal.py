"""How personal data is shown where the full value is not needed: a masked name, an age
instead of a birth date. (ID numbers have their own mask, in backend.people.idnumbers.)"""

from __future__ import annotations

from datetime import date

from django.utils import timezone


def mask_name(name: str) -> str:
    """The first character, then one star per character left: 张桂英 -> 张**."""
    return name[:1] + "*" * (len(name) - 1)


def age_on(birth_date: date, day: date | None = None) -> int:
    """Full years on `day` (today, local time, by default)."""
    day = day or timezone.localdate()
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))
