"""Each indicator on the hand-built quarter (tests/assessment/fixtures.py), with the answers
worked out by hand there, including what the anti-gaming rules exclude."""

from __future__ import annotations

from typing import Any

import pytest

from backend.assessment.actions import period_bounds
from backend.assessment.compute import aggregate
from backend.assessment.indicators import SPECS, Window
from backend.assessment.models import Scorecard
from tests.conftest import World

from .fixtures import build

pytestmark = pytest.mark.django_db


@pytest.fixture
def q3(world: World) -> World:
    build(world)
    return world


def figures(w: World, code: str, subject: str) -> dict[int, Any]:
    start, end = period_bounds(2026, 3)
    return aggregate(SPECS[code], Window(w.district.pk, start, end, subject))


def test_b_post_coverage_and_fence_with_exclusions(q3: World) -> None:
    cov = figures(q3, "b_coverage", "worker")
    assert (cov[q3.worker_a.pk].counted, cov[q3.worker_a.pk].hits) == (3, 1)
    assert cov[q3.worker_b.pk].value == 1.0
    assert figures(q3, "b_coverage", "community")[q3.c1.pk].value == 0.5
    fence = figures(q3, "b_fence_pass", "worker")[q3.worker_a.pk]
    assert (fence.counted, fence.value) == (2, 0.5)
    assert fence.excluded == {"visit_no_photo": 1, "visit_flagged": 1}


def test_b_post_schedules_follow_ups_and_findings(q3: World) -> None:
    vul = figures(q3, "b_vulnerable_on_schedule", "worker")
    assert vul[q3.worker_a.pk].value == 1.0 and vul[q3.worker_b.pk].value == 0.0
    assert figures(q3, "b_vulnerable_on_schedule", "community")[q3.c1.pk].value == 0.5
    assert figures(q3, "b_alert_follow_up_24h", "worker")[q3.worker_a.pk].value == 0.5
    assert figures(q3, "b_findings_followed", "worker")[q3.worker_a.pk].value == 0.5


def test_b_post_alert_times(q3: World) -> None:
    assert figures(q3, "b_tier1_ack_p50", "worker")[q3.worker_a.pk].value == pytest.approx(90)
    assert figures(q3, "b_tier1_ack_p90", "worker")[q3.worker_a.pk].value == pytest.approx(2898)
    assert figures(q3, "b_accept_p50", "worker")[q3.worker_a.pk].value == pytest.approx(70)
    assert figures(q3, "b_accept_p90", "worker")[q3.worker_a.pk].value == pytest.approx(94)
    answered = figures(q3, "c_alert_answered", "community")[q3.c1.pk]
    assert (answered.counted, answered.hits) == (3, 1)


def test_a_post_cases_with_self_approved_and_duplicates_excluded(q3: World) -> None:
    officer = q3.officer_elderly_1.pk
    handled = figures(q3, "a_cases_handled", "officer")[officer]
    assert handled.value == 2
    assert handled.excluded == {"case_self_approved": 1, "case_duplicate": 1}
    assert figures(q3, "a_on_time", "officer")[officer].value == 0.5
    assert figures(q3, "a_material_requests", "officer")[officer].value == 0.5
    assert figures(q3, "a_rework", "officer")[officer].value == 0.5
    assert figures(q3, "a_bounces", "officer")[officer].value == 1
    rating = figures(q3, "a_rating", "officer")[officer]
    assert (rating.value, rating.excluded) == (100.0, {"rating_own_phone": 1})


def test_satisfaction_excludes_refusals_and_the_workers_own_phone(q3: World) -> None:
    fu = figures(q3, "s_follow_up", "worker")[q3.worker_a.pk]
    assert (fu.counted, fu.value) == (1, 80.0)
    assert fu.excluded == {"follow_up_declined": 1, "rating_own_phone": 1}
    assert figures(q3, "s_panel", "worker")[q3.worker_a.pk].value == 100.0
    assert figures(q3, "s_follow_up", "community")[q3.c1.pk].value == 80.0


def test_the_cards_of_the_quarter(quarter: Any) -> None:
    cards = {c.user_id: c for c in Scorecard.objects.filter(period=quarter.period)}
    assert set(cards) == {quarter.worker_a.pk, quarter.worker_b.pk}
    a = cards[quarter.worker_a.pk]
    # B post: coverage 33.33 and fence 50 -> 41.665; satisfaction 80 (the panel is year-only)
    assert a.indicators["b_coverage"]["points"] == pytest.approx(33.33)
    assert "s_panel" not in a.indicators
    assert a.base == pytest.approx((60 * (33.33 + 50) / 2 + 40 * 80) / 100, abs=0.01)
    assert (a.grade, a.rank) == ("不合格", 2)
    assert a.exclusions == {
        "visit_no_photo": 1, "visit_flagged": 1, "follow_up_declined": 1, "rating_own_phone": 1,
    }  # fmt: skip
    b = cards[quarter.worker_b.pk]
    # no follow-ups: satisfaction has no data and its weight goes to the rest
    assert (b.base, b.grade, b.rank) == (100.0, "优秀", 1)
