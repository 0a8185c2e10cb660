"""Computing a period is set-based: the same number of statements for 2 workers or 8 (one
grouped aggregate per indicator, two for a percentile), not one per worker or per record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.accounts.models import GridAssignment, Role, User
from backend.assessment.compute import do_compute
from backend.assessment.models import Indicator
from backend.territory.models import Grid

from .fixtures import T0, household, square, visit

pytestmark = pytest.mark.django_db


def statements(period: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        do_compute(period)
    return len(ctx.captured_queries)


def test_statements_do_not_grow_with_workers_or_records(quarter: Any) -> None:
    Indicator.objects.create(
        group=quarter.scheme.groups.first(), code="b_tier1_ack_p90", target=60, floor=600
    )
    small = statements(quarter.period)
    for n in range(6):
        grid = Grid.objects.create(
            community=quarter.c1, code=f"X{n}", name=f"X{n}", boundary=square(117.9 + n / 100)
        )
        worker = User.objects.create_user(f"1320000000{n}", name=f"w{n}", role=Role.WORKER)
        GridAssignment.objects.create(user=worker, grid=grid)
        for k in range(3):
            visit(worker, household(grid, f"X{n}-{k}", 117.9 + n / 100), T0 + timedelta(hours=k))
    do_compute(quarter.period)  # the new workers' cards are created once
    assert statements(quarter.period) == small
    assert quarter.period.scorecards.count() == 8
    # 5 indicators (one a percentile) + the subjects, the indicators, the cards, the manual
    # points (2), and the writes
    assert small <= 5 + 1 + 8
