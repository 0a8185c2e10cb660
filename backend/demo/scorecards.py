"""Demo assessment for `seed_demo`: a year of activity, the sample schemes, and the finished
quarters of the year assessed — the first frozen and signed off, the next published, the
last a computed draft — plus the year so far, so `make run` shows real scorecards."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from backend.accounts.models import User
from backend.assessment import actions
from backend.assessment.models import Period
from backend.assessment.samples import do_create_sample_schemes
from backend.territory.models import District

from .activity import Activity, answer_panel, generate_year


def seed_assessment(*, district: District, admin: User, today: date, seed: int) -> Activity:
    activity = generate_year(district=district, year=today.year, seed=seed)
    activity.counts["panel"] = answer_panel(district=district, year=today.year, seed=seed)
    finished = (today.month - 1) // 3  # quarters of this year already over
    for scheme in do_create_sample_schemes(district=district):
        periods = [
            actions.do_open_period(scheme=scheme, year=today.year, quarter=q, by=admin)
            for q in range(1, finished + 1)
        ]
        actions.do_open_period(scheme=scheme, year=today.year, quarter=0, by=admin)
        for n, period in enumerate(periods):
            _advance(period, admin, frozen=n < len(periods) - 2, published=n < len(periods) - 1)
    return activity


def _advance(period: Period, admin: User, *, frozen: bool, published: bool) -> None:
    if not published:
        return
    for step in ("self_review", "scoring", "publish"):
        actions.do_advance(period_id=period.pk, by=admin, to=step)
    if frozen:
        period.refresh_from_db()
        later = (period.publish_until or timezone.now()) + timedelta(seconds=1)
        actions.do_freeze(period_id=period.pk, by=admin, now=later)
