"""The process of a period: draft → self-review → scoring → publication → appeal → frozen.
A frozen period refuses every write and nothing changes; the scorer cannot decide an appeal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backend.assessment import actions
from backend.assessment.models import Adjustment, Appeal, Period, ProcessStep, Scheme, Scorecard
from backend.core.errors import ApiError

from .fixtures import jpeg

pytestmark = pytest.mark.django_db


def card_of(q: Any, user: Any) -> Scorecard:
    return Scorecard.objects.get(period=q.period, user=user)


def code(exc: pytest.ExceptionInfo[ApiError]) -> str:
    return exc.value.code


def run_to_publication(q: Any) -> Scorecard:
    card = card_of(q, q.worker_a)
    actions.do_advance(period_id=q.period.pk, by=q.admin, to="self_review")
    actions.do_self_comment(user=q.worker_a, card_id=card.pk, comment="本季度走访有遗漏")
    actions.do_advance(period_id=q.period.pk, by=q.admin, to="scoring")
    actions.do_adjust(
        user=q.supervisor_1, card_id=card.pk, points=5, reason="暴雨夜转移独居老人",
        photo=jpeg(), household_id=q.household_a.pk,
    )  # fmt: skip
    actions.do_advance(period_id=q.period.pk, by=q.admin, to="publish", days=7)
    return card


def test_the_whole_process_is_recorded(quarter: Any) -> None:
    card = run_to_publication(quarter)
    card.refresh_from_db()
    assert card.adjustment == 5 and card.total == pytest.approx(card.base + 5)
    adj = Adjustment.objects.get(scorecard=card)
    assert adj.photo is not None and adj.photo.subject_kind == "assessment_adjustment"
    appeal = actions.do_appeal(user=quarter.worker_a, card_id=card.pk, text="覆盖率漏算了一户")
    decided = actions.do_decide_appeal(
        user=quarter.admin, appeal_id=appeal.pk, change=True, points=2, note="核实"
    )
    assert decided.decision == "changed"
    card.refresh_from_db()
    assert card.total == pytest.approx(card.base + 7)
    later = timezone.now() + timedelta(days=8)
    actions.do_freeze(period_id=quarter.period.pk, by=quarter.admin, now=later)
    kinds = list(ProcessStep.objects.filter(period=quarter.period).values_list("kind", "actor"))
    assert [k for k, _ in kinds] == [
        "open", "compute", "self_review", "self_comment", "scoring", "adjust", "publish",
        "appeal", "decide_appeal", "freeze",
    ]  # fmt: skip
    assert all(actor is not None for _, actor in kinds)
    period = Period.objects.get(pk=quarter.period.pk)
    assert period.signed_off_by == quarter.admin and period.state == "frozen"


def test_a_frozen_period_refuses_every_write_and_nothing_changes(quarter: Any) -> None:
    card = run_to_publication(quarter)
    appeal = Appeal.objects.create(scorecard=card, by=quarter.worker_a, text="x", decision="upheld")
    actions.do_freeze(
        period_id=quarter.period.pk, by=quarter.admin, now=timezone.now() + timedelta(days=8)
    )
    before = (
        list(Scorecard.objects.filter(period=quarter.period).values()),
        list(Adjustment.objects.values()), list(Appeal.objects.values()),
        ProcessStep.objects.count(), Period.objects.filter(pk=quarter.period.pk).values().get(),
    )  # fmt: skip
    p, c = quarter.period.pk, card.pk
    writes = [
        lambda: actions.do_compute_period(period_id=p, by=quarter.admin),
        lambda: actions.do_advance(period_id=p, by=quarter.admin, to="publish"),
        lambda: actions.do_freeze(period_id=p, by=quarter.admin),
        lambda: actions.do_self_comment(user=quarter.worker_a, card_id=c, comment="改"),
        lambda: actions.do_adjust(user=quarter.supervisor_1, card_id=c, points=-3, reason="r"),
        lambda: actions.do_leader_score(user=quarter.supervisor_1, card_id=c, score=50, reason="r"),
        lambda: actions.do_appeal(user=quarter.worker_a, card_id=c, text="再申诉"),
        lambda: actions.do_decide_appeal(user=quarter.admin, appeal_id=appeal.pk, change=False),
    ]
    for write in writes:
        with pytest.raises(ApiError) as exc:
            write()
        assert code(exc) == "period_frozen" and exc.value.status == 409
    after = (
        list(Scorecard.objects.filter(period=quarter.period).values()),
        list(Adjustment.objects.values()), list(Appeal.objects.values()),
        ProcessStep.objects.count(), Period.objects.filter(pk=quarter.period.pk).values().get(),
    )  # fmt: skip
    assert after == before


def test_an_appeal_decided_by_the_scorer_is_refused(quarter: Any) -> None:
    card = run_to_publication(quarter)  # supervisor_1 adjusted (scored) the card
    appeal = actions.do_appeal(user=quarter.worker_a, card_id=card.pk, text="不认可减分")
    with pytest.raises(ApiError) as exc:
        actions.do_decide_appeal(user=quarter.supervisor_1, appeal_id=appeal.pk, change=False)
    assert code(exc) == "appeal_reviewer_is_scorer"
    assert Appeal.objects.get(pk=appeal.pk).decision == ""
    with pytest.raises(ApiError) as pending:  # and the period cannot be signed off around it
        actions.do_freeze(
            period_id=quarter.period.pk, by=quarter.admin, now=timezone.now() + timedelta(days=8)
        )
    assert code(pending) == "appeals_pending"


def test_steps_out_of_order_and_by_the_wrong_people_are_refused(quarter: Any) -> None:
    card = card_of(quarter, quarter.worker_a)
    other = card_of(quarter, quarter.worker_b)
    with pytest.raises(ApiError) as exc:  # appeals wait for the publication
        actions.do_appeal(user=quarter.worker_a, card_id=card.pk, text="x")
    assert code(exc) == "period_wrong_state"
    with pytest.raises(ApiError) as exc:  # a worker does not move the period
        actions.do_advance(period_id=quarter.period.pk, by=quarter.worker_a, to="self_review")
    assert exc.value.status == 403
    with pytest.raises(ApiError) as exc:  # nor sees a colleague's card
        actions.do_self_comment(user=quarter.worker_a, card_id=other.pk, comment="x")
    assert exc.value.status == 404
    actions.do_advance(period_id=quarter.period.pk, by=quarter.admin, to="self_review")
    actions.do_advance(period_id=quarter.period.pk, by=quarter.admin, to="scoring")
    with pytest.raises(ApiError) as exc:  # no reason, no points
        actions.do_adjust(user=quarter.supervisor_1, card_id=card.pk, points=3, reason=" ")
    assert exc.value.status == 422
    assert not Adjustment.objects.exists()


def test_a_used_scheme_is_frozen_and_an_edit_makes_a_new_version(quarter: Any) -> None:
    scheme = Scheme.objects.get(pk=quarter.scheme.pk)
    assert scheme.frozen
    copy = actions.do_new_version(scheme=scheme)
    assert (copy.version, copy.frozen) == (2, False)
    codes = sorted(copy.groups.values_list("indicators__code", flat=True))
    assert codes == ["b_coverage", "b_fence_pass", "s_follow_up", "s_panel"]


def test_the_year_counts_the_year_only_panel(quarter: Any) -> None:
    year = actions.do_open_period(scheme=quarter.scheme, year=2026, quarter=0, by=quarter.admin)
    card = Scorecard.objects.get(period=year, user=quarter.worker_a)
    assert card.indicators["s_panel"]["value"] == 100.0
    assert card.indicators["b_coverage"]["counted"] == 3
