"""manage.py generate_district: load the synthetic Tongguanshan-scale district."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.demo import synthetic


class Command(BaseCommand):
    help = (
        "Load a deterministic synthetic district (18 communities, 359 grids, ~107,000 households, "
        "~300,000 residents, staff with AB posts and today's duty shifts). Refuses if the district "
        "already exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--communities",
            type=int,
            default=synthetic.FULL_COMMUNITIES,
            help=f"how many communities to load (1-{synthetic.FULL_COMMUNITIES}, default all)",
        )
        parser.add_argument("--seed", type=int, default=20100801, help="random seed")
        parser.add_argument(
            "--password", default="gridline-demo", help="the password every staff account shares"
        )
        parser.add_argument(
            "--day",
            type=date.fromisoformat,
            default=None,
            help="YYYY-MM-DD: ages are counted and 08:00-20:00 duty shifts set on this day "
            "(default today, Asia/Shanghai)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = synthetic.generate_district(
                password=options["password"],
                seed=options["seed"],
                communities=options["communities"],
                day=options["day"],
                progress=(lambda line: self.stdout.write(line))
                if options["verbosity"] > 1
                else None,
            )
        except synthetic.SyntheticError as exc:
            raise CommandError(str(exc)) from exc
        for name, count in result.counts.items():
            self.stdout.write(f"{name:>20}: {count:,}")
        self.stdout.write(
            self.style.SUCCESS(
                f"district {result.district.code} {result.district.name} loaded "
                f"in {result.seconds:.1f} s"
            )
        )
