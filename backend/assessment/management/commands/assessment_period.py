"""manage.py assessment_period: run a period's process from the command line (the Django admin
has the same steps as actions on *Periods*)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts.models import User
from backend.assessment import actions
from backend.assessment.models import Period, Scheme
from backend.core.errors import ApiError, message

STEPS = ("open", "compute", "self_review", "scoring", "publish", "freeze")


class Command(BaseCommand):
    help = "Open a scheme's period (computes the draft), recompute it, or move it on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("step", choices=STEPS)
        parser.add_argument("--scheme", type=int, required=True, help="scheme id")
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--quarter", type=int, default=0, help="1-4, or 0 for the year")
        parser.add_argument("--by", required=True, help="the district administrator's phone")
        parser.add_argument("--days", type=int, default=actions.PUBLISH_DAYS, help="公示 days")

    def handle(self, *args: Any, **o: Any) -> None:
        by = User.objects.filter(phone=o["by"]).first()
        scheme = Scheme.objects.filter(pk=o["scheme"]).first()
        if by is None or scheme is None:
            raise CommandError("no such user or scheme")
        try:
            if o["step"] == "open":
                period = actions.do_open_period(
                    scheme=scheme, year=o["year"], quarter=o["quarter"], by=by
                )
            else:
                period = self._step(o, scheme, by)
        except ApiError as exc:
            raise CommandError(f"{exc.code}: {message(exc.code)}") from exc
        self.stdout.write(f"{period}: {period.state}, {period.scorecards.count()} scorecards")

    def _step(self, o: dict[str, Any], scheme: Scheme, by: User) -> Period:
        period = Period.objects.filter(scheme=scheme, year=o["year"], quarter=o["quarter"]).first()
        if period is None:
            raise CommandError("no such period: open it first")
        if o["step"] == "compute":
            return actions.do_compute_period(period_id=period.pk, by=by)
        if o["step"] == "freeze":
            return actions.do_freeze(period_id=period.pk, by=by)
        to = "publish" if o["step"] == "publish" else o["step"]
        return actions.do_advance(period_id=period.pk, by=by, to=to, days=o["days"])
