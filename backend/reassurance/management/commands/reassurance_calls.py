"""Place this week's reassurance calls now (the dispatcher does it every Monday at 00:10)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backend.reassurance.actions import do_place_weekly_calls
from backend.territory.models import Community


class Command(BaseCommand):
    help = "Place this week's reassurance calls (safe to run twice: one call a resident a week)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--community", type=int, action="append", help="community id")

    def handle(self, *args: Any, **options: Any) -> None:
        ids = options["community"] or list(
            Community.objects.order_by("pk").values_list("pk", flat=True)
        )
        totals = {"placed": 0, "bad_phone": 0}
        for community_id in ids:
            for name, n in do_place_weekly_calls(community_id=community_id).items():
                totals[name] += n
        self.stdout.write(" ".join(f"{k}={v}" for k, v in totals.items()))
