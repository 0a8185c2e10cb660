"""manage.py load_holidays: add the public holidays and make-up working days that the
installed chinese-calendar release knows (existing rows, perhaps edited, are kept)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from backend.servicedesk.models import CalendarDay
from backend.servicedesk.public_holidays import calendar_rows


class Command(BaseCommand):
    help = "Load Chinese public holidays and make-up working days into the SLA calendar."

    def handle(self, *args: Any, **options: Any) -> None:
        added = 0
        for day, is_workday, name in calendar_rows():
            _, created = CalendarDay.objects.get_or_create(
                date=day, defaults={"is_workday": is_workday, "name": name}
            )
            added += created
        self.stdout.write(f"load_holidays: {added} day(s) added")
