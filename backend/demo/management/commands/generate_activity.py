"""manage.py generate_activity: a year of synthetic work for the loaded synthetic district."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from backend.demo import synthetic
from backend.demo.activity import answer_panel, generate_year
from backend.territory.models import District


class Command(BaseCommand):
    help = (
        "Load a year of visits, emergencies, cases, ratings and follow-ups (some late, some "
        "flagged) for the synthetic district (run generate_district first)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, default=None, help="default: this year")
        parser.add_argument("--seed", type=int, default=20100801)

    def handle(self, *args: Any, **options: Any) -> None:
        district = District.objects.filter(code=synthetic.DISTRICT_CODE).first()
        if district is None:
            raise CommandError("no synthetic district: run manage.py generate_district first")
        year = options["year"] or timezone.localdate().year
        started = time.monotonic()
        activity = generate_year(district=district, year=year, seed=options["seed"])
        activity.counts["panel"] = answer_panel(district=district, year=year, seed=options["seed"])
        for name, count in activity.counts.items():
            self.stdout.write(f"{name:>20}: {count:,}")
        self.stdout.write(
            self.style.SUCCESS(f"{year} loaded in {time.monotonic() - started:.1f} s")
        )
