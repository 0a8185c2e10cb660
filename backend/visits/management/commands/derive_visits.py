"""Run the daily visit derivation now (the dispatcher runs it every day at 05:00)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backend.visits.actions import derive_due_visits


class Command(BaseCommand):
    help = "Derive due and overdue visit tasks from the visit rules (safe to run twice)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=date.fromisoformat, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        totals = derive_due_visits(today=options["date"])
        self.stdout.write(" ".join(f"{k}={v}" for k, v in totals.items()))
