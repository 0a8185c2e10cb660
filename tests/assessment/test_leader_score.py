"""The leader's qualitative score (领导评价): 0-100 with a reason, by a supervisor of the card's
community or a district administrator, during scoring; combined into the total by the scheme's
`leader_weight`; once per card, a change is the next version (the earlier one kept, every
version a process step); its author is a scorer and may not decide an appeal of the card."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.assessment import actions, compute
from backend.assessment.models import LeaderScore, ProcessStep, Scheme, Scorecard
from backend.core.errors import ApiError
from tests.admin_login import admin_client_for
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
WEIGHT = 20.0  # % of the total


@pytest.fixture
def scoring(quarter: Any) -> Any:
    """The hand-built quarter with a 20 % leader's part, in scoring."""
    Scheme.objects.filter(pk=quarter.scheme.pk).update(leader_weight=WEIGHT)
    actions.do_advance(period_id=quarter.period.pk, by=quarter.admin, to="self_review")
    actions.do_advance(period_id=quarter.period.pk, by=quarter.admin, to="scoring")
    quarter.card = Scorecard.objects.get(period=quarter.period, user=quarter.worker_a)
    return quarter


def card(q: Any) -> Scorecard:
    return Scorecard.objects.get(pk=q.card.pk)


def test_the_leader_score_goes_into_the_total_by_the_scheme_weight(scoring: Any) -> None:
    base = scoring.card.base
    assert scoring.card.total == base  # not scored yet: the indicators alone
    made = actions.do_leader_score(
        user=scoring.supervisor_1, card_id=scoring.card.pk, score=50, reason="群众口碑一般"
    )
    assert (made.version, made.score, made.by) == (1, 50, scoring.supervisor_1)
    after = card(scoring)
    assert after.leader == 50
    assert after.total == pytest.approx(round(base * 0.8 + 50 * 0.2, 2))
    assert after.grade == compute.grade(scoring.scheme.grade_bands, after.total)
    step = ProcessStep.objects.get(kind="leader_score")
    assert step.actor == scoring.supervisor_1 and step.scorecard_id == scoring.card.pk
    assert step.data == {"version": 1, "score": 50, "previous": None, "reason": "群众口碑一般"}
    # the manual points come on top; a recomputation keeps the leader's score
    actions.do_adjust(user=scoring.admin, card_id=scoring.card.pk, points=3, reason="抢险")
    actions.do_compute_period(period_id=scoring.period.pk, by=scoring.admin)
    after = card(scoring)
    assert after.leader == 50
    assert after.total == pytest.approx(round(base * 0.8 + 50 * 0.2 + 3, 2))


def test_once_per_card_and_a_change_is_the_next_version(scoring: Any) -> None:
    c = scoring.card.pk
    actions.do_leader_score(user=scoring.supervisor_1, card_id=c, score=70, reason="初评")
    before = card(scoring).total
    with pytest.raises(ApiError) as twice:  # a second score without naming the first
        actions.do_leader_score(user=scoring.admin, card_id=c, score=95, reason="再评")
    assert (twice.value.code, twice.value.status) == ("leader_score_exists", 409)
    with pytest.raises(ApiError) as stale:  # naming a version that is not the current one
        actions.do_leader_score(user=scoring.admin, card_id=c, score=95, reason="再评", replaces=2)
    assert stale.value.code == "leader_score_stale"
    assert LeaderScore.objects.count() == 1 and card(scoring).total == before
    changed = actions.do_leader_score(
        user=scoring.admin, card_id=c, score=90, reason="复核后上调", replaces=1
    )
    assert changed.version == 2
    assert list(LeaderScore.objects.values_list("version", "score", "by")) == [
        (1, 70, scoring.supervisor_1.pk),
        (2, 90, scoring.admin.pk),
    ]
    after = card(scoring)
    assert after.leader == 90
    assert after.total == pytest.approx(round(after.base * 0.8 + 90 * 0.2, 2))
    steps = ProcessStep.objects.filter(kind="leader_score").order_by("pk")
    assert [(s.actor_id, s.data["version"], s.data["previous"]) for s in steps] == [
        (scoring.supervisor_1.pk, 1, None),
        (scoring.admin.pk, 2, 70),
    ]


def test_range_reason_role_state_and_scheme_are_checked(scoring: Any) -> None:
    c = scoring.card.pk
    for score, reason, field in ((101, "r", "score"), (-1, "r", "score"), (80, "  ", "reason")):
        with pytest.raises(ApiError) as bad:
            actions.do_leader_score(user=scoring.supervisor_1, card_id=c, score=score,
                                    reason=reason)  # fmt: skip
        assert bad.value.status == 422 and field in (bad.value.fields or {})
    with pytest.raises(ApiError) as own:  # the worker does not score their own card
        actions.do_leader_score(user=scoring.worker_a, card_id=c, score=100, reason="自评满分")
    assert own.value.status == 403
    with pytest.raises(ApiError) as colleague:  # nor sees a colleague's
        actions.do_leader_score(user=scoring.worker_b, card_id=c, score=100, reason="r")
    assert colleague.value.status == 404
    other = User.objects.create_user(
        "13900000077", PASSWORD, name="二社区督导", role=Role.SUPERVISOR, community=scoring.c2
    )
    with pytest.raises(ApiError) as elsewhere:  # another community's supervisor: 404
        actions.do_leader_score(user=other, card_id=c, score=100, reason="r")
    assert elsewhere.value.status == 404
    assert not LeaderScore.objects.exists()
    actions.do_advance(period_id=scoring.period.pk, by=scoring.admin, to="publish")
    with pytest.raises(ApiError) as late:  # after scoring
        actions.do_leader_score(user=scoring.supervisor_1, card_id=c, score=80, reason="r")
    assert late.value.code == "period_wrong_state"
    Scheme.objects.filter(pk=scoring.scheme.pk).update(leader_weight=0)
    with pytest.raises(ApiError) as none:
        actions.do_leader_score(user=scoring.supervisor_1, card_id=c, score=80, reason="r")
    assert none.value.code == "leader_score_not_in_scheme"
    assert not LeaderScore.objects.exists()


def test_the_leader_is_a_scorer_and_cannot_decide_the_appeal(scoring: Any) -> None:
    c = scoring.card.pk
    actions.do_leader_score(user=scoring.admin, card_id=c, score=40, reason="走访敷衍")
    actions.do_advance(period_id=scoring.period.pk, by=scoring.admin, to="publish")
    appeal = actions.do_appeal(user=scoring.worker_a, card_id=c, text="领导评价偏低")
    with pytest.raises(ApiError) as exc:
        actions.do_decide_appeal(user=scoring.admin, appeal_id=appeal.pk, change=True, points=5)
    assert exc.value.code == "appeal_reviewer_is_scorer"
    decided = actions.do_decide_appeal(
        user=scoring.supervisor_1, appeal_id=appeal.pk, change=False, note="维持"
    )
    assert decided.decision == "upheld"
    actions.do_freeze(
        period_id=scoring.period.pk, by=scoring.admin, now=timezone.now() + timedelta(days=8)
    )
    with pytest.raises(ApiError) as frozen:
        actions.do_leader_score(user=scoring.admin, card_id=c, score=60, reason="r", replaces=1)
    assert frozen.value.code == "period_frozen"
    assert card(scoring).leader == 40 and LeaderScore.objects.count() == 1


def test_the_api_enters_and_shows_the_versions(scoring: Any, client_for: Any) -> None:
    c = scoring.card.pk
    url = f"/api/v1/assessment/scorecards/{c}/leader-score"
    supervisor = client_for(scoring.supervisor_1)
    out = supervisor.post(url, {"score": 101, "reason": "r"}, HTTP_ACCEPT_LANGUAGE="en")
    assert out.status_code == 422 and out.json()["error"]["code"] == "validation_error"
    made = supervisor.post(url, {"score": 85, "reason": "主动担当"})
    assert made.status_code == 201, made.json()
    assert made.json()["version"] == 1 and made.json()["by_id"] == scoring.supervisor_1.pk
    again = supervisor.post(url, {"score": 86, "reason": "r"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "leader_score_exists"
    assert "已有领导评价" in again.json()["error"]["message"]
    changed = supervisor.post(url, {"score": 88, "reason": "复核", "replaces": 1})
    assert changed.status_code == 201 and changed.json()["version"] == 2
    worker = client_for(scoring.worker_a)
    refused = worker.post(url, {"score": 100, "reason": "r"})
    assert refused.status_code == 403
    body = worker.get(f"/api/v1/assessment/scorecards/{c}").json()
    assert body["leader"] == 88 and body["leader_weight"] == WEIGHT
    assert [(v["version"], v["score"]) for v in body["leader_scores"]] == [(1, 85), (2, 88)]
    assert body["total"] == pytest.approx(round(body["base"] * 0.8 + 88 * 0.2, 2))


def test_the_admin_enters_a_leader_score_through_the_action(scoring: Any) -> None:
    client = admin_client_for(scoring.admin)
    assert client.get("/admin/assessment/leaderscore/").status_code == 200
    add = "/admin/assessment/leaderscore/add/"
    made = client.post(add, {"scorecard": scoring.card.pk, "score": "75", "reason": "年度表现"})
    assert made.status_code == 302, made.content.decode()[:2000]
    score = LeaderScore.objects.get()
    assert (score.version, score.score, score.by) == (1, 75, scoring.admin)
    assert ProcessStep.objects.get(kind="leader_score").actor == scoring.admin
    refused = client.post(add, {"scorecard": scoring.card.pk, "score": "99", "reason": "改"})
    assert refused.status_code == 200 and "已有领导评价" in refused.content.decode()
    assert LeaderScore.objects.count() == 1
    changed = client.post(
        add, {"scorecard": scoring.card.pk, "score": "80", "reason": "改", "replaces": "1"}
    )
    assert changed.status_code == 302
    assert list(LeaderScore.objects.values_list("version", flat=True)) == [1, 2]
    assert card(scoring).leader == 80
    page = client.get(f"/admin/assessment/scheme/{scoring.scheme.pk}/change/")
    assert b"leader_weight" in page.content  # shown (read-only: the scheme is frozen)
